/// Which partitions a consumer holds and how far each has got: the stored
/// offset (in the database), the next offset expected from Kafka, and the
/// end of its messages in each batch in hand. Pure state, no I/O.
///
/// A batch completes one minute of the stream. The batches in hand are the
/// batch of the oldest minute and the batches of the minutes after it, up
/// to ``batchesInHand`` (the last also takes any later minute): once a
/// partition brings an event of a later minute, its messages go to that
/// minute's batch, and the oldest batch is whole when every partition that
/// brought messages to it has moved on. Each minute's keys are then written
/// once instead of once per batch that cut through it, even while one
/// partition runs ahead of the others. A partition's messages stay in
/// offset order: a late event after its partition moved on goes with the
/// later batch.
struct PartitionPositions {
    /// Batches in hand: the oldest minute's and the two after it.
    static let batchesInHand = 3

    struct Entry: Equatable {
        /// The offset stored in the database (nil: none yet).
        var stored: Int64?
        /// The next offset to accept (nil: any, reading from the beginning).
        var next: Int64?
        /// For each batch in hand, the offset after this partition's last
        /// message in it (nil: none there).
        var ends: [Int64?] = Array(repeating: nil, count: PartitionPositions.batchesInHand)
        /// The batch this partition's messages go to now (never back: offsets stay in order).
        var batch = 0
    }

    private(set) var entries: [Int32: Entry] = [:]
    /// The minute of the oldest batch in hand, unix seconds (nil: no counted event yet).
    private(set) var batchMinute: Int64?

    /// Partitions assigned, each starting at its stored offset.
    mutating func assigned(_ offsets: [Int32: Int64?]) {
        for (p, o) in offsets { entries[p] = Entry(stored: o, next: o) }
    }

    /// Partitions taken away.
    mutating func revoked(_ partitions: [Int32]) {
        for p in partitions { entries[p] = nil }
        if !hasMessages { batchMinute = nil }
    }

    /// Which batch in hand a message at `offset` of `partition` goes to
    /// (0: the oldest); nil for a partition not held or a message before its
    /// position (a leftover of an earlier assignment: never twice). `minute`
    /// is a counted event's minute, unix seconds (nil for a skipped or invalid one). One
    /// hash lookup per message.
    mutating func accept(_ partition: Int32, _ offset: Int64, minute: Int64?) -> Int? {
        guard let i = entries.index(forKey: partition) else { return nil }
        return Self.accept(&entries.values[i], offset, minute: minute, batchMinute: &batchMinute)
    }

    private static func accept(_ e: inout Entry, _ offset: Int64, minute: Int64?, batchMinute: inout Int64?) -> Int? {
        if let next = e.next, offset < next { return nil }
        e.next = offset + 1
        if let minute {
            if batchMinute == nil { batchMinute = minute }
            let later = (minute - (batchMinute ?? minute)) / 60
            if later > Int64(e.batch) { e.batch = Int(min(later, Int64(batchesInHand - 1))) }
        }
        e.ends[e.batch] = offset + 1
        return e.batch
    }

    /// Whether the oldest batch holds its whole minute: some partition has
    /// moved on, and every partition that brought messages to it has.
    var minuteComplete: Bool {
        entries.values.contains { $0.batch > 0 } && entries.values.allSatisfy { $0.batch > 0 || $0.ends[0] == nil }
    }

    /// The partitions the oldest batch waits on to complete its minute
    /// (they brought messages but no later minute yet), with the next offset of each.
    var awaited: [Int32: Int64] {
        var out: [Int32: Int64] = [:]
        for (p, e) in entries where e.ends[0] != nil && e.batch == 0 { out[p] = e.next }
        return out
    }

    /// Whether any batch in hand has messages.
    var hasMessages: Bool { entries.values.contains { $0.ends.contains { $0 != nil } } }

    /// The partitions in the oldest batch: from their stored offset to the batch's end.
    var progress: [PartitionProgress] {
        entries.compactMap { p, e in e.ends[0].map { PartitionProgress(partition: p, from: e.stored, to: $0) } }
            .sorted { $0.partition < $1.partition }
    }

    /// The oldest batch was handed over: its ends are the stored offsets
    /// now, and the next minute's batch is the oldest.
    mutating func committed() {
        for (p, e) in entries {
            var moved = e
            moved.stored = e.ends[0] ?? e.stored
            moved.ends = Array(e.ends.dropFirst()) + [nil]
            moved.batch = max(0, e.batch - 1)
            entries[p] = moved
        }
        batchMinute = hasMessages ? batchMinute.map { $0 + 60 } : nil
    }

    /// The batches were dropped (another consumer moved the offsets, or one
    /// could not be written): every partition held restarts at `stored`;
    /// returns where to read each from.
    mutating func restart(from stored: [Int32: Int64]) -> [Int32: Int64?] {
        var seek: [Int32: Int64?] = [:]
        for p in entries.keys {
            entries[p] = Entry(stored: stored[p], next: stored[p])
            seek[p] = stored[p]
        }
        batchMinute = nil
        return seek
    }
}
