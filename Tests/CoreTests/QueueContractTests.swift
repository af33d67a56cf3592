import Backends
import Core
import Foundation
import FundqTestSupport
import RedisDriver
import Testing

/// Failure that asks to be retried later.
struct TemporaryOutage: RetryableError, CustomStringConvertible {
    var retryAfter: Duration { .seconds(-1) }  // already due, so the test can requeue at once
    var description: String { "back office unavailable" }
}

struct BookingRefused: Error, CustomStringConvertible {
    var description: String { "gross must be greater than 0" }
}

func message(_ n: Int, _ extra: String = "") -> String {
    #"{"n":\#(n),"gateway":"paypal","order_id":"ord-\#(n)","gateway_txn_id":"txn-\#(n)"\#(extra)}"#
}

func number(_ m: DeliveredMessage) throws -> Int {
    let text = try #require(try m.members()["n"]?.scalarText)
    return try #require(Int(text))
}

/// The contract every queue backend must keep (docs/architecture.md), run
/// against the embedded SQLite file and a real redis-server.
@Suite("Queue contract")
struct QueueContractTests {
    @Test(arguments: QueueBackendKind.allCases)
    func pushThenPopAtomicIsFIFOAndRemovesOnSuccess(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        for i in 1...5 { try producer.push(message(i), to: f.queueName) }
        #expect(try s.queue.stats(f.queueName).waiting == 5)
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        var seen: [Int] = []
        while let summary = try consumer.popAtomic(from: f.queueName, handler: { seen.append(try number($0)) }) {
            #expect(summary.claimed == 1 && summary.acknowledged == 1 && summary.damaged == 0 && summary.leaseLost == 0)
        }
        #expect(seen == [1, 2, 3, 4, 5])
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
        #expect(try s.damaged.count(queue: f.queueName) == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func pushedMessagesCarryTheEnvelope(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue, envelope: MessageEnvelope(sourceName: "form", sourceType: "listener"))
            .push(message(1), to: f.queueName)
        let body = try #require(try s.queue.peek(f.queueName))
        let members = try MessageValidator().validate(body)
        #expect(members["source_name"] == .string("form"))
        #expect(members["source_type"] == .string("listener"))
        #expect(members["source_run_id"] == .number(String(ProcessInfo.processInfo.processIdentifier)))
        let enqueued = try #require(members.enqueuedTime)
        #expect(abs(enqueued.timeIntervalSinceNow) < 3600)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func throwingHandlerDamagesTheMessageAndTheQueueMovesOn(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        for i in 1...3 { try producer.push(message(i), to: f.queueName) }
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        var handled: [Int] = []
        for _ in 1...3 {
            _ = try consumer.popAtomic(from: f.queueName) { m in
                let n = try number(m)
                if n == 2 { throw BookingRefused() }
                handled.append(n)
            }
        }
        #expect(handled == [1, 3])
        #expect(try s.queue.stats(f.queueName).waiting == 0)
        let damaged = try s.damaged.list(queue: f.queueName, limit: 10)
        try #require(damaged.count == 1)
        let record = damaged[0]
        #expect(record.error == "gross must be greater than 0")
        #expect(record.originalQueue == f.queueName)
        #expect(record.gateway == "paypal")
        #expect(record.orderID == "ord-2")
        #expect(record.gatewayTxnID == "txn-2")
        #expect(record.retryDate == nil)
        #expect(record.originalDate != nil)
        #expect(record.trace?.contains("BookingRefused") == true)
        #expect(try MessageValidator().validate(record.message)["n"] == .number("2"))
    }

    @Test(arguments: QueueBackendKind.allCases)
    func retryableFailureIsRequeuedWhenDue(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue).push(message(7), to: f.queueName)
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        _ = try consumer.popAtomic(from: f.queueName) { _ in throw TemporaryOutage() }
        let record = try #require(try s.damaged.list(queue: f.queueName, limit: 1).first)
        #expect(record.retryDate != nil)
        #expect(try s.queue.stats(f.queueName).waiting == 0)

        let requeued = try DamagedRequeuer(queue: s.queue, damaged: s.damaged).requeueDue()
        #expect(requeued == 1)
        #expect(try s.damaged.count(queue: f.queueName) == 0)
        var got: [Int] = []
        _ = try consumer.popAtomic(from: f.queueName) { got.append(try number($0)) }
        #expect(got == [7])
    }

    @Test(arguments: QueueBackendKind.allCases)
    func expiredLeaseRedeliversAndRefusesTheStaleReceipt(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue).push(message(1), to: f.queueName)
        let first = try s.queue.claim(from: f.queueName, limit: 1, lease: .milliseconds(150))
        try #require(first.count == 1)
        #expect(first[0].deliveries == 1)
        // Leased: nobody else gets it.
        #expect(try s.queue.claim(from: f.queueName, limit: 1, lease: .seconds(30)).isEmpty)
        #expect(try s.queue.stats(f.queueName).inFlight == 1)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try s.queue.stats(f.queueName).waiting == 1)
        let second = try s.queue.claim(from: f.queueName, limit: 1, lease: .seconds(30))
        try #require(second.count == 1)
        #expect(second[0].deliveries == 2)
        #expect(second[0].body == first[0].body)
        // The first consumer wakes up late: its acknowledgement is refused.
        #expect(try s.queue.acknowledge([first[0].receipt], in: f.queueName) == 0)
        #expect(try s.queue.acknowledge([second[0].receipt], in: f.queueName) == 1)
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func aMessageThatKeepsKillingItsConsumerIsDamagedAfterTheDeliveryLimit(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue).push(message(1), to: f.queueName)
        try QueueProducer(queue: s.queue).push(message(2), to: f.queueName)
        // Two consumers "die" holding message 1 (claim, never acknowledge).
        for _ in 1...2 {
            #expect(try s.queue.claim(from: f.queueName, limit: 1, lease: .milliseconds(50)).count == 1)
            Thread.sleep(forTimeInterval: 0.12)
        }
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged, policy: ConsumerPolicy(maximumDeliveries: 2))
        var handled: [Int] = []
        let summary = try consumer.popAtomic(from: f.queueName, maximum: 10) { handled.append(try number($0)) }
        #expect(handled == [2])
        #expect(summary.damaged == 1 && summary.acknowledged == 1)
        let record = try #require(try s.damaged.list(queue: f.queueName, limit: 1).first)
        #expect(record.error.contains("handed out 3 times without being acknowledged"))
        #expect(record.orderID == "ord-1")
    }

    @Test(arguments: QueueBackendKind.allCases)
    func consumerStopReleasesTheMessageUncounted(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        for i in 1...3 { try producer.push(message(i), to: f.queueName) }
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        var handled: [Int] = []
        #expect(throws: ConsumerStop.self) {
            _ = try consumer.popAtomic(from: f.queueName, maximum: 3) { m in
                let n = try number(m)
                if n == 2 { throw ConsumerStop("shutting down") }
                handled.append(n)
            }
        }
        #expect(handled == [1])
        #expect(try s.damaged.count(queue: f.queueName) == 0)
        let rest = try s.queue.claim(from: f.queueName, limit: 10, lease: .seconds(30))
        #expect(try rest.map(number) == [2, 3])
        #expect(rest.map(\.deliveries) == [1, 1])
    }

    @Test(arguments: QueueBackendKind.allCases)
    func batchPopJudgesEachMessageOnItsOwn(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue).push(contentsOf: (1...250).map { Array(message($0).utf8) }, to: f.queueName)
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        var total = PopSummary()
        var handled: [Int] = []
        while true {
            let summary = try consumer.popAtomic(from: f.queueName, maximum: 100) { m in
                let n = try number(m)
                if n % 10 == 0 { throw BookingRefused() }
                handled.append(n)
            }
            if summary.claimed == 0 { break }
            #expect(summary.claimed <= 100)
            total.add(summary)
        }
        #expect(total.claimed == 250)
        #expect(total.acknowledged == 225)
        #expect(total.damaged == 25)
        #expect(handled == (1...250).filter { $0 % 10 != 0 })
        #expect(try s.damaged.count(queue: f.queueName) == 25)
        #expect(try s.queue.stats(f.queueName).waiting == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func peekStatsAndAgeDoNotConsume(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        #expect(try s.queue.peek(f.queueName) == nil)
        #expect(try s.queue.stats(f.queueName).oldestEnqueuedAt == nil)
        let old = #"{"n":1,"source_enqueued_time":\#(Int(Date().timeIntervalSince1970) - 600)}"#
        try QueueProducer(queue: s.queue).push(old, to: f.queueName)
        try QueueProducer(queue: s.queue).push(message(2), to: f.queueName)
        for _ in 1...2 {
            let peeked = try #require(try s.queue.peek(f.queueName))
            #expect(try MessageValidator().validate(peeked)["n"] == .number("1"))
        }
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 2)
        #expect(stats.inFlight == 0)
        let age = try #require(stats.oldestAge())
        #expect(age >= 599 && age < 3600)
        #expect(try s.queue.queueNames().contains(f.queueName))
    }

    @Test(arguments: QueueBackendKind.allCases)
    func malformedInputIsRefusedAndNothingIsEnqueued(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        let producer = QueueProducer(queue: s.queue)
        let cases: [([UInt8], String)] = [
            (Array("not json".utf8), "not valid JSON"),
            (Array("[1, 2, 3]".utf8), "must be a JSON object, found an array"),
            (Array(#"{"x": ""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 2 << 20) + Array(#""}"#.utf8),
             "over the limit of 1048576 bytes"),
            (Array(#"{"name": ""#.utf8) + [0xff, 0xfe] + Array(#""}"#.utf8), "invalid UTF-8"),
        ]
        for (body, expected) in cases {
            do {
                try producer.push(body, to: f.queueName)
                Issue.record("accepted a malformed message (\(expected))")
            } catch let error as MessageError {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
        // A batch with one bad message pushes nothing, and names the culprit.
        do {
            try producer.push(contentsOf: [Array(message(1).utf8), Array("{oops".utf8)], to: f.queueName)
            Issue.record("accepted a batch with a malformed message")
        } catch let error as MessageError {
            #expect(error.description.hasPrefix("message 2: message is not valid JSON"))
        }
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func garbageWrittenBehindFundqsBackIsDamagedAtConsumeTimeWithoutBlockingTheQueue(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        // A foreign producer (the PHP frontend on Redis) writes straight into the list.
        try s.queue.append([Array("{truncated".utf8), [0xff, 0x00, 0x01], Array(message(3).utf8)], to: f.queueName)
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        var handled: [Int] = []
        let summary = try consumer.popAtomic(from: f.queueName, maximum: 10) { handled.append(try number($0)) }
        #expect(handled == [3])
        #expect(summary.damaged == 2)
        let records = try s.damaged.list(queue: f.queueName, limit: 10).sorted { $0.id < $1.id }
        try #require(records.count == 2)
        #expect(records[0].error.contains("not valid JSON"))
        #expect(records[0].message == Array("{truncated".utf8))
        #expect(records[1].message == [0xff, 0x00, 0x01])
    }

    @Test(arguments: QueueBackendKind.allCases)
    func fourProducersAndFourConsumersLoseAndDoubleNothing(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let perProducer = 2_500
        let total = 4 * perProducer
        let log = DeliveryLog()
        let configuration = f.configuration
        let queueName = f.queueName
        try runOnThreads(8) { index, failures in
            let s = try Storage(configuration)
            if index < 4 {
                let producer = QueueProducer(queue: s.queue)
                for i in 0..<perProducer {
                    try producer.push(#"{"id":"\#(index)-\#(i)"}"#, to: queueName)
                }
            } else {
                let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
                let deadline = Date().addingTimeInterval(120)
                while log.total < total && Date() < deadline && !failures.failed {
                    let summary = try consumer.popAtomic(from: queueName, maximum: index == 4 ? 1 : 25) { m in
                        log.record(try #require(m.members()["id"]?.scalarText))
                    }
                    if summary.claimed == 0 { Thread.sleep(forTimeInterval: 0.005) }
                }
            }
        }
        let counts = log.counts
        #expect(counts.count == total, "distinct messages delivered")
        #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts.filter { $0.value > 1 }.count) delivered twice")
        let s = try f.open()
        let stats = try s.queue.stats(queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
        #expect(try s.damaged.count(queue: queueName) == 0)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func aHugeClaimIsCappedAndLosesNothing(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue).push(contentsOf: (0..<2_500).map { Array(message($0).utf8) }, to: f.queueName)
        let claimed = try s.queue.claim(from: f.queueName, limit: 2_500, lease: .seconds(60))
        #expect(claimed.count == (kind == .redis ? RedisQueue.maximumClaim : 2_500))
        #expect(try claimed.map(number) == Array(0..<claimed.count))
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting + stats.inFlight == 2_500)
        #expect(stats.inFlight == claimed.count)
        #expect(try s.queue.acknowledge(claimed.map(\.receipt), in: f.queueName) == claimed.count)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func messagesWhoseLeaseIsNearlyOverAreReleasedNotHandled(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let s = try f.open()
        try QueueProducer(queue: s.queue).push(contentsOf: (1...5).map { Array(message($0).utf8) }, to: f.queueName)
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged, policy: ConsumerPolicy(lease: .milliseconds(500)))
        var handled: [Int] = []
        let summary = try consumer.popAtomic(from: f.queueName, maximum: 5) { m in
            handled.append(try number(m))
            Thread.sleep(forTimeInterval: 0.6)  // past 80% of the 500 ms lease
        }
        // The rest go back unjudged and uncounted.
        #expect(handled == [1])
        #expect(summary.acknowledged == 1 && summary.released == 4)
        let rest = try s.queue.claim(from: f.queueName, limit: 10, lease: .seconds(30))
        #expect(try rest.map(number) == [2, 3, 4, 5])
        #expect(rest.map(\.deliveries) == [1, 1, 1, 1])
    }
}
