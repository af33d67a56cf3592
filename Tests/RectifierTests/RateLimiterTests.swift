import Backends
import Foundation
import FundqTestSupport
@testable import Rectifier
import SQLiteDriver
import Testing

/// Call slots: each processor's paced on its own schedule, a block reserved
/// from the store at a time, whether or not the processor was named when
/// the limiter was made.
@Suite("Rectifier rate limiter")
struct RateLimiterTests {
    /// The pool's call slots live in the queues' Redis, reached as the queues
    /// reach it: with the password from the environment, a file or the
    /// secrets file (the URL alone was used, and a Redis with a password
    /// refused every reservation).
    @Test func theSharedSlotsReachRedisWithTheQueuesPassword() throws {
        let password = "slots-pw-\(UUID().uuidString.prefix(8))"
        let redis = try RedisServer(password: password)
        let dir = try TemporaryDirectory()
        let storage = StorageConfiguration(queueURL: redis.url, dataDirectory: dir.path, environment: ["FUNDQ_QUEUE_PASSWORD": password])
        let slots = try RectifierPool.sharedSlots(storage, sqliteWriteGate: SQLiteWriteGate())
        #expect(slots is RedisCallSlots)
        #expect(try slots.reserve("paypal", count: 10, interval: 0.1, now: 100) == 100)
        #expect(try slots.reserve("paypal", count: 1, interval: 0.1, now: 100) == 101, "the second block starts where the first ended")
        let without = StorageConfiguration(queueURL: redis.url, dataDirectory: dir.path, environment: [:])
        #expect(throws: (any Error).self) { try RectifierPool.sharedSlots(without, sqliteWriteGate: SQLiteWriteGate()).reserve(
            "paypal", count: 1, interval: 0.1, now: 100) }
    }

    @Test func eachProcessorTakesConsecutiveSlotsFromItsOwnReservedBlock() throws {
        let limiter = ProcessorRateLimiter(store: LocalCallSlots(), processors: ["named"])
        for name in ["named", "unnamed"] {
            // 100 calls a second: blocks of 5 slots 10 ms apart.
            let slots = try (0..<7).map { _ in try limiter.takeSlot(name, ratePerSecond: 100, now: 1_000) }
            let expected = (0..<7).map { 1_000 + Double($0) * 0.01 }
            #expect(zip(slots, expected).allSatisfy { abs($0 - $1) < 1e-9 }, "\(name): \(slots)")
        }
        // Another processor's schedule is its own: it starts at `now`, not after the others' slots.
        #expect(try limiter.takeSlot("third", ratePerSecond: 100, now: 1_000) == 1_000)
    }

    /// A claim takes at most one turn's worth of rows at the worker's share
    /// of the rate, so another rectifier sharing a slow rate finds rows too.
    @Test func aClaimTakesAtMostOneTurnAtTheWorkersShareOfTheRate() {
        func size(_ rate: Double, _ concurrency: Int) -> Int {
            Rectifier.claimSize(batchSize: 100, ratePerSecond: rate, concurrency: concurrency, turn: .seconds(5))
        }
        #expect(size(10_000, 4) == 100, "a fast processor: the batch size")
        #expect(size(40, 4) == 50, "40 calls/s over 4 workers for 5 s")
        #expect(size(5, 4) == 6)
        #expect(size(0.01, 4) == 1, "never less than one row")
        #expect(size(40, 0) == 100, "no concurrency configured counts as one worker")
    }
}
