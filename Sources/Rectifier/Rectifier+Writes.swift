import Core
import Foundation

/// Writing a batch of decisions: the rows this worker still holds are read
/// (and locked, on MariaDB) in one statement, resolved with one `UPDATE` per
/// resolution, the other writes (attempts, reviews, releases) made row by
/// row, and every decision logged with one multi-row `INSERT`.
extension Rectifier {
    /// The batch's writes and decision log rows, inside the caller's
    /// transaction; each outcome as it turned out (a claim lost on the way
    /// writes nothing) and its log row's id.
    func write(_ batch: [UnwrittenDecision]) throws -> [(RowOutcome, Int64)] {
        let held = try heldRows(batch.map(\.row.id))
        var resolving: [(resolution: PendingResolution, ids: [Int64])] = []
        var written: [(RowOutcome, RectifierDecision)] = []
        for entry in batch {
            if let resolution = entry.outcome.write.resolution, held.contains(entry.row.id) {
                if let i = resolving.firstIndex(where: { $0.resolution == resolution }) {
                    resolving[i].ids.append(entry.row.id)
                } else {
                    resolving.append((resolution, [entry.row.id]))
                }
                written.append(settled(entry, held: true))
            } else {
                // A release (`.nothing`) is made whether or not the claim is still held.
                written.append(try write(entry, stillHeld: entry.outcome.write == .nothing || held.contains(entry.row.id)))
            }
        }
        let now = Date()
        for (resolution, ids) in resolving {
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            let changed = try pending.connection.execute("""
                UPDATE pending\(pending.connection.dialect.forceIndex("PRIMARY")) SET resolution = ?, resolved_date = ?, claimed_by = NULL,
                  claim_until = NULL
                WHERE id IN (\(marks)) AND resolution IS NULL AND claimed_by = ?
                """, [.text(resolution.rawValue), pending.connection.dialect.value(now)] + ids.map { .integer($0) } + [.text(claimOwner)])
            // The rows were read as held (and locked) in this transaction: anything else is a store misbehaving.
            guard changed == ids.count else {
                throw ConfigurationError("resolving \(ids.count) held rows as \(resolution.rawValue) changed \(changed)")
            }
        }
        let ids = try log.record(contentsOf: written.map(\.1))
        return zip(written.map(\.0), ids).map { ($0, $1) }
    }

    /// Of `ids`, the unresolved rows this worker still holds; on MariaDB
    /// locked until the transaction ends (SQLite's transaction holds the
    /// database's write lock).
    func heldRows(_ ids: [Int64]) throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        let dialect = pending.connection.dialect
        let table = "pending" + dialect.forceIndex("PRIMARY"), lock = dialect == .mariadb ? " FOR UPDATE" : ""
        return Set(try pending.connection.query(
            "SELECT id FROM \(table) WHERE id IN (\(marks)) AND claimed_by = ? AND resolution IS NULL\(lock)",
            ids.map { .integer($0) } + [.text(claimOwner)]).compactMap { $0[0].int64 })
    }

    /// One row's write (a claim found lost writes nothing); the outcome as
    /// it turned out and the decision to log.
    func write(_ entry: UnwrittenDecision, stillHeld: Bool = true) throws -> (RowOutcome, RectifierDecision) {
        guard stillHeld else { return settled(entry, held: false) }
        let id = entry.row.id
        let held: Bool
        switch entry.outcome.write {
        case .resolve(let resolution): held = try pending.resolve(id: id, as: resolution, worker: claimOwner)
        case .complete: held = try pending.resolve(id: id, as: .completed, worker: claimOwner)
        case .review(let reason): held = try pending.markNeedsReview(id: id, reason: reason, worker: claimOwner)
        case .attempt(let next): held = try pending.recordAttempt(id: id, nextAttempt: next, worker: claimOwner)
        case .nothing:
            try pending.release(id: id, worker: claimOwner)
            held = true
        }
        return settled(entry, held: held)
    }

    /// The outcome and decision of `entry` once its write is known to have
    /// been made (`held`) or not (the claim was lost).
    func settled(_ entry: UnwrittenDecision, held: Bool) -> (RowOutcome, RectifierDecision) {
        var outcome = held ? entry.outcome : entry.outcome.claimLost()
        if !held, case .complete(let queue, _) = entry.outcome.write {
            outcome.result = "pushed to \(queue), but the claim was lost: not resolved (another rectifier has the row)"
        }
        var decision = entry.decision
        decision.result = outcome.result
        return (outcome, decision)
    }

    /// After a batch was refused: each row on its own — a completed row with
    /// its donation, when the queues share the database (the batch's push
    /// was rolled back with it) — a row whose write the database refuses
    /// logged with the error (its claim expires; a later run takes it again).
    func writeAlone(_ entry: UnwrittenDecision, after batchError: any Error) throws -> (RowOutcome, Int64) {
        do {
            return try storage.database.transaction {
                if queueSharesDatabase, case .complete(let queue, let message) = entry.outcome.write { try push([(queue, [message])]) }
                let (outcome, decision) = try write(entry)
                return (outcome, try log.record(decision))
            }
        } catch where !Rectifier.isOutage(error) {
            var outcome = entry.outcome.claimLost()
            outcome.counts.errors += 1
            outcome.result = "not written: \(error)"
            var decision = entry.decision
            decision.result = outcome.result
            logger.error("a decision could not be written", metadata: ["order_id": "\(entry.row.orderID ?? "-")", "error": "\(error)"])
            return (outcome, try log.record(decision))
        }
    }
}
