import Backends
import Consumers
import Core
import Foundation
import FundqTestSupport
import Logging
import Testing

/// Every combination of queue backend and database the consumers run on.
let stacks: [(QueueBackendKind, DatabaseKind)] = [(.redis, .mariadb), (.sqlite, .sqlite), (.redis, .sqlite), (.sqlite, .mariadb)]

func runConsumer(_ storage: Storage, queue: String, batch: Int = 50,
                 _ handler: ([DeliveredMessage]) throws -> [MessageVerdict]) throws -> PopSummary {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let consumer = QueueConsumer(queue: storage.queue, damaged: storage.damaged,
                                 policy: ConsumerPolicy(acknowledgement: .withNextClaim), logger: logger)
    let runner = ConsumerRunner(consumer: consumer, queueName: queue, limits: RunLimits(batchSize: batch), logger: logger)
    return try runner.run(handler: handler).pops
}

@Suite("Pending consumer and donations sink")
struct ConsumerTests {
    @Test(arguments: stacks)
    func pendingConsumerMergesIsIdempotentAndDamagesWhatItCannotStore(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        let input = [
            #"{"gateway":"paypal","order_id":"p1","date":1700000000,"gross":"5.00","source_enqueued_time":100}"#,
            #"{"gateway":"paypal","order_id":"p1","date":1700000000,"gross":"6.00","gateway_txn_id":"T1","source_enqueued_time":200}"#,
            #"{"gateway":"globalcollect","order_id":"g1","date":1700000000}"#,
            #"{"gateway":"paypal","order_id":"p1","date":1700000000,"gross":"5.00","source_enqueued_time":100}"#,
            #"{"gateway":"paypal","order_id":"nodate"}"#,
            #"{"gateway":"paypal","date":1700000000}"#,
        ]
        // Stamped once, in the past: a redelivery is these same bytes, whenever it comes (g1 has no
        // source_enqueued_time of its own; pushing its payload again would stamp a new one: a newer message).
        let stamped = try input.map { try producer.prepare(Array($0.utf8), now: Date(timeIntervalSince1970: 1_700_000_100)) }
        for body in stamped { try producer.push(body, to: PendingConsumer.queueName) }
        let consumer = PendingConsumer(connection: s.database)
        let first = try runConsumer(s, queue: PendingConsumer.queueName, consumer.handle)
        #expect(first.outcomes == ["inserted": 2, "merged": 1, "unchanged": 1])
        #expect(first.damaged == 2)
        let store = PendingStore(connection: s.database)
        let p1 = try #require(try store.fetch(gateway: "paypal", orderID: "p1"))
        #expect(p1.message["gross"] == .string("6.00"))  // the late redelivery of the older message did not win
        #expect(p1.gatewayTxnID == "T1")
        let reasons = try s.damaged.list(queue: PendingConsumer.queueName, limit: 10).map(\.error).sorted()
        #expect(reasons == ["not a valid pending message: field 'date': is missing",
                            "not a valid pending message: field 'order_id': is missing, and so is gateway_txn_id: "
                                + "a pending message needs one of them"])

        // Redelivering everything changes nothing.
        let before = try store.list(includeResolved: true, limit: 100)
        for body in stamped { try producer.push(body, to: PendingConsumer.queueName) }
        let second = try runConsumer(s, queue: PendingConsumer.queueName, consumer.handle)
        #expect(second.outcomes == ["unchanged": 4])
        #expect(second.damaged == 2)
        #expect(try store.list(includeResolved: true, limit: 100) == before)

        // The same payload pushed again is a new message, stamped now: its newer envelope is merged, nothing else.
        try producer.push(input[2], to: PendingConsumer.queueName)
        #expect(try runConsumer(s, queue: PendingConsumer.queueName, consumer.handle).outcomes == ["merged": 1])
        let g1 = try #require(try store.fetch(gateway: "globalcollect", orderID: "g1"))
        let g1Before = try #require(before.first { $0.orderID == "g1" })
        #expect(g1.message["source_enqueued_time"] != g1Before.message["source_enqueued_time"])
        #expect(g1.message.filter { $0.key != "source_enqueued_time" } == g1Before.message.filter { $0.key != "source_enqueued_time" })
    }

    @Test(arguments: stacks)
    func pendingMessagesForPaymentsAlreadyCompletedAreSkipped(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        try producer.push(#"{"gateway":"paypal","gateway_txn_id":"T1","order_id":"o1","currency":"EUR","gross":"3"}"#,
                          to: DonationsSink.queueName)
        _ = try runConsumer(s, queue: DonationsSink.queueName, DonationsSink(connection: s.database).handle)
        try producer.push(#"{"gateway":"paypal","order_id":"o1","date":1700000000}"#, to: PendingConsumer.queueName)
        try producer.push(#"{"gateway":"paypal","gateway_txn_id":"T1","date":1700000000}"#, to: PendingConsumer.queueName)
        let summary = try runConsumer(s, queue: PendingConsumer.queueName, PendingConsumer(connection: s.database).handle)
        #expect(summary.outcomes == ["skipped-final": 2])
        #expect(try PendingStore(connection: s.database).list(includeResolved: true, limit: 10).isEmpty)
    }

    @Test(arguments: stacks)
    func sinkStoresEachDonationOnceAndMergesCompletionsWithTheirPendingRow(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        var sink = DonationsSink(connection: s.database)
        sink.completionRetry = .seconds(-1)  // due at once, so the test can requeue it
        let donations = [
            #"{"gateway":"paypal","gateway_txn_id":"T1","currency":"EUR","gross":"10.00","email":"a@example.org"}"#,
            #"{"gateway":"paypal","gateway_txn_id":"T1","currency":"EUR","gross":"10.00"}"#,  // duplicate
            #"{"gateway":"paypal","gateway_txn_id":"T2","currency":"EUR","gross":"0"}"#,  // invalid
            #"{"gateway":"globalcollect","gateway_txn_id":"G1","currency":"USD","gross":"3","completion_message_id":"globalcollect-o7"}"#,
        ]
        for body in donations { try producer.push(body, to: DonationsSink.queueName) }
        let first = try runConsumer(s, queue: DonationsSink.queueName, sink.handle)
        #expect(first.outcomes == ["inserted": 1, "duplicate": 1])
        #expect(first.damaged == 2)
        let waiting = try #require(try s.damaged.list(queue: DonationsSink.queueName, limit: 10).first { $0.gateway == "globalcollect" })
        #expect(waiting.error.contains("pending row globalcollect/o7 named by completion_message_id is not in the pending database yet"))
        #expect(waiting.retryDate != nil)

        // The pending row arrives; the requeue job brings the completion back.
        let message = #"{"gateway":"globalcollect","order_id":"o7","date":1700000000,"contribution_tracking_id":"ct7","first_name":"Zoë"}"#
        try producer.push(message, to: PendingConsumer.queueName)
        _ = try runConsumer(s, queue: PendingConsumer.queueName, PendingConsumer(connection: s.database).handle)
        #expect(try DamagedRequeuer(queue: s.queue, damaged: s.damaged).requeueDue() == 1)
        let second = try runConsumer(s, queue: DonationsSink.queueName, sink.handle)
        #expect(second.outcomes == ["inserted": 1])
        let row = try #require(try PendingStore(connection: s.database).fetch(gateway: "globalcollect", orderID: "o7"))
        #expect(row.resolution == .completed)
        let stored = try s.database.query(
            "SELECT order_id, contribution_tracking_id, message FROM donations WHERE gateway_txn_id = 'G1'", [])
        #expect(stored.first?[0].string == "o7")
        #expect(stored.first?[1].string == "ct7")
        #expect(stored.first?[2].string?.contains("Zoë") == true)
        #expect(try DonationsStore(connection: s.database).transactionIDs() == ["paypal/T1", "globalcollect/G1"])
    }
}
