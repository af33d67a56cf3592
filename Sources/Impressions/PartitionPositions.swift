/// Which partitions a consumer holds and how far each has got: the stored
/// offset (in the database), the next offset expected from Kafka, and the
/// end of the batch in hand. Pure state, no I/O.
struct PartitionPositions {
    struct Entry: Equatable {
        /// The offset stored in the database (nil: none yet).
        var stored: Int64?
        /// The next offset to accept (nil: any, reading from the beginning).
        var next: Int64?
        /// The offset after the last message in the batch in hand.
        var batchEnd: Int64?
    }

    private(set) var entries: [Int32: Entry] = [:]

    /// Partitions assigned, each starting at its stored offset.
    mutating func assigned(_ offsets: [Int32: Int64?]) {
        for (p, o) in offsets { entries[p] = Entry(stored: o, next: o, batchEnd: nil) }
    }

    /// Partitions taken away.
    mutating func revoked(_ partitions: [Int32]) {
        for p in partitions { entries[p] = nil }
    }

    /// Whether a message at `offset` of `partition` goes into the batch: only
    /// for a partition held, and never twice (a message before the position
    /// is a leftover of an earlier assignment).
    mutating func accept(_ partition: Int32, _ offset: Int64) -> Bool {
        guard var e = entries[partition] else { return false }
        if let next = e.next, offset < next { return false }
        e.next = offset + 1
        e.batchEnd = offset + 1
        entries[partition] = e
        return true
    }

    /// The partitions in the batch in hand: from their stored offset to the batch's end.
    var progress: [PartitionProgress] {
        entries.compactMap { p, e in e.batchEnd.map { PartitionProgress(partition: p, from: e.stored, to: $0) } }
            .sorted { $0.partition < $1.partition }
    }

    /// The batch was committed: its ends are the stored offsets now.
    mutating func committed() {
        for (p, e) in entries {
            guard let end = e.batchEnd else { continue }
            entries[p] = Entry(stored: end, next: e.next, batchEnd: nil)
        }
    }

    /// The batch was dropped (another consumer moved the offsets, or it could
    /// not be written): every partition held restarts at `stored`; returns
    /// where to read each from.
    mutating func restart(from stored: [Int32: Int64]) -> [Int32: Int64?] {
        var seek: [Int32: Int64?] = [:]
        for p in entries.keys {
            entries[p] = Entry(stored: stored[p], next: stored[p], batchEnd: nil)
            seek[p] = stored[p]
        }
        return seek
    }
}
