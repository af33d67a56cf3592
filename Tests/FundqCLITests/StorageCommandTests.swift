import Core
import Foundation
import FundqTestSupport
import RedisDriver
import Testing

/// `fundq db stats` and `fundq jobs retention` (issue 13), run as a user would.
@Suite("Storage commands")
struct StorageCommandTests {
    static func json(_ stdout: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any], "\(stdout)")
    }

    @Test(arguments: DatabaseKind.allCases)
    func dbStatsShowsRowsBytesAndAges(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let d = db.dialect
        for (i, days) in [3.0, 1.0].enumerated() {
            try db.execute("INSERT INTO damaged (damaged_date, original_queue, error, message) VALUES (?, 'donations', 'bad', ?)",
                           [d.value(Date().addingTimeInterval(-days * 86_400)), .blob(Array("{\"i\":\(i)}".utf8))])
        }
        let result = try FundqProcess.run(["db", "stats", "--json"] + f.flags)
        #expect(result.status == 0, "\(result.stderr)")
        let root = try Self.json(result.stdout)
        let tables = try #require(root["tables"] as? [[String: Any]])
        let damaged = try #require(tables.first { $0["table"] as? String == "damaged" })
        #expect(damaged["rows"] as? Int == 2)
        #expect((damaged["data_bytes"] as? Int ?? 0) > 0)
        #expect((damaged["index_bytes"] as? Int ?? 0) > 0)
        let oldest = try #require(damaged["oldest"] as? String), newest = try #require(damaged["newest"] as? String)
        #expect(oldest < newest)
        #expect(tables.contains { $0["table"] as? String == "pending" && $0["rows"] as? Int == 0 })
        if kind == .sqlite {
            let file = try #require(root["sqlite"] as? [String: Any])
            #expect((file["file_bytes"] as? Int ?? 0) > 0 && file["free_pages"] is Int && file["auto_vacuum"] as? String == "incremental")
        } else {
            #expect(root["sqlite"] is NSNull, "null on MariaDB, never a missing key")
        }
        let text = try FundqProcess.run(["db", "stats"] + f.flags)
        #expect(text.status == 0 && text.stdout.contains("damaged") && text.stdout.contains("OLDEST"), "\(text.stdout)\(text.stderr)")
    }

    @Test func dbStatsShowsRedisMemoryPerQueue() throws {
        let q = try QueueFixture(.redis)
        let s = try q.open()
        try QueueProducer(queue: s.queue).push(contentsOf: (0..<50).map { Array(#"{"n":\#($0)}"#.utf8) }, to: q.queueName)
        _ = try s.queue.claim(from: q.queueName, limit: 10, lease: .seconds(60))
        defer { try? s.queue.removeAll(q.queueName) }
        let result = try FundqProcess.run(["db", "stats", "--json"] + q.flags)
        #expect(result.status == 0, "\(result.stderr)")
        let redis = try #require(try Self.json(result.stdout)["redis"] as? [[String: Any]])
        let mine = try #require(redis.first { $0["queue"] as? String == q.queueName })
        #expect(mine["keys"] as? Int == 4, "list, in-flight hash, leases, id counter: \(mine)")
        #expect((mine["bytes"] as? Int ?? 0) > 50 * 10)
    }

    /// An empty queue's bookkeeping goes once idle for the configured
    /// time; a queue with messages waiting or in flight is never touched.
    @Test func redisBookkeepingOfIdleEmptyQueuesIsRemoved() throws {
        // A private server: the rule applies to every queue of a server, and
        // other tests' queues must not lose their counters mid-test.
        let server = try RedisServer()
        let redis = RedisQueue(url: try RedisURL(parsing: server.url))
        let idle = "idle", waiting = "waiting", inFlight = "in-flight"
        let s = (queue: redis, ())
        let producer = QueueProducer(queue: redis)
        for name in [idle, waiting, inFlight] {
            try producer.push(#"{"a":1}"#, to: name)
            if name == inFlight { continue }
            let claimed = try s.queue.claim(from: name, limit: 1, lease: .seconds(60))
            #expect(try s.queue.acknowledge(claimed.map(\.receipt), in: name) == 1)
        }
        #expect(try s.queue.claim(from: inFlight, limit: 1, lease: .seconds(60)).count == 1)
        try producer.push(#"{"a":2}"#, to: waiting)
        func exists(_ key: String) throws -> Bool { try redis.connection.command("EXISTS", key, context: "test").integer == 1 }

        _ = try RedisRetention(queue: redis, idleSeconds: 86_400).run(dryRun: false)
        #expect(try exists("fundq:{\(idle)}:seq"), "used within the day: kept")
        Thread.sleep(forTimeInterval: 2.2)  // OBJECT IDLETIME counts whole seconds
        let rule = RedisRetention(queue: redis, idleSeconds: 1)
        #expect(try rule.run(dryRun: true) >= 1)
        #expect(try exists("fundq:{\(idle)}:seq"), "a dry run removes nothing")
        _ = try rule.run(dryRun: false)
        #expect(try !exists("fundq:{\(idle)}:seq"))
        #expect(try exists("fundq:{\(inFlight)}:seq") && exists("fundq:{\(inFlight)}:inflight"))
        #expect(try exists("fundq:{\(waiting)}:seq") && exists(waiting))
        // The queue still works after its counter went: ids start again.
        try producer.push(#"{"a":3}"#, to: idle)
        let again = try s.queue.claim(from: idle, limit: 1, lease: .seconds(60))
        #expect(again.count == 1)
        #expect(try s.queue.acknowledge(again.map(\.receipt), in: idle) == 1)
    }

    @Test(arguments: DatabaseKind.allCases)
    func retentionCommandPrintsWhatEachRuleRemovesAndDryRunRemovesNothing(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let d = db.dialect
        let old = d.value(Date().addingTimeInterval(-40 * 86_400))
        for (i, resolved) in [true, true, false].enumerated() {
            try db.execute("""
                INSERT INTO pending (date, gateway, order_id, message, resolution, resolved_date) VALUES (?, 'paypal', ?, '{}', ?, ?)
                """,
                           [old, .text("o\(i)"), resolved ? .text("failed") : .null, resolved ? old : .null])
        }
        let config = f.directory.file("fundq.yaml")
        try "retention:\n  pending_resolved_days: 30\n".write(toFile: config, atomically: true, encoding: .utf8)
        let args = ["jobs", "retention", "--config", config] + f.flags

        let dry = try FundqProcess.run(args + ["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run") && dry.stdout.contains("WOULD REMOVE"), "\(dry.stdout)")
        let pendingLine = dry.stdout.split(separator: "\n").first { $0.hasPrefix("pending ") }.map(String.init) ?? ""
        #expect(pendingLine.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).first == "2", "\(dry.stdout)")
        #expect(try db.query("SELECT COUNT(*) FROM pending", []).first?.first?.int64 == 3)

        let run = try FundqProcess.run(args + ["--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let rules = try #require(try Self.json(run.stdout)["rules"] as? [[String: Any]])
        #expect(rules.first { $0["table"] as? String == "pending" }?["removed"] as? Int == 2)
        #expect(try db.query("SELECT COUNT(*) FROM pending", []).first?.first?.int64 == 1)

        try "retention:\n  pending_days: 30\n".write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try FundqProcess.run(args)
        #expect(bad.status != 0 && bad.stderr.contains("unknown retention setting pending_days"), "\(bad.stderr)")
    }
}
