import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// `fundq status`: heartbeats of real daemon processes, and `--check` thresholds.
@Suite("fundq status")
struct StatusCommandTests {
    /// The registered processes in `fundq status --json`.
    static func processes(_ flags: [String]) throws -> [[String: JSONValue]] {
        let r = try FundqProcess.run(["status", "--json"] + flags)
        guard r.status == 0, case .object(let status)? = try? JSONParser().parse(Array(r.stdout.utf8)),
              case .array(let list)? = status["processes"] else { return [] }
        return list.compactMap(\.objectValue)
    }

    static func array(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { return items }
        return []
    }

    static func entry(_ flags: [String], pid: Int32) throws -> [String: JSONValue]? {
        try processes(flags).first { $0["pid"] == .number(String(pid)) }
    }

    @Test(arguments: DatabaseKind.allCases)
    func aSigkilledDaemonShowsAsDeadAndACleanStopLeavesNoRow(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let daemon = try FundqProcess.spawn(["consume", "pending", "--daemon", "--heartbeat-interval", "0.5"] + f.flags,
                                            outputIn: f.directory)
        // Registered at start; its loop's state comes with the next heartbeat.
        #expect(eventually { (try? Self.entry(f.flags, pid: daemon.pid))??["doing"] == .string("waiting for messages on pending") })
        let alive = try #require(try Self.entry(f.flags, pid: daemon.pid))
        #expect(alive["role"] == .string("consume-pending"))
        #expect(alive["alive"] == .bool(true))
        // The check passes while it lives…
        #expect(try FundqProcess.run(["status", "--check", "--max-dead-processes", "0"] + f.flags).status == 0)
        daemon.send(SIGKILL)
        _ = daemon.wait()
        // …its row stays, and goes stale: dead after three missed heartbeats.
        #expect(eventually { (try? Self.entry(f.flags, pid: daemon.pid))??["alive"] == .bool(false) })
        let check = try FundqProcess.run(["status", "--check", "--max-dead-processes", "0"] + f.flags)
        #expect(check.status == 1)
        #expect(check.stdout.contains("CROSSED processes: 1 dead (limit 0): consume-pending pid \(daemon.pid)"), "\(check.stdout)")
        #expect(try FundqProcess.run(["status"] + f.flags).stdout.contains("DEAD"))

        // A daemon stopped with SIGTERM removes its own row.
        let job = try FundqProcess.spawn(["jobs", "requeue-damaged", "--daemon", "--interval", "0.2", "--heartbeat-interval", "0.5"]
                                         + f.flags, outputIn: f.directory)
        #expect(eventually { (try? Self.entry(f.flags, pid: job.pid))??["role"] == .string("jobs-requeue-damaged") })
        #expect(eventually {
            ((try? Self.entry(f.flags, pid: job.pid))??["counters"]?.objectValue?["runs"]).map { $0 != .number("0") } ?? false
        })
        job.send(SIGTERM)
        #expect(job.wait().status == 0)
        #expect(try Self.entry(f.flags, pid: job.pid) == nil)
        #expect(try Self.entry(f.flags, pid: daemon.pid) != nil)
    }

    @Test(arguments: DatabaseKind.allCases)
    func checkNamesEachThresholdCrossedFromFlagsAndTheConfigurationFile(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let stores = try Storage(f.configuration)
        try stores.queue.append([Array(#"{"n":1}"#.utf8), Array(#"{"n":2}"#.utf8)], to: "donations")
        for n in 1...3 {
            _ = try stores.damaged.insert(DamagedMessage(originalDate: Date(), damagedDate: Date(), retryDate: nil,
                                                         originalQueue: "refund",
                                                         gateway: nil, orderID: nil, gatewayTxnID: nil, error: "bad \(n)", trace: nil,
                                                         message: Array(#"{"n":\#(n)}"#.utf8)))
        }
        let pending = PendingStore(connection: stores.database)
        for n in 1...2 {
            _ = try pending.store(try PendingMessage(members: try #require(try JSONParser().parse(
                #"{"gateway":"paypal","order_id":"o\#(n)","date":1700000000}"#).objectValue)))
        }
        let review = try #require(try pending.fetch(gateway: "paypal", orderID: "o1"))
        #expect(try pending.markNeedsReview(id: review.id, reason: "two answers disagree"))

        let status = try FundqProcess.run(["status", "--json"] + f.flags)
        #expect(status.status == 0, "\(status.stderr)")
        let object = try #require(try JSONParser().parse(Array(status.stdout.utf8)).objectValue)
        let queues = Self.array(object["queues"]).compactMap(\.objectValue)
        #expect(queues.first { $0["queue"] == .string("donations") }?["waiting"] == .number("2"))
        #expect(queues.first { $0["queue"] == .string("refund") }?["damaged"] == .number("3"))
        let paypal = Self.array(object["pending"]).first?.objectValue
        #expect(paypal?["open"] == .number("2") && paypal?["needs_review"] == .number("1") && paypal?["due_now"] == .number("1"))
        #expect(object["schema_version"] == .number(String(SchemaMigrator.currentVersion)))
        // The database's size: a total and the largest tables (the pending and damaged rows above take pages).
        let storage = try #require(object["storage"]?.objectValue)
        let largest = Self.array(storage["largest"]).compactMap(\.objectValue)
        #expect(largest.count == 3 && largest.allSatisfy { $0["table"]?.scalarText != nil })
        let total = Int(try #require(storage["total_bytes"]?.scalarText))
        #expect((total ?? 0) >= largest.compactMap { Int($0["bytes"]?.scalarText ?? "") }.reduce(0, +))
        #expect((storage["file_bytes"] == .null) == (kind == .mariadb), "the embedded file's size, for SQLite only")
        let text = try FundqProcess.run(["status"] + f.flags)
        #expect(text.stdout.contains("STORAGE ") && text.stdout.contains("largest: "), "\(text.stdout)")

        // Under every limit: exit 0.
        let held = try FundqProcess.run(["status", "--check", "--max-damaged", "3", "--max-needs-review", "1"] + f.flags)
        #expect(held.status == 0, "\(held.stdout)")
        #expect(held.stdout.contains("every threshold held"))
        // Each crossed limit named.
        let crossed = try FundqProcess.run(["status", "--check", "--max-damaged", "2", "--max-needs-review", "0", "--max-oldest-age", "0s",
                                            "--require-rectifier"] + f.flags)
        #expect(crossed.status == 1)
        #expect(crossed.stdout.contains("CROSSED damaged: 3 messages (limit 2)"))
        #expect(crossed.stdout.contains("CROSSED pending: 1 rows need review (limit 0)"))
        #expect(crossed.stdout.contains("CROSSED queue donations: oldest message is"))
        #expect(crossed.stdout.contains("CROSSED rectifier: no live rectifier heartbeat"))
        #expect(!crossed.stdout.contains("CROSSED queue refund"))
        // The same from a fundq.yaml status: section; a flag overrides the file.
        let yaml = f.directory.file("fundq.yaml")
        try "status:\n  max_damaged: 2\n  max_oldest_open: 1h\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        let fromFile = try FundqProcess.run(["status", "--check", "--config", yaml] + f.flags)
        #expect(fromFile.status == 1)
        #expect(fromFile.stdout.contains("CROSSED damaged: 3 messages (limit 2)"))
        #expect(fromFile.stdout.contains("CROSSED pending paypal: oldest open row is"))
        #expect(try FundqProcess.run(["status", "--check", "--config", yaml, "--max-damaged", "5", "--max-oldest-open", "9999d"] + f.flags)
            .status == 0)
        // No threshold at all is a usage error, not a silent pass.
        #expect(try FundqProcess.run(["status", "--check"] + f.flags).status == 2)
        try "status:\n  max_damagd: 2\n".write(toFile: yaml, atomically: true, encoding: .utf8)
        let typo = try FundqProcess.run(["status", "--check", "--config", yaml] + f.flags)
        #expect(typo.status == 1 && typo.stderr.contains("status.max_damagd is not a known threshold"))
    }
}
