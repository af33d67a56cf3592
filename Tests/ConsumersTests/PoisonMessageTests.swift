import Backends
import Consumers
import Core
import Foundation
import FundqTestSupport
import Logging
import Testing

func quietConsumer(_ storage: Storage, policy: ConsumerPolicy = ConsumerPolicy(acknowledgement: .withNextClaim)) -> QueueConsumer {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return QueueConsumer(queue: storage.queue, damaged: storage.damaged, policy: policy, logger: logger)
}

/// Pushes valid messages with the poisons among them, in one batch.
func pushInterleaved(_ storage: Storage, queue: String, valid: (Int) -> String, poisons: [Poison]) throws -> Int {
    let (messages, validCount) = interleaved(valid: valid, poisons: poisons)
    try QueueProducer(queue: storage.queue).push(contentsOf: messages.map { Array($0.utf8) }, to: queue)
    return validCount
}

/// A stack with valid messages and `poisons` among them in `queueName`,
/// consumed in one batch by the handler `makeHandler` builds.
func consumePoisoned(_ stack: (QueueBackendKind, DatabaseKind), queueName: String, valid: (Int) -> String, poisons: [Poison],
                     makeHandler: (any SQLConnection) -> ([DeliveredMessage]) throws -> [MessageVerdict])
    throws -> (fixture: StackFixture, storage: Storage, summary: PopSummary, valid: Int) {
    let f = try StackFixture(queue: stack.0, database: stack.1)
    let s = try f.open()
    let validCount = try pushInterleaved(s, queue: queueName, valid: valid, poisons: poisons)
    let summary = try runConsumer(s, queue: queueName, batch: 500, makeHandler(s.database))
    #expect(summary.outcomes == ["inserted": validCount])
    #expect(summary.damaged == poisons.count)
    let stats = try s.queue.stats(queueName)
    #expect(stats.waiting == 0 && stats.inFlight == 0)
    return (f, s, summary, validCount)
}

/// Each poison value on every queue × database stack: the poison is damaged
/// with its reason, every other message of its batch is stored, nothing
/// traps, and the queue ends empty.
@Suite("Poison messages")
struct PoisonMessageTests {
    @Test(arguments: stacks)
    func poisonDonationsAreDamagedAloneAndTheirBatchIsStored(queue: QueueBackendKind, database: DatabaseKind) throws {
        let (fixture, s, _, valid) = try consumePoisoned((queue, database), queueName: DonationsSink.queueName, valid: validDonation,
                                                         poisons: donationPoisons) { DonationsSink(connection: $0).handle }
        defer { withExtendedLifetime(fixture) {} }
        #expect(try DonationsStore(connection: s.database).count() == valid)
        let damaged = try s.damaged.list(queue: DonationsSink.queueName, limit: 100)
        for poison in donationPoisons {
            let txn = try #require(try JSONParser().parse(Array(poison.body.utf8)).objectValue?["gateway_txn_id"]?.scalarText)
            let record = try #require(damaged.first { $0.gatewayTxnID == txn }, "\(poison) was not damaged")
            #expect(record.error.contains(poison.reason), "\(poison): \(record.error)")
            #expect(record.originalDate == nil || record.originalDate!.timeIntervalSince1970.isFinite)
        }
        // Nothing booked with a date outside the plausible window.
        let dates = try s.database.query("SELECT date FROM donations", []).compactMap { s.database.dialect.date($0[0]) }
        #expect(dates.count == valid && dates.allSatisfy { UnixTime.plausibleRange().contains($0.timeIntervalSince1970) })
    }

    @Test(arguments: stacks)
    func poisonPendingMessagesAreDamagedAloneAndTheirBatchIsStored(queue: QueueBackendKind, database: DatabaseKind) throws {
        let (fixture, s, _, valid) = try consumePoisoned((queue, database), queueName: PendingConsumer.queueName, valid: validPending,
                                                         poisons: pendingPoisons) { PendingConsumer(connection: $0).handle }
        defer { withExtendedLifetime(fixture) {} }
        #expect(try PendingStore(connection: s.database).list(includeResolved: true, limit: 1000).count == valid)
        let reasons = try s.damaged.list(queue: PendingConsumer.queueName, limit: 100).map(\.error)
        for poison in pendingPoisons {
            #expect(reasons.contains { $0.contains(poison.reason) }, "\(poison) not damaged as expected: \(reasons)")
        }
    }

    /// Bigger than MariaDB's 16 MiB max_allowed_packet, written straight into
    /// the queue (push refuses it): damaged cut, with size and digest.
    @Test(arguments: stacks)
    func aBodyTooLargeForTheDatabaseIsDamagedCutWithItsSizeAndDigest(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let filler = String(repeating: "x", count: 17 << 20)
        let huge = Array(#"{"gateway":"paypal","gateway_txn_id":"huge","currency":"EUR","gross":"1","note":"\#(filler)"}"#.utf8)
        try s.queue.append([Array(validDonation(1).utf8), huge, Array(validDonation(2).utf8)], to: DonationsSink.queueName)
        let summary = try runConsumer(s, queue: DonationsSink.queueName, batch: 10, DonationsSink(connection: s.database).handle)
        #expect(summary.outcomes == ["inserted": 2])
        #expect(summary.damaged == 1)
        let record = try #require(try s.damaged.list(queue: DonationsSink.queueName, limit: 10).first)
        #expect(record.originalSize == huge.count)
        #expect(record.message == Array(huge.prefix(DamagedMessage.keptBytesOfOversizeMessage)))
        #expect(record.originalSHA256?.count == 64)
        #expect(record.error.contains("message is \(huge.count) bytes, over the consumer's limit"))
        #expect(record.gatewayTxnID == "huge")
        #expect(throws: (any Error).self) { try DamagedRequeuer(queue: s.queue, damaged: s.damaged).requeue(id: record.id) }
        let stats = try s.queue.stats(DonationsSink.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }
}

/// The consumer's handling of a failing batch handler, on real databases:
/// a value the database refuses is found by splitting the batch; a failure
/// nothing survives releases the batch and counts the delivery.
@Suite("Failing batch handlers")
struct FailingBatchHandlerTests {
    /// A table whose `v` column holds at most 5 characters, strictly.
    static func makeTable(_ db: any SQLConnection) throws {
        try db.executeScript(db.dialect == .mariadb
            ? "CREATE TABLE short_values (v VARCHAR(5) NOT NULL)"
            : "CREATE TABLE short_values (v TEXT NOT NULL CHECK (length(v) <= 5))")
    }

    /// Inserts every message's `v` in one transaction, as the sinks do.
    static func insertAll(_ db: any SQLConnection) -> ([DeliveredMessage]) throws -> [MessageVerdict] {
        { batch in
            try db.transaction {
                for message in batch {
                    let v = try message.members()["v"]?.scalarText ?? ""
                    try db.execute("INSERT INTO short_values (v) VALUES (?)", [.text(v)])
                }
                return batch.map { _ in .handled("inserted") }
            }
        }
    }

    @Test(arguments: stacks)
    func aValueTheDatabaseRefusesDamagesOnlyItsMessage(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        try Self.makeTable(s.database)
        let values = (0..<40).map { $0 == 17 || $0 == 31 ? "far-too-long-\($0)" : "v\($0)" }
        try QueueProducer(queue: s.queue).push(contentsOf: values.map { Array(#"{"v":"\#($0)"}"#.utf8) }, to: "short")
        let summary = try quietConsumer(s).popAtomicBatch(from: "short", maximum: 100, handler: Self.insertAll(s.database))
        #expect(summary.outcomes == ["inserted": 38])
        #expect(summary.damaged == 2)
        let stored = Set(try s.database.query("SELECT v FROM short_values", []).compactMap { $0[0].string })
        #expect(stored == Set(values.filter { $0.count <= 5 }))
        let damaged = try s.damaged.list(queue: "short", limit: 10)
        #expect(Set(damaged.map(\.messageText)).count == 2 && damaged.allSatisfy { $0.messageText.contains("far-too-long") })
        #expect(try s.queue.stats("short").waiting == 0)
    }

    @Test(arguments: stacks)
    func aFailureNothingSurvivesReleasesTheBatchAndAOneMessageBatchReachesTheDeliveryLimit(
        queue: QueueBackendKind, database: DatabaseKind
    ) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let missingTable: ([DeliveredMessage]) throws -> [MessageVerdict] = { batch in
            try s.database.transaction {
                try s.database.execute("INSERT INTO no_such_table (v) VALUES (1)", [])
                return batch.map { _ in .handled("inserted") }
            }
        }
        // Several messages all failing: the environment, not a message. Released uncounted.
        try QueueProducer(queue: s.queue).push(contentsOf: (0..<4).map { Array(#"{"v":\#($0)}"#.utf8) }, to: "env")
        let consumer = quietConsumer(s, policy: ConsumerPolicy(lease: .seconds(30), maximumDeliveries: 2))
        for _ in 0..<4 {
            #expect(throws: (any Error).self) { try consumer.popAtomicBatch(from: "env", maximum: 10, handler: missingTable) }
        }
        #expect(try s.damaged.count(queue: "env") == 0)
        #expect(try s.queue.stats("env").waiting == 4)

        // One message alone failing: nobody can tell, so each release counts
        // and the delivery limit ends it in the damaged store.
        try QueueProducer(queue: s.queue).push(#"{"v":"alone"}"#, to: "alone")
        #expect(throws: (any Error).self) { try consumer.popAtomicBatch(from: "alone", maximum: 10, handler: missingTable) }
        #expect(throws: (any Error).self) { try consumer.popAtomicBatch(from: "alone", maximum: 10, handler: missingTable) }
        let third = try consumer.popAtomicBatch(from: "alone", maximum: 10, handler: missingTable)
        #expect(third.damaged == 1)
        let record = try #require(try s.damaged.list(queue: "alone", limit: 1).first)
        #expect(record.error.contains("handed out 3 times without being acknowledged (limit 2)"))
        let stats = try s.queue.stats("alone")
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }
}
