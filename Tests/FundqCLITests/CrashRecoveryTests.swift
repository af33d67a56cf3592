import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// Consumers as real child processes: killed with SIGKILL mid-handler,
/// stopped with SIGTERM, and running four at once.
@Suite("Crashes and concurrent consumer processes")
struct CrashRecoveryTests {
    @Test(arguments: QueueBackendKind.allCases)
    func consumerKilledMidHandlerIsRedeliveredAfterTheLease(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let q = f.queueName
        #expect(try FundqProcess.run(["queue", "push", q] + f.flags, stdin: #"{"order_id":"crash-1"}"#).status == 0)
        let got = f.directory.file("got")
        let pidFile = f.directory.file("handler.pid")
        let consumer = try FundqProcess.spawn(
            ["queue", "pop", q, "--lease", "3", "--exec-timeout", "2.9", "--exec", "echo $$ > \(pidFile); cat > \(got); sleep 60"]
                + f.flags,
            outputIn: f.directory)
        #expect(eventually {
            FileManager.default.fileExists(atPath: got) && ((try? String(contentsOfFile: got, encoding: .utf8)) ?? "").contains("crash-1")
        })
        consumer.send(SIGKILL)
        _ = consumer.wait()
        if let pid = Int32(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
        // The message exists somewhere at every instant: in flight now…
        let s = try f.open()
        let during = try s.queue.stats(q)
        #expect(during.waiting + during.inFlight == 1)
        // …and handed out again, once, when the lease has expired.
        #expect(eventually(timeout: 10) { (try? s.queue.stats(q).waiting) == 1 })
        let r = try FundqProcess.run(["queue", "pop", q, "--exec", "cat; echo \" delivery=$FUNDQ_DELIVERY\""] + f.flags)
        #expect(r.status == 0)
        #expect(r.lines.count == 1)
        #expect(r.lines.first?.contains("crash-1") == true)
        #expect(r.lines.first?.hasSuffix("delivery=2") == true)
        let after = try s.queue.stats(q)
        #expect(after.waiting == 0 && after.inFlight == 0)
        #expect(try s.damaged.count(queue: q) == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func sigtermFinishesTheMessageInHandThenExitsZero(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let q = f.queueName
        let input = (1...3).map { #"{"n":\#($0)}"# }.joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", q, "--lines"] + f.flags, stdin: input).status == 0)
        let started = f.directory.file("started")
        let consumer = try FundqProcess.spawn(
            ["queue", "pop", q, "--wait", "--exec", "cat > /dev/null; touch \(started); sleep 1"] + f.flags,
            outputIn: f.directory)
        #expect(eventually { FileManager.default.fileExists(atPath: started) })
        consumer.send(SIGTERM)
        let r = consumer.wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("popped 1 message from \(q): 1 acknowledged, 0 damaged"))
        let stats = try f.open().queue.stats(q)
        #expect(stats.waiting == 2 && stats.inFlight == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func fourConsumerProcessesShareTheQueueWithoutLossOrDuplicates(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let q = f.queueName
        let total = 2_000
        let configuration = f.configuration
        let consumers = try (0..<4).map { i in
            try FundqProcess.spawn(["queue", "pop", q, "--wait", "--idle-timeout", "6", "--batch", i == 0 ? "1" : "20"] + f.flags,
                                   outputIn: f.directory)
        }
        // Four producer threads push one message at a time while the consumers run.
        try runOnThreads(4) { p, _ in
            let producer = QueueProducer(queue: try Storage(configuration).queue)
            for i in 0..<(total / 4) { try producer.push(#"{"id":"\#(p)-\#(i)"}"#, to: q) }
        }
        var seen: [String: Int] = [:]
        for consumer in consumers {
            let r = consumer.wait()
            #expect(r.status == 0, "\(r.stderr)")
            for line in r.lines {
                let id = try #require(try JSONParser().parse(line).objectValue?["id"]?.scalarText)
                seen[id, default: 0] += 1
            }
        }
        #expect(seen.count == total)
        #expect(seen.values.allSatisfy { $0 == 1 })
        let stats = try f.open().queue.stats(q)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }
}
