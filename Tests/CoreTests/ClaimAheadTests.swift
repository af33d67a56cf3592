import Backends
import Core
import Foundation
import FundqTestSupport
import RedisDriver
import Testing

struct DatabaseDown: Error, CustomStringConvertible {
    var description: String { "database unreachable" }
}

/// ``QueueConsumer/claimAhead`` on a real redis-server: the next batch is
/// claimed on a second connection while a batch is handled; nothing is
/// lost, doubled or held. (A `consume tracking --daemon` child claiming
/// ahead is SIGKILLed mid-run in TrackingPropertyTests, exact counts asserted.)
@Suite("Queue consumer claiming ahead")
struct ClaimAheadTests {
    func consumer(_ f: QueueFixture, _ s: Storage, outage: Bool = false, acknowledgement: AcknowledgementTiming = .withNextClaim,
                  lease: Duration? = nil) throws -> QueueConsumer {
        let url = try #require(try f.configuration.redisURL())
        var policy = ConsumerPolicy(acknowledgement: acknowledgement)
        if let lease { policy.lease = lease }
        if outage { policy.classify = { _ in .outage } }
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged, policy: policy)
        consumer.claimAhead = ClaimAhead(open: { RedisQueue(url: url) })
        return consumer
    }

    func push(_ count: Int, _ f: QueueFixture, _ s: Storage) throws {
        let producer = QueueProducer(queue: s.queue)
        for i in 1...count { try producer.push(message(i), to: f.queueName) }
    }

    @Test func everyMessageIsHandledOnceInOrderAndAcknowledgedAfterItsHandler() throws {
        let f = try QueueFixture(.redis)
        let s = try f.open()
        try push(10, f, s)
        let consumer = try consumer(f, s)
        var seen: [Int] = []
        var calls = 0
        while true {
            let summary = try consumer.popAtomicBatch(from: f.queueName, maximum: 3) { batch in
                seen += try batch.map(number)
                return batch.map { _ in .handled("done") }
            }
            calls += 1
            if calls == 1 {
                // The first batch's acknowledgements wait for a later claim: all 10 are still queued or leased.
                let stats = try s.queue.stats(f.queueName)
                #expect(stats.waiting + stats.inFlight == 10)
            }
            if summary.claimed == 0 { break }
            #expect(summary.acknowledged == summary.claimed)
        }
        #expect(try consumer.flush() == 0)
        #expect(seen == Array(1...10))
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }

    /// A batch claimed ahead and asked for only after its lease has run out
    /// (the previous batch took that long), while another consumer has
    /// claimed and handled those messages, is not handed out: it is given
    /// back and a fresh batch claimed. Each message is handled once.
    @Test func aBatchClaimedAheadIsNotHandedOutOnceMostOfItsLeaseHasPassed() throws {
        let f = try QueueFixture(.redis)
        let s = try f.open()
        try push(6, f, s)
        // Acknowledged at once: the first batch is settled before the wait, whatever the timing.
        let consumer = try consumer(f, s, acknowledgement: .immediately, lease: .seconds(2))
        var seen: [Int] = []
        func pop() throws -> PopSummary {
            try consumer.popAtomicBatch(from: f.queueName, maximum: 3) { batch in
                seen += try batch.map(number)
                return batch.map { _ in .handled("done") }
            }
        }
        #expect(try pop().acknowledged == 3 && seen == [1, 2, 3])
        // Messages 4–6 are claimed ahead as soon as 1–3 are handed over; once that claim is made, the whole lease passes.
        for _ in 0..<200 where try s.queue.stats(f.queueName).waiting > 0 { Thread.sleep(forTimeInterval: 0.01) }
        #expect(try s.queue.stats(f.queueName).waiting == 0)
        Thread.sleep(forTimeInterval: 2.2)
        // Another consumer takes the expired leases and handles the messages.
        let other = try s.queue.claim(from: f.queueName, limit: 10, lease: .seconds(60))
        let otherSeen = try other.map(number)
        #expect(otherSeen == [4, 5, 6])
        #expect(try s.queue.acknowledge(other.map(\.receipt), in: f.queueName) == 3)
        for _ in 0..<3 { _ = try pop() }
        #expect(try consumer.flush() == 0)
        #expect((seen + otherSeen).sorted() == Array(1...6), "each handled once: \(seen) and \(otherSeen)")
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }

    @Test func aFailedHandlerGivesBackItsBatchAndTheOneClaimedAheadUncounted() throws {
        let f = try QueueFixture(.redis)
        let s = try f.open()
        try push(10, f, s)
        let failing = try consumer(f, s, outage: true)
        var calls = 0
        _ = try failing.popAtomicBatch(from: f.queueName, maximum: 3) { batch in batch.map { _ in .handled("done") } }
        #expect(throws: DatabaseDown.self) {
            try failing.popAtomicBatch(from: f.queueName, maximum: 3) { _ in
                calls += 1
                throw DatabaseDown()
            }
        }
        #expect(calls == 1)
        // Messages 1-3 acknowledged; 4-6 (failed) and 7-9 (claimed ahead) given back at once, uncounted.
        var stats = try s.queue.stats(f.queueName)
        #expect(stats.inFlight == 0 && stats.waiting == 7)
        let next = try consumer(f, s)
        var seen: [Int] = []
        var deliveries: Set<Int> = []
        while try next.popAtomicBatch(from: f.queueName, maximum: 4, handler: { batch in
            seen += try batch.map(number)
            deliveries.formUnion(batch.map(\.deliveries))
            return batch.map { _ in .handled("done") }
        }).claimed > 0 {}
        try next.flush()
        #expect(seen == Array(4...10))
        #expect(deliveries == [1])
        stats = try s.queue.stats(f.queueName)
        #expect(stats.waiting == 0 && stats.inFlight == 0)
        #expect(try s.damaged.count(queue: f.queueName) == 0)
    }

    @Test func aSmallerMaximumAndAFlushGiveBackWhatWasClaimedAhead() throws {
        let f = try QueueFixture(.redis)
        let s = try f.open()
        try push(10, f, s)
        let consumer = try consumer(f, s)
        var seen: [Int] = []
        let handler: ([DeliveredMessage]) throws -> [MessageVerdict] = { batch in
            seen += try batch.map(number)
            return batch.map { _ in .handled("done") }
        }
        #expect(try consumer.popAtomicBatch(from: f.queueName, maximum: 4, handler: handler).claimed == 4)
        // Messages 5-8 were claimed ahead for a batch of 4; the caller now wants 1.
        #expect(try consumer.popAtomicBatch(from: f.queueName, maximum: 1, handler: handler).claimed == 1)
        try consumer.flush()
        #expect(seen == [1, 2, 3, 4, 5])
        let stats = try s.queue.stats(f.queueName)
        #expect(stats.inFlight == 0 && stats.waiting == 5)
        let rest = try self.consumer(f, s)
        while try rest.popAtomicBatch(from: f.queueName, maximum: 3, handler: handler).claimed > 0 {}
        try rest.flush()
        #expect(seen == Array(1...10))
        #expect(try s.queue.stats(f.queueName).inFlight == 0)
    }
}
