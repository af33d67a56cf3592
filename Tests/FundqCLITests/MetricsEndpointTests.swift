import Backends
import Core
import Foundation
import FundqTestSupport
import Sandbox
import Testing

/// `--metrics-listen`: a real daemon's /metrics under a scripted workload,
/// and /ready flipping when its Redis or its MariaDB stops and comes back.
@Suite("Metrics, health and readiness endpoints")
struct MetricsEndpointTests {
    static func get(_ port: Int, _ path: String) -> RawHTTPConnection.Answer? {
        guard let c = try? RawHTTPConnection(port: port),
              (try? c.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")) != nil else { return nil }
        return c.answer(timeout: 20)
    }

    /// Every sample of a /metrics body: `name{labels}` → value.
    static func samples(_ port: Int) -> [String: Double] {
        guard let answer = get(port, "/metrics"), answer.status == 200 else { return [:] }
        var values: [String: Double] = [:]
        for line in answer.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }

    static func donation(_ n: Int) -> String {
        #"{"gateway":"paypal","gateway_txn_id":"M\#(n)","currency":"EUR","gross":"10.00","contribution_tracking_id":"\#(900 + n)"}"#
    }

    @Test func metricsMoveUnderAScriptedWorkload() throws {
        let f = try QueueFixture(.sqlite)
        let poison = #"{"gateway":"paypal","gateway_txn_id":"BAD","currency":"EUR","gross":"NaN"}"#
        let first = ((1...5).map(Self.donation) + [poison]).joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", "donations", "--lines"] + f.flags, stdin: first).status == 0)
        let stores = try f.open()
        let pending = PendingStore(connection: stores.database)
        _ = try pending.store(try PendingMessage(members: try #require(try JSONParser().parse(
            #"{"gateway":"paypal","order_id":"o1","date":1700000000}"#).objectValue)))
        #expect(try pending.markNeedsReview(id: try #require(try pending.fetch(gateway: "paypal", orderID: "o1")).id, reason: "test"))

        let port = try FreePort.find()
        let daemon = try FundqProcess.spawn(["consume", "donations", "--daemon", "--heartbeat-interval", "0.5",
                                             "--metrics-listen", "127.0.0.1:\(port)"] + f.flags, outputIn: f.directory)
        defer { daemon.send(SIGKILL); _ = daemon.wait() }
        #expect(eventually { Self.samples(port)[#"fundq_queue_acks_total{queue="donations"}"#] == 5 })
        var m = Self.samples(port)
        #expect(m[#"fundq_queue_pops_total{queue="donations"}"#] == 6)
        #expect(m[#"fundq_queue_damaged_total{queue="donations"}"#] == 1)
        #expect((m[#"fundq_consume_batch_seconds_count{queue="donations"}"#] ?? 0) >= 1)
        #expect(m[#"fundq_queue_pushes_total{queue="contribution-tracking"}"#] == 5,
                "the donations sink links each donation to its tracking row")
        #expect(m[#"fundq_queue_waiting{queue="contribution-tracking"}"#] == 5)
        #expect(m[#"fundq_damaged_messages{queue="donations"}"#] == 1)
        #expect(m[#"fundq_pending_open{gateway="paypal"}"#] == 1)
        #expect(m[#"fundq_pending_needs_review{gateway="paypal"}"#] == 1)
        #expect(m[#"fundq_pending_due{gateway="paypal"}"#] == 0)
        #expect(m[#"fundq_store_sample_up"#] == 1)
        let pid = daemon.pid
        #expect(m.keys.contains { $0.hasPrefix("fundq_process_heartbeat_age_seconds{") && $0.contains(#"role="consume-donations""#)
                && $0.contains(#"pid="\#(pid)""#) })

        // More work: the counters move on; the drained tracking queue's gauges go when it is consumed elsewhere.
        let more = (6...8).map(Self.donation).joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", "donations", "--lines"] + f.flags, stdin: more).status == 0)
        #expect(eventually { Self.samples(port)[#"fundq_queue_acks_total{queue="donations"}"#] == 8 })
        #expect(try FundqProcess.run(["consume", "tracking"] + f.flags).status == 0)
        #expect(eventually { Self.samples(port)[#"fundq_queue_waiting{queue="contribution-tracking"}"#] == nil })
        m = Self.samples(port)
        #expect(m[#"fundq_queue_pops_total{queue="donations"}"#] == 9)
        #expect(m[#"fundq_queue_pushes_total{queue="contribution-tracking"}"#] == 8)
        #expect(Self.get(port, "/health")?.status == 200)
        #expect(Self.get(port, "/ready")?.status == 200)
    }

    @Test func readyFlipsWhenRedisStopsAndHealthStaysUp() throws {
        let redis = try RedisServer()
        let directory = try TemporaryDirectory()
        let port = try FreePort.find()
        let daemon = try FundqProcess.spawn(["consume", "pending", "--daemon", "--queue-url", redis.url, "--data-dir", directory.path,
                                             "--metrics-listen", "127.0.0.1:\(port)"], outputIn: directory)
        defer { daemon.send(SIGKILL); _ = daemon.wait() }
        #expect(eventually { Self.get(port, "/ready")?.status == 200 })
        #expect(Self.get(port, "/ready")?.body.contains("queues redis://127.0.0.1:\(redis.port)") == true)
        redis.kill()
        #expect(eventually { Self.get(port, "/ready")?.status == 503 })
        let down = try #require(Self.get(port, "/ready"))
        #expect(down.body.contains("queues") && down.body.contains("database") && down.body.contains(": ok"), "\(down.body)")
        #expect(Self.get(port, "/health")?.status == 200)
        try redis.start()
        #expect(eventually { Self.get(port, "/ready")?.status == 200 })
    }

    @Test func readyFlipsWhenMariaDBStopsAndHealthStaysUp() throws {
        let mariadb = try MariaDBServer()
        let directory = try TemporaryDirectory()
        let flags = ["--db-url", mariadb.url, "--data-dir", directory.path]
        #expect(try FundqProcess.run(["db", "migrate"] + flags).status == 0)
        let port = try FreePort.find()
        let daemon = try FundqProcess.spawn(["consume", "pending", "--daemon", "--metrics-listen", "127.0.0.1:\(port)"] + flags,
                                            outputIn: directory)
        defer { daemon.send(SIGKILL); _ = daemon.wait() }
        #expect(eventually { Self.get(port, "/ready")?.status == 200 })
        mariadb.stop(signal: SIGKILL)
        #expect(eventually { Self.get(port, "/ready")?.status == 503 })
        let down = try #require(Self.get(port, "/ready"))
        #expect(down.body.contains("cannot connect to MariaDB at 127.0.0.1:\(mariadb.port)"), "\(down.body)")
        #expect(!down.body.contains(MariaDBServer.password), "a readiness answer never shows the password")
        #expect(Self.get(port, "/health")?.status == 200, "the process itself is alive")
        try mariadb.start()
        #expect(eventually { Self.get(port, "/ready")?.status == 200 })
    }

    /// The value of the one sample named `name` whose labels include every one of `labels`.
    static func value(_ m: [String: Double], _ name: String, _ labels: [String]) -> Double? {
        m.first { key, _ in key.hasPrefix(name + "{") && labels.allSatisfy { key.contains($0) } }?.value
    }

    @Test func rectifierDecisionsCallLatencyAndCircuitStateMove() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        let store = PendingStore(connection: storage.database)
        let date = Int(Date().timeIntervalSince1970) - 3600
        for i in 0..<8 {
            // PayPal answers that the donor never came back; GlobalCollect answers 500 every time.
            for (processor, outcome) in [("paypal", SandboxOutcome.abandoned), ("globalcollect", .serverError)] {
                try f.sandbox.script(processor, id: "\(processor)-\(i)", outcome: outcome)
                try store.store(try PendingMessage(members: try #require(try JSONParser().parse(#"""
                    {"gateway":"\#(processor)","order_id":"\#(processor)-\#(i)","gateway_session_id":"\#(processor)-\#(i)",\#
                    "date":\#(date),"gross":"5.00","currency":"EUR"}
                    """#).objectValue)))
            }
        }
        var env = f.environment(["FUNDQ_PAYPAL_RATE_LIMIT_PER_SECOND": "10000", "FUNDQ_GLOBALCOLLECT_RATE_LIMIT_PER_SECOND": "10000",
                                 "FUNDQ_GLOBALCOLLECT_RETRY_ATTEMPTS": "1"])
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = db.directory.path
        env["FUNDQ_LOG_LEVEL"] = "warning"
        let port = try FreePort.find()
        let daemon = try FundqProcess.spawn(["rectify", "--daemon", "--interval", "3600", "--workers", "1", "--heartbeat-interval", "0.5",
                                             "--metrics-listen", "127.0.0.1:\(port)"], environment: env, outputIn: db.directory)
        defer { daemon.send(SIGKILL); _ = daemon.wait() }
        let decided = #"fundq_rectifier_decisions_total"#
        #expect(eventually { Self.value(Self.samples(port), decided, [#"processor="paypal""#]) == 8 })
        #expect(eventually { Self.value(Self.samples(port), "fundq_rectifier_circuit_open", [#"processor="globalcollect""#]) == 1 })
        let m = Self.samples(port)
        let calls = "fundq_processor_call_seconds_count"
        #expect(Self.value(m, calls, [#"processor="paypal""#, #"action="status""#, #"outcome="ok""#]) == 8)
        #expect((Self.value(m, calls, [#"processor="globalcollect""#, #"action="status""#, #"outcome="error""#]) ?? 0) >= 5)
        #expect(Self.value(m, "fundq_rectifier_circuit_open", [#"processor="paypal""#]) == nil, "paypal's circuit never opened")
        #expect(Self.value(m, "fundq_pending_open", [#"gateway="globalcollect""#]) == 8)

        // The status screen shows each processor's circuit as the live rectifier reported it after its pass.
        func circuits() throws -> [String: JSONValue] {
            let status = try FundqProcess.run(["status", "--json"], environment: env)
            let object = try JSONParser().parse(Array(status.stdout.utf8)).objectValue ?? [:]
            guard case .array(let rows)? = object["rectifier"] else { return [:] }
            return Dictionary(rows.compactMap { row in
                row.objectValue.flatMap { o in o["processor"]?.scalarText.map { ($0, o["circuit"] ?? .null) } }
            }, uniquingKeysWith: { a, _ in a })
        }
        #expect(try eventually { try circuits()["globalcollect"] == .string("open") })
        #expect(try circuits()["paypal"] == .string("closed"))
        let text = try FundqProcess.run(["status"], environment: env).stdout
        #expect(text.contains("CIRCUIT"), "\(text)")
    }
}
