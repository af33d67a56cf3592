import Backends
import Core
import Foundation
import FundqTestSupport
import Sandbox
import Synchronization
import Testing

/// Two `fundq rectify` processes at once stay within one processor's
/// configured rate together: measured as calls counted at the sandbox per
/// time window over a bounded run, with slack computed from the rate.
@Suite("fundq rectify rate limits")
struct RectifyRateLimitTests {
    enum SlotStore: String, CaseIterable, CustomStringConvertible {
        case database, redis
        var description: String { rawValue }
    }

    @Test(arguments: SlotStore.allCases)
    func twoProcessesTogetherStayWithinTheConfiguredRate(store: SlotStore) throws {
        let rate = 40.0
        let orphans = 400
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        // Every request the rectifiers make goes through this counter to the sandbox.
        let times = Mutex<[Double]>([])
        let sandbox = f.sandbox
        let counter = try LoopbackHTTPServer { request in
            times.withLock { $0.append(Date().timeIntervalSince1970) }
            return sandbox.handle(request)
        }
        defer { counter.stop() }
        let storage = try Storage(db.configuration)
        let pending = PendingStore(connection: storage.database)
        let date = Int(Date().timeIntervalSince1970) - 3600
        try storage.database.transaction {
            for i in 0..<orphans {
                try f.sandbox.script("paypal", id: "EC-R\(i)", outcome: .abandoned)
                try pending.store(try PendingMessage(members: try JSONParser().parse(
                    #"{"gateway":"paypal","order_id":"EC-R\#(i)","gateway_session_id":"EC-R\#(i)","date":\#(date),"#
                        + #""gross":"1.00","currency":"EUR"}"#
                ).objectValue!))
            }
        }
        var env = f.environment().mapValues { $0.replacingOccurrences(of: f.sandbox.baseURL, with: "http://127.0.0.1:\(counter.port)") }
        env["FUNDQ_PAYPAL_RATE_LIMIT_PER_SECOND"] = String(rate)
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = db.directory.path
        env["FUNDQ_LOG_LEVEL"] = "warning"
        // With the queues in Redis the slots live there; else in the database.
        let redis = store == .redis ? try RedisServer() : nil
        if let redis { env["FUNDQ_QUEUE_URL"] = redis.url }
        let a = try FundqProcess.spawn(["rectify", "--processor", "paypal", "--workers", "4"], environment: env, outputIn: db.directory)
        let b = try FundqProcess.spawn(["rectify", "--processor", "paypal", "--workers", "4"], environment: env, outputIn: db.directory)
        let ra = a.wait()
        let rb = b.wait()
        withExtendedLifetime(redis) {}
        #expect(ra.status == 0, "\(ra.stderr)")
        #expect(rb.status == 0, "\(rb.stderr)")
        // Both processes worked (else there was nothing to share).
        for r in [ra, rb] {
            let examined = r.stderr.split(separator: "\n").first { $0.contains("rectify paypal:") }
                .flatMap { $0.split(separator: " ").dropFirst(2).first }.flatMap { Int($0) } ?? 0
            #expect(examined > 0, "a process examined nothing: \(r.stderr)")
        }
        let calls = times.withLock { $0 }.sorted()
        #expect(calls.count == orphans)
        guard let first = calls.first, let last = calls.last else { return }
        // Slack from the rate: each process reserves slots ~50 ms' worth at a time and may use a reservation late.
        let perProcessBurst = 2 * max(1, Int(rate * 0.05))
        let slack = 2 * perProcessBurst
        // Together they need at least (calls - slack) / rate seconds (a busy machine only makes it longer);
        // each on its own at the full rate would have taken half.
        let needed = Double(orphans - slack) / rate
        #expect(last - first >= 0.85 * needed, "\(orphans) calls in \(last - first) s at \(rate)/s")
        // In any 4-second window: at most rate × (4 + 1 s of scheduling delay) plus the reservations' slack,
        // where two unshared limits would allow twice the rate.
        let window = 4.0
        var most = 0
        var start = 0
        for (end, t) in calls.enumerated() {
            while t - calls[start] >= window { start += 1 }
            most = max(most, end - start + 1)
        }
        #expect(most <= Int(rate * (window + 1)) + slack, "\(most) calls in a \(window)-second window at \(rate)/s")
    }
}
