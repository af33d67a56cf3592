public import Core
import Foundation

/// Queues in the embedded SQLite file: table `queue_message`, one row per
/// message, ordered by id. Claiming sets a lease (`lease_until`) inside a
/// `BEGIN IMMEDIATE` transaction, so several processes can share the file
/// and no message is ever handed to two live consumers.
public final class SQLiteQueue: MessageQueue {
    /// The connection used for every statement.
    public let database: SQLiteDatabase
    /// When acknowledged messages' space goes back to the file system;
    /// nil never (benchmarks measuring the bare queue).
    public var reclaimPolicy: SpaceReclaimPolicy? = SpaceReclaimPolicy()
    private var deletingCalls = 0

    /// A queue backend on `database` (its schema must be migrated).
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    /// After a claim that found the queue empty, or every so many
    /// acknowledgements, gives free pages back in a few short steps (see
    /// ``SpaceReclaimPolicy``). Never fails the call that triggered it:
    /// space is retried next time.
    private func reclaimSpace(drained: Bool) {
        guard let policy = reclaimPolicy, !database.inTransaction else { return }
        if !drained {
            deletingCalls += 1
            guard deletingCalls % policy.checkEvery == 0 else { return }
        }
        guard let pages = try? database.pageCounts(), let keeping = policy.keeping(pages, drained: drained) else { return }
        // Each step is its own short transaction; a few steps per call.
        _ = try? database.reclaimFreePages(keeping: keeping, maximumSteps: drained ? policy.stepsWhenDrained : policy.stepsWhileBusy)
    }

    public var location: String { "sqlite:\(database.path)" }

    static func now() -> Double { Date().timeIntervalSince1970 }

    public func append(_ bodies: [[UInt8]], to queue: String) throws {
        guard !bodies.isEmpty else { return }
        let now = SQLiteQueue.now()
        try database.transaction {
            let insert = try database.prepare("INSERT INTO queue_message (queue, body, enqueued_at) VALUES (?, ?, ?)")
            for body in bodies {
                try insert.bind(.text(queue), .blob(body), .real(now)).run()
                insert.reset()
            }
        }
    }

    public func claim(from queue: String, limit: Int, lease: Duration) throws -> [DeliveredMessage] {
        let now = SQLiteQueue.now()
        let until = now + lease.seconds
        // Two index range scans on (queue, lease_until, id): first messages
        // whose lease expired (their consumer died; they are the oldest),
        // then never-claimed ones (lease_until = 0) in id order. One
        // `lease_until <= now ORDER BY id` would sort every waiting row.
        let claimed = try database.transaction {
            let expired = try database.prepare("""
                UPDATE queue_message SET lease_until = ?1, deliveries = deliveries + 1
                WHERE id IN (SELECT id FROM queue_message WHERE queue = ?2 AND lease_until > 0 AND lease_until <= ?3 ORDER BY id LIMIT ?4)
                RETURNING id, deliveries, body
                """)
                .bind(.real(until), .text(queue), .real(now), .int(max(1, limit)))
                .rows { row in (id: row.int(0) ?? 0, delivery: Int(row.int(1) ?? 1), body: row.bytes(2) ?? []) }
            guard expired.count < limit else { return expired.sorted { $0.id < $1.id } }
            let fresh = try database.prepare("""
                UPDATE queue_message SET lease_until = ?1, deliveries = deliveries + 1
                WHERE id IN (SELECT id FROM queue_message WHERE queue = ?2 AND lease_until = 0 ORDER BY id LIMIT ?3)
                RETURNING id, deliveries, body
                """)
                .bind(.real(until), .text(queue), .int(max(1, limit) - expired.count))
                .rows { row in (id: row.int(0) ?? 0, delivery: Int(row.int(1) ?? 1), body: row.bytes(2) ?? []) }
            return expired.sorted { $0.id < $1.id } + fresh.sorted { $0.id < $1.id }
        }
        // Only when there is nothing to hand out: a consumer never holds
        // claimed messages (their lease running) while it gives space back.
        if claimed.isEmpty { reclaimSpace(drained: true) }
        return claimed.map {
            DeliveredMessage(queue: queue, body: $0.body, receipt: DeliveryReceipt(id: String($0.id), delivery: $0.delivery))
        }
    }

    public func acknowledge(_ receipts: [DeliveryReceipt], in queue: String) throws -> Int {
        guard !receipts.isEmpty else { return 0 }
        defer { reclaimSpace(drained: false) }
        return try database.transaction {
            var removed = 0
            let delete = try database.prepare("DELETE FROM queue_message WHERE id = ? AND queue = ? AND deliveries = ?")
            for receipt in receipts {
                guard let id = Int64(receipt.id) else { continue }
                try delete.bind(.integer(id), .text(queue), .int(receipt.delivery)).run()
                removed += database.changes
                delete.reset()
            }
            return removed
        }
    }

    /// Acknowledges and claims in one transaction (one commit, one fsync).
    public func acknowledgeAndClaim(_ receipts: [DeliveryReceipt], in queue: String, limit: Int, lease: Duration) throws
        -> (acknowledged: Int, claimed: [DeliveredMessage]) {
        let result = try database.transaction {
            (try acknowledge(receipts, in: queue), try claim(from: queue, limit: limit, lease: lease))
        }
        reclaimSpace(drained: result.1.isEmpty)
        return result
    }

    public func release(_ receipts: [DeliveryReceipt], in queue: String, countingDelivery: Bool) throws {
        guard !receipts.isEmpty else { return }
        try database.transaction {
            // lease_until = 0 puts it back in id order, so it is handed out
            // next; uncounted, the next claim's increment cancels this one's.
            let update = try database.prepare("""
                UPDATE queue_message SET lease_until = 0, deliveries = deliveries - ?
                WHERE id = ? AND queue = ? AND deliveries = ?
                """)
            for receipt in receipts {
                guard let id = Int64(receipt.id) else { continue }
                try update.bind(.int(countingDelivery ? 0 : 1), .integer(id), .text(queue), .int(receipt.delivery)).run()
                update.reset()
            }
        }
    }

    public func peek(_ queue: String) throws -> [UInt8]? {
        let expired = try database.prepare(
            "SELECT body FROM queue_message WHERE queue = ? AND lease_until > 0 AND lease_until <= ? ORDER BY id LIMIT 1")
            .bind(.text(queue), .real(SQLiteQueue.now())).firstRow { $0.bytes(0) ?? [] }
        if let expired { return expired }
        return try database.prepare("SELECT body FROM queue_message WHERE queue = ? AND lease_until = 0 ORDER BY id LIMIT 1")
            .bind(.text(queue)).firstRow { $0.bytes(0) ?? [] }
    }

    public func stats(_ queue: String) throws -> QueueStats {
        let counts = try database.prepare("""
            SELECT COALESCE(SUM(lease_until <= ?1), 0), COALESCE(SUM(lease_until > ?1), 0), MIN(enqueued_at)
            FROM queue_message WHERE queue = ?2
            """).bind(.real(SQLiteQueue.now()), .text(queue))
            .firstRow { (waiting: Int($0.int(0) ?? 0), inFlight: Int($0.int(1) ?? 0), oldest: $0.double(2)) }
        var oldest = counts?.oldest.map(Date.init(timeIntervalSince1970:))
        // Prefer the producer's own enqueue time when the message carries one.
        let head = try database.prepare("SELECT body FROM queue_message WHERE queue = ? ORDER BY id LIMIT 1")
            .bind(.text(queue)).firstRow { $0.bytes(0) }
        if let body = head ?? nil,
           let stamped = (try? MessageValidator(maximumBytes: .max).validate(body))?.enqueuedTime {
            oldest = min(oldest ?? stamped, stamped)
        }
        return QueueStats(queue: queue, waiting: counts?.waiting ?? 0, inFlight: counts?.inFlight ?? 0, oldestEnqueuedAt: oldest)
    }

    public func queueNames() throws -> [String] {
        try database.prepare("SELECT DISTINCT queue FROM queue_message ORDER BY queue").rows { $0.text(0) ?? "" }
    }

    public func removeAll(_ queue: String) throws {
        try database.prepare("DELETE FROM queue_message WHERE queue = ?").bind(.text(queue)).run()
    }
}
