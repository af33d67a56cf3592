import Core
import Foundation
import Rectifier
import Testing

/// The decision batch alone, with no I/O: when a batch must be written and
/// what it writes, in which order.
@Suite("Rectifier decision batch")
struct DecisionBatchTests {
    static let claimed = Date(timeIntervalSince1970: 1_764_600_000)

    static func donation(_ order: String) -> RowWrite {
        .complete(queue: "donations", message: ["order_id": .string(order), "gateway": .string("paypal")])
    }

    @Test func aBatchIsDueWhenFullNotBefore() {
        var batch = DecisionBatch<Int>(capacity: 3, maximumWait: .seconds(150))
        #expect(!batch.isDue(now: Self.claimed), "an empty batch is never due")
        batch.add(1, write: Self.donation("o-1"), claimedAt: Self.claimed)
        batch.add(2, write: .resolve(.failed), claimedAt: Self.claimed)
        #expect(!batch.isDue(now: Self.claimed), "two completions and a failure wait for the third: no write per completion")
        batch.add(3, write: Self.donation("o-3"), claimedAt: Self.claimed)
        #expect(batch.isDue(now: Self.claimed))
    }

    @Test func aDecisionNeverWaitsPastHalfItsRowsLease() {
        var batch = DecisionBatch<Int>(capacity: 50, maximumWait: .seconds(150))
        let later = Self.claimed.addingTimeInterval(100)
        batch.add(1, write: .resolve(.timeout), claimedAt: later)
        batch.add(2, write: .resolve(.timeout), claimedAt: Self.claimed)  // claimed earlier, decided later
        #expect(!batch.isDue(now: Self.claimed.addingTimeInterval(149)))
        #expect(batch.isDue(now: Self.claimed.addingTimeInterval(150)), "the oldest claim counts, not the first added")
        _ = batch.take()
        batch.add(3, write: .resolve(.timeout), claimedAt: later)
        #expect(!batch.isDue(now: Self.claimed.addingTimeInterval(150)), "a taken batch forgets its oldest claim")
        #expect(batch.isDue(now: later.addingTimeInterval(150)))
    }

    @Test func aBatchPushesEachQueueOnceInDecisionOrderThenWritesEveryRow() {
        var batch = DecisionBatch<String>(capacity: 10, maximumWait: .seconds(150))
        batch.add("a", write: Self.donation("o-1"), claimedAt: Self.claimed)
        batch.add("b", write: .review("why"), claimedAt: Self.claimed)
        batch.add("c", write: .complete(queue: "recurring", message: ["subscr_id": .string("I-1")]), claimedAt: Self.claimed)
        batch.add("d", write: Self.donation("o-4"), claimedAt: Self.claimed)
        batch.add("e", write: .nothing, claimedAt: Self.claimed)
        let write = batch.take()
        #expect(write.entries == ["a", "b", "c", "d", "e"], "every decision is written, completed or not, in order")
        #expect(write.pushes.map(\.queue) == ["donations", "recurring"], "one push per queue")
        #expect(write.pushes[0].messages.map { $0["order_id"] } == [.string("o-1"), .string("o-4")])
        #expect(write.pushes[1].messages.count == 1)
        #expect(batch.isEmpty && batch.take().entries.isEmpty && batch.take().pushes.isEmpty, "taken once")
    }

    @Test func aBatchWithoutCompletionsPushesNothing() {
        var batch = DecisionBatch<Int>(capacity: 0, maximumWait: .seconds(150))
        #expect(batch.capacity == 1, "a capacity under one is one")
        batch.add(1, write: .attempt(next: Self.claimed), claimedAt: Self.claimed)
        #expect(batch.isDue(now: Self.claimed))
        let write = batch.take()
        #expect(write.pushes.isEmpty && write.entries == [1])
    }
}
