/// Which partitions a consumer holds and how far each has got: the stored
/// offset (in the database), the next offset expected from Kafka, the end
/// of the batch in hand and the end of the messages held for the batch
/// after it. Pure state, no I/O.
///
/// A batch completes one minute of the stream: once a partition brings an
/// event of a later minute, that partition's messages are held for the
/// next batch, and the batch is whole when every partition that brought
/// messages has moved on. Each minute's keys are then written once instead
/// of once per batch that cut through it (a partition's messages stay in
/// offset order: one late event after the cut waits with the next batch).
struct PartitionPositions {
    struct Entry: Equatable {
        /// The offset stored in the database (nil: none yet).
        var stored: Int64?
        /// The next offset to accept (nil: any, reading from the beginning).
        var next: Int64?
        /// The offset after the last message in the batch in hand.
        var batchEnd: Int64?
        /// The offset after the last message held for the next batch (nil:
        /// this partition has not reached a later minute yet).
        var heldEnd: Int64?
    }

    /// Where an accepted message goes.
    enum Destination: Equatable {
        /// Into the batch in hand.
        case batch
        /// Into the next batch: its partition has reached a later minute.
        case held
    }

    private(set) var entries: [Int32: Entry] = [:]
    /// The minute the batch in hand completes (nil: no counted event yet).
    private(set) var batchMinute: Int64?
    /// The earliest later minute a partition reached (the next batch's minute).
    private(set) var heldMinute: Int64?

    /// Partitions assigned, each starting at its stored offset.
    mutating func assigned(_ offsets: [Int32: Int64?]) {
        for (p, o) in offsets { entries[p] = Entry(stored: o, next: o, batchEnd: nil, heldEnd: nil) }
    }

    /// Partitions taken away.
    mutating func revoked(_ partitions: [Int32]) {
        for p in partitions { entries[p] = nil }
        if entries.values.allSatisfy({ $0.batchEnd == nil && $0.heldEnd == nil }) { (batchMinute, heldMinute) = (nil, nil) }
    }

    /// Where a message at `offset` of `partition` goes: nil for a
    /// partition not held or a message before its position (a leftover of
    /// an earlier assignment: never twice). `minute` is a counted event's minute (nil for a
    /// skipped or invalid one). One hash lookup per message.
    mutating func accept(_ partition: Int32, _ offset: Int64, minute: Int64?) -> Destination? {
        guard let i = entries.index(forKey: partition) else { return nil }
        return Self.accept(&entries.values[i], offset, minute: minute, batchMinute: &batchMinute, heldMinute: &heldMinute)
    }

    private static func accept(_ e: inout Entry, _ offset: Int64, minute: Int64?, batchMinute: inout Int64?,
                               heldMinute: inout Int64?) -> Destination? {
        if let next = e.next, offset < next { return nil }
        e.next = offset + 1
        if e.heldEnd == nil, let minute, let current = batchMinute, minute > current {
            heldMinute = min(heldMinute ?? minute, minute)
            e.heldEnd = offset + 1
        }
        if e.heldEnd != nil {
            e.heldEnd = offset + 1
            return .held
        }
        if batchMinute == nil { batchMinute = minute }
        e.batchEnd = offset + 1
        return .batch
    }

    /// Whether the batch in hand holds its whole minute: every partition
    /// that brought messages has reached a later one.
    var minuteComplete: Bool {
        heldMinute != nil && entries.values.allSatisfy { $0.heldEnd != nil || $0.batchEnd == nil }
    }

    /// The partitions the batch in hand waits on to complete its minute
    /// (they brought messages but no later minute yet), with the next offset of each.
    var awaited: [Int32: Int64] {
        var out: [Int32: Int64] = [:]
        for (p, e) in entries where e.batchEnd != nil && e.heldEnd == nil { out[p] = e.next }
        return out
    }

    /// Whether messages wait for the next batch.
    var hasHeld: Bool { heldMinute != nil }

    /// The partitions in the batch in hand: from their stored offset to the batch's end.
    var progress: [PartitionProgress] {
        entries.compactMap { p, e in e.batchEnd.map { PartitionProgress(partition: p, from: e.stored, to: $0) } }
            .sorted { $0.partition < $1.partition }
    }

    /// The batch in hand was handed over: its ends are the stored offsets
    /// now, and the held messages are the batch in hand.
    mutating func committed() {
        for (p, e) in entries {
            entries[p] = Entry(stored: e.batchEnd ?? e.stored, next: e.next, batchEnd: e.heldEnd, heldEnd: nil)
        }
        (batchMinute, heldMinute) = (heldMinute, nil)
    }

    /// The batch was dropped (another consumer moved the offsets, or it could
    /// not be written): every partition held restarts at `stored`; returns
    /// where to read each from.
    mutating func restart(from stored: [Int32: Int64]) -> [Int32: Int64?] {
        var seek: [Int32: Int64?] = [:]
        for p in entries.keys {
            entries[p] = Entry(stored: stored[p], next: stored[p], batchEnd: nil, heldEnd: nil)
            seek[p] = stored[p]
        }
        (batchMinute, heldMinute) = (nil, nil)
        return seek
    }
}
