public import Foundation

/// How a pending row was resolved. Resolving records the outcome instead of
/// erasing the row; resolved rows are purged after a retention period.
public enum PendingResolution: String, Sendable, CaseIterable {
    /// The payment completed (a donation exists).
    case completed
    /// The processor said it failed.
    case failed
    /// The donor or processor cancelled it.
    case cancelled
    /// The donor never finished; nothing to collect.
    case timeout
    /// Older than the gateway's maximum age; nobody will look at it again.
    case expired
    /// A completed donation already existed for it.
    case duplicate
    /// Resolved by a person.
    case manual
}

/// One row of the pending database.
public struct PendingRecord: Sendable, Equatable {
    /// Row id.
    public var id: Int64
    /// When the payment started.
    public var date: Date
    /// The processor's code.
    public var gateway: String
    /// The merchant account at the processor.
    public var gatewayAccount: String?
    /// Our order id.
    public var orderID: String?
    /// The processor's transaction id.
    public var gatewayTxnID: String?
    /// The processor's session or token (from a redirect flow).
    public var gatewaySessionID: String?
    /// The contribution tracking id.
    public var contributionTrackingID: String?
    /// Payment method.
    public var paymentMethod: String?
    /// The merged message.
    public var message: [String: JSONValue]
    /// Rectifier attempts so far.
    public var attempts: Int
    /// When the last attempt was made.
    public var lastAttemptDate: Date?
    /// When the next attempt is due.
    public var nextAttemptDate: Date?
    /// The outcome, once resolved.
    public var resolution: PendingResolution?
    /// When it was resolved.
    public var resolvedDate: Date?
    /// The money calls the rectifier started on it (recorded before each call).
    public var intents: PendingIntents

    /// A row (the store builds them; tests and tools may too).
    public init(id: Int64, date: Date, gateway: String, gatewayAccount: String?, orderID: String?, gatewayTxnID: String?,
                gatewaySessionID: String?, contributionTrackingID: String?, paymentMethod: String?, message: [String: JSONValue],
                attempts: Int, lastAttemptDate: Date?, nextAttemptDate: Date?, resolution: PendingResolution?, resolvedDate: Date?,
                intents: PendingIntents = PendingIntents()) {
        self.id = id
        self.date = date
        self.gateway = gateway
        self.gatewayAccount = gatewayAccount
        self.orderID = orderID
        self.gatewayTxnID = gatewayTxnID
        self.gatewaySessionID = gatewaySessionID
        self.contributionTrackingID = contributionTrackingID
        self.paymentMethod = paymentMethod
        self.message = message
        self.attempts = attempts
        self.lastAttemptDate = lastAttemptDate
        self.nextAttemptDate = nextAttemptDate
        self.resolution = resolution
        self.resolvedDate = resolvedDate
        self.intents = intents
    }
}

/// A money call the rectifier records on a row before making it: evidence
/// that money may have moved, whatever happens next.
public enum PendingIntent: String, Sendable, CaseIterable {
    /// Finish (capture) an authorized payment.
    case finish
    /// Create a recurring payments profile for an approved checkout.
    case createRecurringProfile = "create-recurring-profile"

    /// The column recording it.
    var column: String { self == .finish ? "finish_requested_at" : "profile_requested_at" }
}

/// The money calls the rectifier started on a row, each recorded in its own
/// column before the call was made.
public struct PendingIntents: Sendable, Equatable {
    /// When a finish (capture) was requested.
    public var finishRequestedAt: Date?
    /// When a recurring profile's creation was requested.
    public var profileRequestedAt: Date?

    /// Intents (none by default).
    public init(finishRequestedAt: Date? = nil, profileRequestedAt: Date? = nil) {
        self.finishRequestedAt = finishRequestedAt
        self.profileRequestedAt = profileRequestedAt
    }

    /// When `intent` was requested, if it was.
    public subscript(_ intent: PendingIntent) -> Date? {
        intent == .finish ? finishRequestedAt : profileRequestedAt
    }

    /// The first money call started on the row, if any: `(intent, when)`.
    public var first: (intent: PendingIntent, at: Date)? {
        if let at = finishRequestedAt { return (.finish, at) }
        if let at = profileRequestedAt { return (.createRecurringProfile, at) }
        return nil
    }
}

/// What `store` did with a pending message.
public enum PendingStoreOutcome: String, Sendable {
    /// A new row.
    case inserted
    /// Merged new fields into the existing row.
    case merged
    /// The row already had everything (a redelivery).
    case unchanged
}

/// The pending database: one table for every processor's payments in
/// progress, in the embedded SQLite file or in MariaDB (the same statements,
/// prepared, for both).
public final class PendingStore {
    /// The connection used for every statement.
    public let connection: any SQLConnection

    /// A store on `connection` (its schema must be migrated).
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    static let columns = """
        id, date, gateway, gateway_account, order_id, gateway_txn_id, gateway_session_id, contribution_tracking_id, \
        payment_method, message, attempts, last_attempt_date, next_attempt_date, resolution, resolved_date, \
        finish_requested_at, profile_requested_at
        """

    private var forUpdate: String { connection.dialect == .mariadb ? " FOR UPDATE" : "" }

    func record(_ row: [SQLValue]) -> PendingRecord {
        let d = connection.dialect
        let message = (row[9].bytes.flatMap { try? JSONParser().parse($0) }?.objectValue) ?? [:]
        return PendingRecord(
            id: row[0].int64 ?? 0, date: d.date(row[1]) ?? Date(timeIntervalSince1970: 0), gateway: row[2].string ?? "",
            gatewayAccount: row[3].string, orderID: row[4].string, gatewayTxnID: row[5].string, gatewaySessionID: row[6].string,
            contributionTrackingID: row[7].string, paymentMethod: row[8].string, message: message,
            attempts: Int(row[10].int64 ?? 0), lastAttemptDate: d.date(row[11]), nextAttemptDate: d.date(row[12]),
            resolution: row[13].string.flatMap(PendingResolution.init(rawValue:)), resolvedDate: d.date(row[14]),
            intents: PendingIntents(finishRequestedAt: d.date(row[15]), profileRequestedAt: d.date(row[16])))
    }

    /// Stores `message`: a new row, or merged into the row with the same
    /// `(gateway, order_id)` (or, without an order id, the same
    /// `(gateway, gateway_txn_id)`). Later message fields win — later by
    /// `source_enqueued_time`, so an old message redelivered after a newer
    /// one only fills fields that are still empty; a field the new message
    /// leaves empty never blanks one already set. Redelivering the same
    /// message changes nothing.
    @discardableResult
    public func store(_ message: PendingMessage) throws -> PendingStoreOutcome {
        try connection.transaction {
            if let existing = try find(message, locking: true) {
                var merged = existing.message
                let older = (message.members.enqueuedOrder ?? .infinity) < (existing.message.enqueuedOrder ?? -.infinity)
                for (key, value) in message.members where !PendingStore.isEmpty(value) {
                    if older, let current = merged[key], !PendingStore.isEmpty(current) { continue }
                    merged[key] = value
                }
                guard merged != existing.message else { return .unchanged }
                let combined = try PendingMessage(members: merged)
                try write(combined, id: existing.id)
                return .merged
            }
            try insert(message)
            return .inserted
        }
    }

    static func isEmpty(_ value: JSONValue) -> Bool {
        switch value {
        case .null: return true
        case .string(let s): return s.isEmpty
        default: return false
        }
    }

    /// The id and message of the row `message` merges into (only what a
    /// merge needs, so storing works on any schema version).
    private func find(_ message: PendingMessage, locking: Bool) throws -> (id: Int64, message: [String: JSONValue])? {
        let lock = locking ? forUpdate : ""
        let rows: [[SQLValue]]
        if let orderID = message.orderID {
            rows = try connection.query("SELECT id, message FROM pending WHERE gateway = ? AND order_id = ?\(lock)",
                                        [.text(message.gateway), .text(orderID)])
        } else {
            rows = try connection.query(
                "SELECT id, message FROM pending WHERE gateway_txn_id = ? AND gateway = ? AND order_id IS NULL ORDER BY id LIMIT 1\(lock)",
                [.text(message.gatewayTxnID), .text(message.gateway)])
        }
        return rows.first.map { ($0[0].int64 ?? 0, ($0[1].bytes.flatMap { try? JSONParser().parse($0) }?.objectValue) ?? [:]) }
    }

    private func columnValues(_ m: PendingMessage) -> [SQLValue] {
        [connection.dialect.value(m.date), .text(m.gateway), .text(m.column("gateway_account")), .text(m.orderID), .text(m.gatewayTxnID),
         .text(m.column("gateway_session_id")), .text(m.column("contribution_tracking_id")), .text(m.column("payment_method")),
         .text(JSONValue.object(m.members).serialized())]
    }

    private func insert(_ m: PendingMessage) throws {
        _ = try connection.insert("""
            INSERT INTO pending (date, gateway, gateway_account, order_id, gateway_txn_id, gateway_session_id,
              contribution_tracking_id, payment_method, message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, columnValues(m))
    }

    private func write(_ m: PendingMessage, id: Int64) throws {
        try connection.execute("""
            UPDATE pending SET date = ?, gateway = ?, gateway_account = ?, order_id = ?, gateway_txn_id = ?, gateway_session_id = ?,
              contribution_tracking_id = ?, payment_method = ?, message = ?
            WHERE id = ?
            """, columnValues(m) + [.integer(id)])
    }

    /// The row for `(gateway, orderID)`.
    public func fetch(gateway: String, orderID: String) throws -> PendingRecord? {
        try connection.query("SELECT \(Self.columns) FROM pending WHERE gateway = ? AND order_id = ?",
                             [.text(gateway), .text(orderID)]).first.map(record)
    }

    /// The row with `id`.
    public func fetch(id: Int64) throws -> PendingRecord? {
        try connection.query("SELECT \(Self.columns) FROM pending WHERE id = ?", [.integer(id)]).first.map(record)
    }

    /// Extends `worker`'s claim on row `id` to `now + lease`, only while it
    /// still holds an unexpired claim; `false` means the claim was lost
    /// (another worker may have the row now) and the caller must stop.
    public func renewClaim(id: Int64, worker: String, lease: Duration, now: Date = Date()) throws -> Bool {
        let d = connection.dialect
        return try connection.execute("""
            UPDATE pending SET claim_until = ? WHERE id = ? AND claimed_by = ? AND claim_until > ? AND resolution IS NULL
            """, [d.value(now.addingTimeInterval(lease.seconds)), .integer(id), .text(worker), d.value(now)]) == 1
    }

    /// The rows with `gatewayTxnID` at `gateway`.
    public func fetch(gateway: String, gatewayTxnID: String) throws -> [PendingRecord] {
        try connection.query("SELECT \(Self.columns) FROM pending WHERE gateway_txn_id = ? AND gateway = ? ORDER BY id",
                             [.text(gatewayTxnID), .text(gateway)]).map(record)
    }

    /// Unresolved rows, oldest first, optionally of one gateway and older
    /// than a date.
    public func list(gateway: String? = nil, olderThan: Date? = nil, includeResolved: Bool = false,
                     limit: Int = 100) throws -> [PendingRecord] {
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if let gateway { conditions.append("gateway = ?"); parameters.append(.text(gateway)) }
        if let olderThan { conditions.append("date < ?"); parameters.append(connection.dialect.value(olderThan)) }
        if !includeResolved { conditions.append("resolution IS NULL") }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return try connection.query("SELECT \(Self.columns) FROM pending\(whereClause) ORDER BY date, id LIMIT ?",
                                    parameters + [.int(limit)]).map(record)
    }

    /// The oldest unresolved row of `gateway`.
    public func oldest(gateway: String) throws -> PendingRecord? {
        try connection.query("SELECT \(Self.columns) FROM pending WHERE gateway = ? AND resolution IS NULL ORDER BY date, id LIMIT 1",
                             [.text(gateway)]).first.map(record)
    }

    /// The newest unresolved row of `gateway`.
    public func newest(gateway: String) throws -> PendingRecord? {
        try connection.query("SELECT \(Self.columns) FROM pending WHERE gateway = ? AND resolution IS NULL "
                                + "ORDER BY date DESC, id DESC LIMIT 1",
                             [.text(gateway)]).first.map(record)
    }

    /// Unresolved rows of `gateway` started between `newerThan` and
    /// `olderThan`, whose next attempt is due at `now`, oldest first,
    /// starting after the row `after` (a sweep cursor: `(date, id)`).
    public func due(gateway: String, olderThan: Date, newerThan: Date, now: Date, after cursor: (date: Date, id: Int64)? = nil,
                    limit: Int) throws -> [PendingRecord] {
        let (conditions, parameters) = dueRows(gateway: gateway, olderThan: olderThan, newerThan: newerThan, now: now, after: cursor)
        return try connection.query("SELECT \(Self.columns) FROM pending WHERE \(conditions) ORDER BY date, id LIMIT ?",
                                    parameters + [.int(limit)]).map(record)
    }

    /// The condition naming the due rows of `gateway` (and its parameters),
    /// shared by ``due(gateway:olderThan:newerThan:now:after:limit:)`` and
    /// ``claimDue(gateway:olderThan:newerThan:now:after:worker:lease:limit:)``:
    /// read in date order by `pending_by_gateway_resolution_date`, which
    /// passes no resolved row.
    func dueRows(gateway: String, olderThan: Date, newerThan: Date, now: Date,
                 after cursor: (date: Date, id: Int64)?) -> (conditions: String, parameters: [SQLValue]) {
        let d = connection.dialect
        var conditions = """
            gateway = ? AND resolution IS NULL AND needs_review = 0 AND date < ? AND date > ?
              AND (next_attempt_date IS NULL OR next_attempt_date <= ?) AND (claim_until IS NULL OR claim_until < ?)
            """
        var parameters: [SQLValue] = [.text(gateway), d.value(olderThan), d.value(newerThan), d.value(now), d.value(now)]
        if let cursor {
            conditions += " AND (date > ? OR (date = ? AND id > ?))"
            parameters += [d.value(cursor.date), d.value(cursor.date), .integer(cursor.id)]
        }
        return (conditions, parameters)
    }

    /// Claims, in one transaction, up to `limit` due rows of `gateway` (the
    /// rows ``due(gateway:olderThan:newerThan:now:after:limit:)`` would list)
    /// for `worker` until `now + lease`; returns them as they are now, oldest
    /// first. Rows another worker holds are passed over, never taken; of
    /// several concurrent claimers each row goes to exactly one. SQLite: one
    /// `UPDATE … RETURNING`; MariaDB: one locking read of the rows' columns
    /// that skips rows another transaction has locked (they are due again on
    /// the next pass), then one `UPDATE` by id (it changes no column a
    /// ``PendingRecord`` holds, so the rows read are the rows claimed).
    public func claimDue(gateway: String, olderThan: Date, newerThan: Date, now: Date, after cursor: (date: Date, id: Int64)? = nil,
                         worker: String, lease: Duration, limit: Int) throws -> [PendingRecord] {
        guard limit > 0 else { return [] }
        let d = connection.dialect
        let until = d.value(now.addingTimeInterval(lease.seconds))
        let (conditions, parameters) = dueRows(gateway: gateway, olderThan: olderThan, newerThan: newerThan, now: now, after: cursor)
        if d == .sqlite {
            let rows = try connection.query("""
                UPDATE pending SET claimed_by = ?, claim_until = ?
                WHERE id IN (SELECT id FROM pending WHERE \(conditions) ORDER BY date, id LIMIT ?)
                RETURNING \(Self.columns)
                """, [.text(worker), until] + parameters + [.int(limit)]).map(record)
            return rows.sorted { ($0.date, $0.id) < ($1.date, $1.id) }
        }
        // MariaDB (no RETURNING on UPDATE): the due rows read and locked, passing
        // over rows another transaction holds (a claim or a batch of decisions
        // being written) instead of waiting for it, then claimed by id.
        // The UPDATE names its index: a locking read or an UPDATE locks every
        // row it passes, and a plan over the whole table (the optimizer chose
        // one on a small table) locked every other claimer out, each finding
        // no row and ending its sweep with rows left. The read does not name
        // its index: forced onto a gateway's range of a small table, it locked
        // the row past the range's end (REPEATABLE READ's next-key lock), the
        // next gateway's first row, and that gateway's claimer, running beside
        // it, passed over the row (the pool test left one of three rows
        // unexamined: 2 in 11 runs by (gateway, date), 2 in 12 by (gateway,
        // resolution, date); 0 in 30 unforced). On a table with history the
        // optimizer reads by (gateway, resolution, date), and the row past a
        // gateway's range is one of its own, too young or resolved.
        return try connection.transaction {
            let rows = try connection.query("""
                SELECT \(Self.columns) FROM pending WHERE \(conditions) ORDER BY date, id LIMIT ? FOR UPDATE SKIP LOCKED
                """, parameters + [.int(limit)]).map(record)
            guard !rows.isEmpty else { return [] }
            let marks = SQLValue.placeholders(rows.count)
            try connection.execute("UPDATE pending\(d.forceIndex("PRIMARY")) SET claimed_by = ?, claim_until = ? WHERE id IN (\(marks))",
                                   [.text(worker), until] + rows.map { .integer($0.id) })
            return rows
        }
    }

    /// Records that `intent` is about to be made on row `id` (in its own
    /// column) and extends `worker`'s claim to `now + lease`; `false` when
    /// the claim was lost — then nothing was recorded and the call must not
    /// be made.
    public func recordIntent(_ intent: PendingIntent, id: Int64, worker: String, lease: Duration, now: Date = Date()) throws -> Bool {
        try recordIntent(intent, ids: [id], worker: worker, lease: lease, now: now).contains(id)
    }

    /// Records `intent` on several rows at once: the ids of those whose claim
    /// `worker` still held (their intent is recorded and their claim
    /// extended to `now + lease`); the others are left untouched and their
    /// calls must not be made. SQLite: one `UPDATE … RETURNING`;
    /// MariaDB: one `UPDATE` of the held rows; when it changed fewer rows
    /// than were listed, a locking read of the rows now held with this
    /// intent and claim says which (in one transaction, the caller's if it
    /// has one).
    public func recordIntent(_ intent: PendingIntent, ids: [Int64], worker: String, lease: Duration,
                             now: Date = Date()) throws -> Set<Int64> {
        guard !ids.isEmpty else { return [] }
        let d = connection.dialect
        let marks = SQLValue.placeholders(ids.count)
        let held = "id IN (\(marks)) AND claimed_by = ? AND claim_until > ? AND resolution IS NULL"
        let heldParameters = ids.map { SQLValue.integer($0) } + [.text(worker), d.value(now)]
        let set = "UPDATE pending\(d.forceIndex("PRIMARY")) SET \(intent.column) = ?, claim_until = ?"
        let setParameters = [d.value(now), d.value(now.addingTimeInterval(lease.seconds))]
        if d == .sqlite {
            return Set(try connection.query("\(set) WHERE \(held) RETURNING id", setParameters + heldParameters).compactMap { $0[0].int64 })
        }
        // MariaDB counts only the rows whose values changed. All listed: every row was held (the usual case).
        // Fewer: a row was not held, or already had these very values; the rows now held by `worker` with
        // this intent and this claim are exactly the held ones (a row not held has another owner, or a claim
        // that ended before `now`), read and locked in the same transaction.
        return try connection.transaction {
            let changed = try connection.execute("\(set) WHERE \(held)", setParameters + heldParameters)
            if changed == ids.count { return Set(ids) }
            let recorded = "id IN (\(marks)) AND claimed_by = ? AND claim_until = ? AND \(intent.column) = ? AND resolution IS NULL"
            return Set(try connection.query("SELECT id FROM pending\(d.forceIndex("PRIMARY")) WHERE \(recorded) FOR UPDATE",
                                            ids.map { .integer($0) } + [.text(worker), setParameters[1], setParameters[0]])
                .compactMap { $0[0].int64 })
        }
    }

    /// Claims row `id` for `worker` until `now + lease`, unless another
    /// worker holds an unexpired claim, the row is resolved or marked for
    /// review, or its next attempt is not due yet (so a worker holding a
    /// stale list cannot redo a row another just attempted). Exactly one of
    /// several concurrent claimers wins.
    public func claim(id: Int64, worker: String, lease: Duration, now: Date = Date()) throws -> Bool {
        let d = connection.dialect
        return try connection.execute("""
            UPDATE pending SET claimed_by = ?, claim_until = ?
            WHERE id = ? AND resolution IS NULL AND needs_review = 0 AND (next_attempt_date IS NULL OR next_attempt_date <= ?)
              AND (claim_until IS NULL OR claim_until < ? OR claimed_by = ?)
            """, [.text(worker), d.value(now.addingTimeInterval(lease.seconds)), .integer(id),
                  d.value(now), d.value(now), .text(worker)]) == 1
    }

    /// Marks row `id` for a person to look at (it leaves the rectifier's
    /// selection until someone resolves or clears it); releases the claim.
    @discardableResult
    public func markNeedsReview(id: Int64, reason: String, at now: Date = Date(), worker: String? = nil) throws -> Bool {
        try connection.execute("""
            UPDATE pending SET needs_review = 1, review_reason = ?, attempts = attempts + 1, last_attempt_date = ?,
              claimed_by = NULL, claim_until = NULL
            WHERE id = ?\(worker == nil ? "" : " AND claimed_by = ?")
            """, [.text(reason), connection.dialect.value(now), .integer(id)] + (worker.map { [.text($0)] } ?? [])) == 1
    }

    /// Unresolved rows marked for review, with the reason, oldest first.
    public func needingReview(gateway: String? = nil, limit: Int = 100) throws -> [(record: PendingRecord, reason: String)] {
        let rows = try connection.query(
            "SELECT \(Self.columns), review_reason FROM pending WHERE needs_review = 1 AND resolution IS NULL"
                + "\(gateway == nil ? "" : " AND gateway = ?") ORDER BY date, id LIMIT ?",
            (gateway.map { [SQLValue.text($0)] } ?? []) + [.int(limit)])
        return rows.map { (record(Array($0.dropLast())), $0.last?.string ?? "") }
    }

    /// Replaces row `id`'s message (the rectifier records what it learned:
    /// a created profile's id).
    public func updateMessage(id: Int64, message: [String: JSONValue]) throws {
        try connection.execute("UPDATE pending SET message = ? WHERE id = ?", [.text(JSONValue.object(message).serialized()), .integer(id)])
    }

    /// Replaces several rows' messages with one statement.
    public func updateMessages(_ messages: [(id: Int64, message: [String: JSONValue])]) throws {
        guard messages.count > 1 else {
            if let only = messages.first { try updateMessage(id: only.id, message: only.message) }
            return
        }
        let cases = Array(repeating: "WHEN ? THEN ?", count: messages.count).joined(separator: " ")
        let marks = SQLValue.placeholders(messages.count)
        let table = "pending" + connection.dialect.forceIndex("PRIMARY")
        try connection.execute("UPDATE \(table) SET message = CASE id \(cases) END WHERE id IN (\(marks))",
                               messages.flatMap { [SQLValue.integer($0.id), .text(JSONValue.object($0.message).serialized())] }
                                   + messages.map { .integer($0.id) })
    }

    /// Gives up `worker`'s claim on row `id`.
    public func release(id: Int64, worker: String) throws {
        try connection.execute("UPDATE pending SET claimed_by = NULL, claim_until = NULL WHERE id = ? AND claimed_by = ?",
                               [.integer(id), .text(worker)])
    }

    /// Gives up `worker`'s claims on rows `ids` (claimed but not worked on),
    /// with one statement per 500 ids.
    public func release(ids: [Int64], worker: String) throws {
        var start = 0
        while start < ids.count {
            let chunk = ids[start..<min(start + 500, ids.count)]
            let placeholders = SQLValue.placeholders(chunk.count)
            try connection.execute("UPDATE pending\(connection.dialect.forceIndex("PRIMARY")) SET claimed_by = NULL, claim_until = NULL "
                                    + "WHERE claimed_by = ? AND id IN (\(placeholders))",
                                   [.text(worker)] + chunk.map { .integer($0) })
            start += chunk.count
        }
    }

    /// Records an attempt on row `id` and when the next one is due; releases
    /// the claim.
    /// With `worker`, only while that worker still holds the claim.
    @discardableResult
    public func recordAttempt(id: Int64, at now: Date = Date(), nextAttempt: Date?, worker: String? = nil) throws -> Bool {
        let d = connection.dialect
        return try connection.execute("""
            UPDATE pending SET attempts = attempts + 1, last_attempt_date = ?, next_attempt_date = ?, claimed_by = NULL, claim_until = NULL
            WHERE id = ?\(worker == nil ? "" : " AND claimed_by = ?")
            """, [d.value(now), d.value(nextAttempt), .integer(id)] + (worker.map { [.text($0)] } ?? [])) == 1
    }

    /// Resolves row `id`; `false` when it was already resolved (or, with
    /// `worker`, when that worker no longer holds the claim).
    @discardableResult
    public func resolve(id: Int64, as resolution: PendingResolution, at now: Date = Date(), worker: String? = nil) throws -> Bool {
        try connection.execute("""
            UPDATE pending SET resolution = ?, resolved_date = ?, claimed_by = NULL, claim_until = NULL
            WHERE id = ? AND resolution IS NULL\(worker == nil ? "" : " AND claimed_by = ?")
            """, [.text(resolution.rawValue), connection.dialect.value(now), .integer(id)] + (worker.map { [.text($0)] } ?? [])) == 1
    }

    /// Resolves, in one statement, those of `ids` that `worker` holds
    /// (unresolved and claimed by it) as `resolution`, giving up their
    /// claims; returns the ids resolved. SQLite says which (`RETURNING`);
    /// MariaDB only how many: nil there when fewer rows than listed were
    /// resolved, which ones then unknown (the caller, whose transaction is
    /// rolled back, reads and locks the held rows first and resolves those).
    public func resolve(ids: [Int64], as resolution: PendingResolution, at now: Date = Date(), worker: String) throws -> Set<Int64>? {
        guard !ids.isEmpty else { return [] }
        let d = connection.dialect
        let sql = """
            UPDATE pending\(d.forceIndex("PRIMARY")) SET resolution = ?, resolved_date = ?, claimed_by = NULL, claim_until = NULL
            WHERE id IN (\(SQLValue.placeholders(ids.count))) AND resolution IS NULL AND claimed_by = ?
            """
        let parameters = [.text(resolution.rawValue), d.value(now)] + ids.map { SQLValue.integer($0) } + [.text(worker)]
        if d == .sqlite { return Set(try connection.query(sql + " RETURNING id", parameters).compactMap { $0[0].int64 }) }
        // Resolving always changes a row (its resolution was NULL), so MariaDB's count of changed rows is the
        // count of rows resolved.
        return try connection.execute(sql, parameters) == ids.count ? Set(ids) : nil
    }

    /// Resolves the row of `(gateway, orderID)`; `false` when there is no
    /// unresolved row.
    @discardableResult
    public func resolve(gateway: String, orderID: String, as resolution: PendingResolution, at now: Date = Date()) throws -> Bool {
        try connection.execute("""
            UPDATE pending SET resolution = ?, resolved_date = ?, claimed_by = NULL, claim_until = NULL
            WHERE gateway = ? AND order_id = ? AND resolution IS NULL
            """, [.text(resolution.rawValue), connection.dialect.value(now), .text(gateway), .text(orderID)]) == 1
    }

    /// Resolves the unresolved rows of `gateway` with these order ids, with
    /// one statement per 500 ids; returns how many rows it resolved.
    @discardableResult
    public func resolve(gateway: String, orderIDs: [String], as resolution: PendingResolution, at now: Date = Date()) throws -> Int {
        var resolved = 0
        var start = 0
        let unique = Array(Set(orderIDs))
        while start < unique.count {
            let chunk = unique[start..<min(start + 500, unique.count)]
            let placeholders = SQLValue.placeholders(chunk.count)
            resolved += try connection.execute("""
                UPDATE pending\(connection.dialect.forceIndex("pending_by_order"))
                SET resolution = ?, resolved_date = ?, claimed_by = NULL, claim_until = NULL
                WHERE gateway = ? AND order_id IN (\(placeholders)) AND resolution IS NULL
                """, [.text(resolution.rawValue), connection.dialect.value(now), .text(gateway)] + chunk.map { .text($0) })
            start += chunk.count
        }
        return resolved
    }

    /// Deletes the row of `(gateway, orderID)`; `false` when there is none.
    public func delete(gateway: String, orderID: String) throws -> Bool {
        try connection.execute("DELETE FROM pending WHERE gateway = ? AND order_id = ?", [.text(gateway), .text(orderID)]) > 0
    }

    /// Resolves as expired every unresolved row started before `cutoff`
    /// (of one gateway, or all); returns how many.
    public func expire(startedBefore cutoff: Date, gateway: String? = nil, at now: Date = Date()) throws -> Int {
        let d = connection.dialect
        if let gateway {
            return try connection.execute("""
                UPDATE pending SET resolution = 'expired', resolved_date = ?, claimed_by = NULL, claim_until = NULL
                WHERE gateway = ? AND date < ? AND resolution IS NULL
                """, [d.value(now), .text(gateway), d.value(cutoff)])
        }
        return try connection.execute("""
            UPDATE pending SET resolution = 'expired', resolved_date = ?, claimed_by = NULL, claim_until = NULL
            WHERE date < ? AND resolution IS NULL
            """, [d.value(now), d.value(cutoff)])
    }

    /// Deletes rows resolved before `cutoff` (the retention rule
    /// ``RetentionRule/resolvedPending``: never a needs-review row); returns how many.
    public func purgeResolved(before cutoff: Date) throws -> Int {
        try RetentionJob(connection: connection).apply(.resolvedPending, before: cutoff, dryRun: false).removed
    }

    /// Unresolved rows per gateway.
    public func countUnresolved() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for row in try connection.query("SELECT gateway, COUNT(*) FROM pending WHERE resolution IS NULL GROUP BY gateway", []) {
            counts[row[0].string ?? ""] = Int(row[1].int64 ?? 0)
        }
        return counts
    }
}
