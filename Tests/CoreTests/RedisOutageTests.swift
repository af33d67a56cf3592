import Core
import Foundation
import FundqTestSupport
import RedisDriver
import SQLiteDriver
import Testing

/// A real redis-server (appendonly yes, appendfsync always) killed and
/// restarted while fundq pushes and consumes.
@Suite("Redis outages")
struct RedisOutageTests {
    @Test func noAcknowledgedPushIsLostWhenRedisDiesMidRun() throws {
        let server = try RedisServer(durable: true)
        let url = try RedisURL(parsing: server.url)
        let queueName = uniqueQueueName()
        let producer = QueueProducer(queue: RedisQueue(url: url))
        var acknowledged: [String] = []
        var failures: [String] = []
        for i in 0..<600 {
            if i == 300 { server.kill(signal: SIGKILL) }
            if i == 450 { try server.start() }
            do {
                try producer.push(#"{"id":"m\#(i)"}"#, to: queueName)
                acknowledged.append("m\(i)")
            } catch let error as RedisError {
                failures.append(error.description)
            }
        }
        // While it was down: clear errors, nothing pretended to succeed.
        #expect(failures.count == 150)
        #expect(failures.allSatisfy { $0.contains("Redis at 127.0.0.1:\(server.port)") })
        #expect(failures.contains { $0.hasPrefix("cannot reach Redis at 127.0.0.1:\(server.port): connection refused") })
        #expect(acknowledged.count == 450)

        // Every acknowledged message is there after the restart, exactly once.
        let consumerQueue = RedisQueue(url: url)
        let directory = try TemporaryDirectory()
        let database = try SQLiteDatabase(path: directory.file("d.sqlite"))
        try SchemaMigrator.migrate(database)
        let damaged = SQLDamagedStore(connection: database)
        let consumer = QueueConsumer(queue: consumerQueue, damaged: damaged)
        var delivered: [String] = []
        while try consumer.popAtomic(from: queueName, maximum: 100, handler: { m in
            delivered.append(try #require(try m.members()["id"]?.scalarText))
        }).claimed > 0 {}
        #expect(delivered == acknowledged)
    }

    @Test func consumerReportsTheOutageAndLosesNothingInFlight() throws {
        let server = try RedisServer(durable: true)
        let url = try RedisURL(parsing: server.url)
        let queueName = uniqueQueueName()
        try QueueProducer(queue: RedisQueue(url: url)).push(contentsOf: (0..<10).map { Array(#"{"n":\#($0)}"#.utf8) }, to: queueName)
        let directory = try TemporaryDirectory()
        let db = try SQLiteDatabase(path: directory.file("d.sqlite"))
        try SchemaMigrator.migrate(db)
        let queue = RedisQueue(url: url)
        let consumer = QueueConsumer(queue: queue, damaged: SQLDamagedStore(connection: db),
                                     policy: ConsumerPolicy(lease: .milliseconds(300)))
        var seen: [Int] = []
        // Redis dies while the handler holds a batch: the acknowledgement fails loudly.
        #expect(throws: RedisError.self) {
            _ = try consumer.popAtomic(from: queueName, maximum: 4) { m in
                seen.append(Int(try #require(try m.members()["n"]?.scalarText))!)
                if seen.count == 2 { server.kill(signal: SIGKILL) }
            }
        }
        #expect(seen == [0, 1, 2, 3])
        do {
            _ = try consumer.popAtomic(from: queueName) { _ in }
            Issue.record("claimed from a dead server")
        } catch let error as RedisError {
            #expect(error.isConnectionFailure)
            #expect(error.description.contains("127.0.0.1:\(server.port)"))
        }
        try server.start()
        // The handled batch's acknowledgement goes with the next claim (the
        // server kept it in flight across the restart); nothing is missing
        // and nothing is handled twice.
        Thread.sleep(forTimeInterval: 0.4)
        while try consumer.popAtomic(from: queueName, maximum: 3, handler: { m in
            seen.append(Int(try #require(try m.members()["n"]?.scalarText))!)
        }).claimed > 0 {}
        #expect(seen == Array(0..<10))
        let stats = try queue.stats(queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }
}
