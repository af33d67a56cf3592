import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// The first SIGTERM/SIGINT says what is being finished; a second one soon
/// after stops at once, the message in hand left leased: nothing is lost.
@Suite("Stop signals")
struct SignalTests {
    @Test func aSecondSignalStopsNowAndTheMessageInHandStaysLeased() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        #expect(try FundqProcess.run(["queue", "push", "crm"] + flags, stdin: #"{"n":1}"#).status == 0)
        let started = dir.file("started")
        let command = "touch \(started); sleep 20"
        let pop = try FundqProcess.spawn(["queue", "pop", "crm", "--wait", "--lease", "10m", "--exec", command] + flags, outputIn: dir)
        // The command has the message once it has created the file.
        while !FileManager.default.fileExists(atPath: started) && pop.process.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        pop.send(SIGTERM)
        pop.send(SIGINT)
        let r = pop.wait()
        #expect(r.status == 130, "\(r.stderr)")
        #expect(r.stderr.contains("fundq: stopping: finishing the message in hand first"), "\(r.stderr)")
        #expect(r.stderr.contains("fundq: second signal: stopping now"), "\(r.stderr)")
        let stats = try FundqProcess.run(["queue", "stats", "crm", "--json"] + flags)
        guard case .array(let rows) = try JSONParser().parse(stats.stdout), let row = rows.first?.objectValue else {
            Issue.record("stats printed \(stats.stdout)")
            return
        }
        #expect(row["in_flight"] == .number("1") && row["waiting"] == .number("0") && row["damaged"] == .number("0"), "\(row)")
    }
}

/// Long work reports its progress: off a terminal, a plain line per interval.
@Suite("Progress lines")
struct ProgressTests {
    @Test func consumeReportsDoneOfTotalWithRate() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        let lines = (1...250).map { #"{"gateway":"paypal","gateway_txn_id":"p-\#($0)","currency":"EUR","gross":"1.00"}"# }
        #expect(try FundqProcess.run(["queue", "push", "donations", "--lines"] + flags, stdin: lines.joined(separator: "\n")).status == 0)
        let r = try FundqProcess.run(["consume", "donations", "--batch", "100"] + flags, environment: ["FUNDQ_PROGRESS_INTERVAL": "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let progress = r.stderr.split(separator: "\n").filter { $0.hasPrefix("consume donations: ") && $0.contains("/250 (") }
        #expect(progress.map { $0.components(separatedBy: " (")[0] }
            == ["consume donations: 100/250", "consume donations: 200/250", "consume donations: 250/250"], "\(r.stderr)")
        #expect(progress.first?.contains("(40%), ") == true && progress.first?.contains("/s, ETA ") == true, "\(r.stderr)")
    }

    /// The progress lines of `stderr` that start with `what: ` and count to `total`, cut at " (".
    static func counts(_ stderr: String, _ what: String, total: Int) -> [String] {
        stderr.split(separator: "\n").filter { $0.hasPrefix(what + ": ") && $0.contains("/\(total) (") }
            .map { String($0.dropFirst(what.count + 2).prefix { $0 != " " }) }
    }

    @Test func queuePushLinesReportsTheMessagesChecked() throws {
        let dir = try TemporaryDirectory()
        let lines = (1...250).map { #"{"gateway":"paypal","gateway_txn_id":"p-\#($0)","currency":"EUR","gross":"1.00"}"# }
        let r = try FundqProcess.run(["queue", "push", "donations", "--lines", "--data-dir", dir.path],
                                     stdin: lines.joined(separator: "\n"), environment: ["FUNDQ_PROGRESS_INTERVAL": "0"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Self.counts(r.stderr, "queue push donations, checking", total: 250) == (1...250).map { "\($0)/250" }, "\(r.stderr)")
        #expect(r.stderr.contains("queue push donations, checking: 100/250 (40%), "), "\(r.stderr)")
    }

    @Test func requeueDamagedReportsTheDueMessagesRequeued() throws {
        let f = try DatabaseFixture(.sqlite)
        let storage = try Storage(f.configuration)
        let now = Date()
        func damaged(_ order: String, retry: TimeInterval) -> DamagedMessage {
            DamagedMessage(originalDate: now, damagedDate: now, retryDate: now.addingTimeInterval(retry), originalQueue: "donations",
                           gateway: "paypal", orderID: order, gatewayTxnID: nil, error: "refused", trace: nil,
                           message: Array(#"{"n":1}"#.utf8))
        }
        for i in 0..<130 { _ = try storage.damaged.insert(damaged("d-\(i)", retry: -60)) }
        _ = try storage.damaged.insert(damaged("later", retry: 3600))
        let r = try FundqProcess.run(["jobs", "requeue-damaged", "--limit", "100"] + f.flags, environment: ["FUNDQ_PROGRESS_INTERVAL": "0"])
        #expect(r.status == 0 && r.stderr.contains("requeue-damaged: 100 messages requeued"), "\(r.stderr)")
        #expect(Self.counts(r.stderr, "requeue-damaged", total: 100) == (1...100).map { "\($0)/100" }, "\(r.stderr)")
        let rest = try FundqProcess.run(["jobs", "requeue-damaged"] + f.flags, environment: ["FUNDQ_PROGRESS_INTERVAL": "0"])
        #expect(Self.counts(rest.stderr, "requeue-damaged", total: 30) == (1...30).map { "\($0)/30" }, "the one not due is not counted")
    }
}
