import Consumers
import Core
import Foundation
import FundqTestSupport
import MariaDBDriver
import RedisDriver
import Testing

/// 50,000 events for 10,000 ids, shuffled and partly duplicated, must end
/// in exactly the state that applying them in `ts` order gives (computed by
/// ``TrackingScenario/fold(_:)``, which shares no code with the store) —
/// in-process, with the consumer process SIGKILLed mid-run, and with
/// MariaDB killed and restarted under a running daemon.
@Suite("Tracking: shuffled, duplicated, interrupted = applied in order", .serialized)
struct TrackingPropertyTests {
    static let ids = 10_000
    static let events = 50_000
    static let duplicates = 5_000

    func check(_ scenario: TrackingScenario, _ store: TrackingStore) throws {
        let actual = try TrackingScenario.actual(store)
        #expect(actual.count == Self.ids)
        #expect(scenario.differences(actual) == [])
        #expect(try store.eventCount() == Self.events)
        // Rebuilding from the event table gives the same rows.
        let rows = try store.allRows()
        #expect(try store.rebuild().changed == 0)
        #expect(try store.allRows() == rows)
    }

    @Test(arguments: [(QueueBackendKind.sqlite, DatabaseKind.sqlite), (.redis, .mariadb)])
    func shuffledAndDuplicatedEventsEndInTheInOrderState(queue: QueueBackendKind, database: DatabaseKind) throws {
        let scenario = TrackingScenario(ids: Self.ids, events: Self.events, duplicates: Self.duplicates, seed: 0x7A11_0001)
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        try scenario.push(to: s.queue)
        let summary = try consumeTracking(s, batch: 500)
        #expect(summary.outcomes == ["applied": Self.events, "duplicate": Self.duplicates])
        #expect(summary.damaged == 0)
        try check(scenario, TrackingStore(connection: s.database))
    }

    @Test func consumerKilledWithSigkillMidRunAndRestartedEndsInTheInOrderState() throws {
        let scenario = TrackingScenario(ids: Self.ids, events: Self.events, duplicates: Self.duplicates, seed: 0x7A11_0002)
        let f = try StackFixture(queue: .redis, database: .mariadb)
        let s = try f.open()
        try scenario.push(to: s.queue)
        let store = TrackingStore(connection: try f.database.openDatabase())
        let first = try FundqProcess.spawn(["consume", "tracking", "--daemon", "--batch", "200", "--lease", "2"] + f.flags,
                                           outputIn: f.database.directory)
        #expect(eventually(timeout: 120) { ((try? store.eventCount()) ?? 0) >= 10_000 })
        first.send(SIGKILL)
        _ = first.wait()
        #expect(try store.eventCount() < Self.events, "the consumer finished before it could be killed")
        // The dead consumer's batch comes back after its lease; a new consumer finishes the queue.
        Thread.sleep(forTimeInterval: 2.5)
        let second = try FundqProcess.run(["consume", "tracking", "--batch", "200"] + f.flags)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try s.queue.stats(TrackingConsumer.queueName).waiting == 0)
        #expect(try s.queue.stats(TrackingConsumer.queueName).inFlight == 0)
        #expect(try s.damaged.count(queue: nil) == 0)
        try check(scenario, store)
    }

    @Test func mariadbKilledAndRestartedUnderARunningDaemonEndsInTheInOrderState() throws {
        let scenario = TrackingScenario(ids: Self.ids, events: Self.events, duplicates: Self.duplicates, seed: 0x7A11_0003)
        let server = try MariaDBServer()
        let redis = try RedisServer()
        let dir = try TemporaryDirectory()
        let flags = ["--queue-url", redis.url, "--db-url", server.url, "--data-dir", dir.path]
        let migrate = try FundqProcess.run(["db", "migrate"] + flags)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        try scenario.push(to: RedisQueue(url: try RedisURL(parsing: redis.url)))
        let store = TrackingStore(connection: MariaDBConnection(url: try DatabaseURL(parsing: server.url)))
        let consumer = try FundqProcess.spawn(["consume", "tracking", "--daemon", "--batch", "200"] + flags, outputIn: dir)
        #expect(eventually(timeout: 120) { ((try? store.eventCount()) ?? 0) >= 5_000 })
        server.stop(signal: SIGKILL)
        Thread.sleep(forTimeInterval: 1.5)
        try server.start()
        #expect(eventually(timeout: 300) { ((try? store.eventCount()) ?? 0) == Self.events })
        let queue = RedisQueue(url: try RedisURL(parsing: redis.url))
        #expect(eventually(timeout: 60) { (try? queue.stats(TrackingConsumer.queueName)).map { $0.waiting + $0.inFlight } == 0 })
        consumer.send(SIGTERM)
        let r = consumer.wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("outage: cannot reach MariaDB at 127.0.0.1:\(server.port)"))
        #expect(r.stderr.contains("outage retries"))
        try check(scenario, store)
    }
}
