public import Foundation

/// Puts damaged messages back on their queue: the requeue job.
///
/// Each message is appended to its queue first and deleted from the store
/// after, so a crash in between leaves it in both places (delivered again,
/// which idempotent consumers absorb) and never in neither.
public struct DamagedRequeuer {
    /// Where messages go back to.
    public let queue: any MessageQueue
    /// Where they come from.
    public let damaged: any DamagedStore

    /// A requeuer between `damaged` and `queue`.
    public init(queue: any MessageQueue, damaged: any DamagedStore) {
        self.queue = queue
        self.damaged = damaged
    }

    /// Requeues the record with `id`; `false` if there is none.
    public func requeue(id: Int64) throws -> Bool {
        guard let record = try damaged.fetch(id: id) else { return false }
        try requeue(record)
        return true
    }

    /// Requeues every record whose retry date has passed (at most `limit`);
    /// returns how many. `progress` is told the running count after each message.
    public func requeueDue(at now: Date = Date(), limit: Int? = nil, batchSize: Int = 500,
                           progress: ((Int) -> Void)? = nil) throws -> Int {
        var total = 0
        while limit.map({ total < $0 }) ?? true {
            let want = min(batchSize, limit.map { $0 - total } ?? batchSize)
            let due = try damaged.due(at: now, limit: want)
            for (index, record) in due.enumerated() {
                try requeue(record)
                progress?(total + index + 1)
            }
            total += due.count
            if due.count < want { break }
        }
        return total
    }

    /// Appends `record` to its queue, then deletes it from the store (a cut message is refused).
    public func requeue(_ record: DamagedMessage) throws {
        try QueueName.validate(record.originalQueue)
        if let size = record.originalSize {
            throw ConfigurationError("""
                damaged message \(record.id) cannot be requeued: only its first \(record.message.count) of \(size) bytes were kept \
                (sha256 \(record.originalSHA256 ?? "unknown")); delete it once its producer is fixed
                """)
        }
        try queue.append([record.message], to: record.originalQueue)
        _ = try damaged.delete(id: record.id)
    }
}
