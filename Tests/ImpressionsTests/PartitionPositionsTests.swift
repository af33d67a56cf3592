import Foundation
@testable import Impressions
import Testing

/// The Kafka loader's offset bookkeeping: which batch each message goes
/// to, and which offsets a batch moves (pure state, no broker).
@Suite("Partition positions")
struct PartitionPositionsTests {
    /// The batch in hand (0: the oldest) each message goes to when `messages`
    /// (partition, offset, minute in unix seconds) arrive in order.
    func route(_ positions: inout PartitionPositions, _ messages: [(Int32, Int64, Int64?)]) -> [Int?] {
        messages.map { p, o, m in positions.accept(p, o, minute: m) }
    }

    @Test func aBatchEndsAtItsMinuteOnEveryPartition() {
        var positions = PartitionPositions()
        positions.assigned([0: nil, 1: 10])
        // Partition 0 reaches minute 61 first; partition 1 lags behind in minute 60.
        #expect(route(&positions, [(0, 0, 3600), (0, 1, nil), (0, 2, 3660), (1, 10, 3600), (0, 3, 3600), (1, 11, 3600)])
                == [0, 0, 1, 0, 1, 0])
        // Minute 60 is not whole while partition 1 has not moved on; then it jumps to minute 62.
        #expect(!positions.minuteComplete)
        #expect(positions.awaited == [1: 12])
        #expect(route(&positions, [(1, 12, 3720), (1, 13, 3660)]) == [2, 2])
        #expect(positions.minuteComplete && positions.awaited.isEmpty)
        #expect(positions.progress == [PartitionProgress(partition: 0, from: nil, to: 2),
                                       PartitionProgress(partition: 1, from: 10, to: 12)])
        positions.committed()
        // Minute 61's batch is the oldest now: partition 0's messages 2 and 3 so far.
        #expect(positions.batchMinute == 3660)
        #expect(positions.progress == [PartitionProgress(partition: 0, from: 2, to: 4)])
        #expect(!positions.minuteComplete)
        #expect(route(&positions, [(0, 4, 3660), (1, 14, 3720), (0, 5, 3720)]) == [0, 1, 1])
        #expect(positions.minuteComplete)
        positions.committed()
        // Minute 62: partition 1 from its stored offset 12 (messages 12 to 14), partition 0 from 5.
        #expect(positions.batchMinute == 3720)
        #expect(positions.progress == [PartitionProgress(partition: 0, from: 5, to: 6), PartitionProgress(partition: 1, from: 12, to: 15)])
        positions.committed()
        #expect(positions.progress.isEmpty && !positions.hasMessages && positions.batchMinute == nil)
    }

    @Test func aMinuteFarAheadGoesToTheLastBatchInHandAndAPartitionNeverGoesBack() {
        var positions = PartitionPositions()
        positions.assigned([0: nil])
        #expect(route(&positions, [(0, 0, 3600), (0, 1, 3900), (0, 2, 3660), (0, 3, nil)]) == [0, 2, 2, 2])
        positions.committed()
        #expect(positions.batchMinute == 3660 && positions.progress.isEmpty)
        positions.committed()
        #expect(positions.progress == [PartitionProgress(partition: 0, from: 1, to: 4)])
    }

    @Test func nothingIsTakenTwiceOrFromAPartitionNotHeld() {
        var positions = PartitionPositions()
        positions.assigned([0: 5])
        #expect(route(&positions, [(0, 4, 3600), (1, 0, 3600), (0, 5, 3600), (0, 6, 3660), (0, 6, 3660), (0, 5, 3600)])
                == [nil, nil, 0, 1, nil, nil])
        #expect(positions.progress == [PartitionProgress(partition: 0, from: 5, to: 6)])
        // A restart forgets every batch in hand and reads again from the stored offsets.
        #expect(positions.restart(from: [0: 5]) == [0: 5])
        #expect(positions.progress.isEmpty && !positions.hasMessages && positions.batchMinute == nil)
        #expect(route(&positions, [(0, 5, 3660)]) == [0])
    }

    @Test func aPartitionWithoutMessagesDoesNotHoldTheMinuteBack() {
        var positions = PartitionPositions()
        positions.assigned([0: nil, 1: nil, 2: nil])
        _ = route(&positions, [(0, 0, 3600), (2, 0, 3600), (0, 1, 3660)])
        #expect(!positions.minuteComplete)
        _ = route(&positions, [(2, 1, 3660)])
        #expect(positions.minuteComplete)
    }

    @Test func shortDecimalsReadAsStrtodReadsThem() {
        var texts = ["0", "1", "0.5", "0.25", "0.1", "0.01", "0.001", "0.000001", "1.0", "0.3", "0.7", "123456789012345",
                     "0.123456789012345", "99999999.9999999"]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let digits = String(UInt64.random(in: 0..<1_000_000_000_000_000, using: &generator))
            let point = Int.random(in: 0...digits.count, using: &generator)
            texts.append(point == digits.count ? digits : String(digits.prefix(point)) + "." + String(digits.dropFirst(point)))
        }
        for text in texts {
            let bytes = Array(text.utf8)
            let fast = bytes.withUnsafeBufferPointer { ImpressionRules.shortDecimal(ByteSpan($0.baseAddress!, $0.count)) }
            let digitCount = bytes.filter { $0 != UInt8(ascii: ".") }.count
            if digitCount > 15 {
                #expect(fast == nil, "\(text)")
            } else {
                #expect(fast == strtod(text, nil), "\(text)")
            }
        }
        for other in ["-0.5", "1e-2", "1E2", "0.5e0"] {
            let bytes = Array(other.utf8)
            #expect(bytes.withUnsafeBufferPointer { ImpressionRules.shortDecimal(ByteSpan($0.baseAddress!, $0.count)) } == nil)
        }
    }

    @Test func packedKeysSortAsMemcmp() {
        var generator = SystemRandomNumberGenerator()
        var arena: [UInt8] = []
        var entries: [PackedCounts.Entry] = []
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...40, using: &generator)
            // Few byte values, so that long common prefixes are frequent.
            let key = (0..<length).map { _ in UInt8.random(in: 0...2, using: &generator) * 120 }
            entries.append(PackedCounts.Entry(offset: arena.count, length: length, count: 1))
            arena += key
        }
        arena.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress!
            for _ in 0..<20_000 {
                let a = entries.randomElement()!, b = entries.randomElement()!
                let c = memcmp(base + a.offset, base + b.offset, min(a.length, b.length))
                #expect(PackedCounts.precedes(a, b, in: base) == (c != 0 ? c < 0 : a.length < b.length))
            }
        }
    }

    @Test func consecutiveBatchesJoinTheirProgressAndAGapKeepsThemApart() {
        func p(_ partition: Int32, _ from: Int64?, _ to: Int64) -> PartitionProgress {
            PartitionProgress(partition: partition, from: from, to: to)
        }
        // Partition 2 is only in the second batch; partition 0 runs through both.
        #expect(PartitionProgress.joined([[p(0, nil, 5), p(1, 10, 12)], [p(0, 5, 9), p(2, 3, 4)], [p(1, 12, 20)]])
                == [p(0, nil, 9), p(1, 10, 20), p(2, 3, 4)])
        #expect(PartitionProgress.joined([[p(0, 0, 5)], [p(0, 6, 9)]]) == nil, "offset 5 would be skipped")
        #expect(PartitionProgress.joined([[p(0, 0, 5)], [p(0, nil, 9)]]) == nil)
    }

    @Test func theWriterTakesTheWaitingBatchesOfOneGenerationThatFollowOn() {
        func write(_ generation: Int, _ from: Int64, _ to: Int64) -> PendingWrite {
            PendingWrite(batch: ImpressionBatch().sealed(), progress: [PartitionProgress(partition: 0, from: from, to: to)],
                         generation: generation)
        }
        // Generation 2's batches follow on from generation 1's offsets, and still are not taken with them.
        let queue = [write(1, 0, 5), write(1, 5, 9), write(1, 9, 12), write(2, 12, 14), write(2, 14, 16)]
        #expect(BatchWriter.nextGroup(queue)?.writes.map(\.progress[0].to) == [5, 9, 12])
        #expect(BatchWriter.nextGroup(Array(queue.dropFirst(3)))?.writes.map(\.progress[0].to) == [14, 16])
        #expect(BatchWriter.nextGroup([write(1, 0, 5), write(1, 7, 9)])?.writes.count == 1, "not consecutive: one at a time")
        #expect(BatchWriter.nextGroup([]) == nil)
    }
}
