public import Foundation

/// One gateway's open pending rows, as `fundq status` and the metrics show them.
public struct PendingCounts: Sendable, Equatable {
    /// The gateway.
    public var gateway: String
    /// Unresolved rows.
    public var open: Int
    /// Unresolved rows the rectifier may take now (not needing review, no later attempt date).
    public var dueNow: Int
    /// Unresolved rows waiting for a person.
    public var needsReview: Int
    /// When the oldest unresolved row started.
    public var oldestOpen: Date?

    /// Counts.
    public init(gateway: String, open: Int, dueNow: Int, needsReview: Int, oldestOpen: Date?) {
        self.gateway = gateway
        self.open = open
        self.dueNow = dueNow
        self.needsReview = needsReview
        self.oldestOpen = oldestOpen
    }
}

/// Aggregate counts over the pending database and the damaged store, one
/// query each (for status screens and metrics, not for row-level work).
public struct StoreCounts {
    /// The database holding the stores.
    public let connection: any SQLConnection

    /// Counts over `connection`'s database.
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    /// Open pending rows per gateway (gateways with none left out).
    public func pending(at now: Date = Date()) throws -> [PendingCounts] {
        let d = connection.dialect
        return try connection.query("""
            SELECT gateway, COUNT(*),
              SUM(CASE WHEN needs_review = 0 AND (next_attempt_date IS NULL OR next_attempt_date <= ?) THEN 1 ELSE 0 END),
              SUM(CASE WHEN needs_review = 1 THEN 1 ELSE 0 END), MIN(date)
            FROM pending WHERE resolution IS NULL GROUP BY gateway ORDER BY gateway
            """, [d.value(now)]).map { r in
            PendingCounts(gateway: r[0].string ?? "", open: Int(r[1].int64 ?? 0), dueNow: Int(r[2].int64 ?? 0),
                          needsReview: Int(r[3].int64 ?? 0), oldestOpen: d.date(r[4]))
        }
    }

    /// Damaged messages per original queue (queues with none left out).
    public func damagedByQueue() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for r in try connection.query("SELECT original_queue, COUNT(*) FROM damaged GROUP BY original_queue", []) {
            counts[r[0].string ?? "", default: 0] += Int(r[1].int64 ?? 0)
        }
        return counts
    }
}
