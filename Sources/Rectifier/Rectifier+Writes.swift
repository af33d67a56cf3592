import Core
import Foundation

/// Writing a batch of decisions: the rows of each resolution resolved with
/// one `UPDATE` (only those this worker still holds), the other writes
/// (attempts, reviews, releases) made row by row, each checking its claim,
/// and every decision logged with one multi-row `INSERT`.
extension Rectifier {
    /// A MariaDB `UPDATE` resolved fewer of a batch's rows than it listed: a
    /// claim was lost since the rows were decided, and MariaDB does not say
    /// which. The batch's transaction is rolled back and written again with
    /// its held rows read and locked first.
    struct ClaimsMovedDuringWrite: Error {}

    /// The batch's writes and decision log rows, inside the caller's
    /// transaction; each outcome as it turned out (a claim lost on the way
    /// writes nothing) and its log row's id. `lockingFirst` (MariaDB, after
    /// ``ClaimsMovedDuringWrite``): the rows this worker still holds are
    /// read and locked before anything is written.
    func write(_ batch: [UnwrittenDecision], lockingFirst: Bool = false) throws -> [(RowOutcome, Int64)] {
        let held = lockingFirst ? try heldRows(batch.map(\.row.id)) : nil
        var resolving: [(resolution: PendingResolution, indices: [Int])] = []
        var written: [(RowOutcome, RectifierDecision)?] = Array(repeating: nil, count: batch.count)
        for (i, entry) in batch.enumerated() {
            let holding = held?.contains(entry.row.id) ?? true
            if let resolution = entry.outcome.write.resolution, holding {
                if let k = resolving.firstIndex(where: { $0.resolution == resolution }) {
                    resolving[k].indices.append(i)
                } else {
                    resolving.append((resolution, [i]))
                }
            } else {
                // A release (`.nothing`) is made whether or not the claim is still held; any other write checks it.
                written[i] = try write(entry, stillHeld: entry.outcome.write == .nothing || holding)
            }
        }
        let now = Date()
        for (resolution, indices) in resolving {
            let ids = indices.map { batch[$0].row.id }
            let resolved = try pending.resolve(ids: ids, as: resolution, at: now, worker: claimOwner)
            // Rows read as held (and locked) in this transaction: anything else is a store misbehaving.
            guard !lockingFirst || resolved?.count == ids.count else {
                throw ConfigurationError("resolving \(ids.count) held rows as \(resolution.rawValue) changed \(resolved?.count ?? 0)")
            }
            guard let resolved else { throw ClaimsMovedDuringWrite() }
            for i in indices { written[i] = settled(batch[i], held: resolved.contains(batch[i].row.id)) }
        }
        // Every entry was written above, in the batch's order (the caller pairs the results with its entries).
        let decisions = written.map { $0! }
        let ids = try log.record(contentsOf: decisions.map(\.1))
        return zip(decisions.map(\.0), ids).map { ($0, $1) }
    }

    /// Of `ids`, the unresolved rows this worker still holds; on MariaDB
    /// locked until the transaction ends (SQLite's transaction holds the
    /// database's write lock).
    func heldRows(_ ids: [Int64]) throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let marks = SQLValue.placeholders(ids.count)
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
