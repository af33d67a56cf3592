public import Core
public import Foundation

/// One rectifier decision, with its evidence: a row of `rectifier_decision`.
public struct RectifierDecision: Sendable, Equatable {
    /// The decision log row's id (nil until it is stored: a dry run's decisions have none).
    public var id: Int64?
    /// When.
    public var time: Date
    /// The run that decided.
    public var runID: String
    /// The processor asked.
    public var processor: String
    /// The pending row's gateway.
    public var gateway: String
    /// The pending row's order id.
    public var orderID: String?
    /// The pending row's id.
    public var pendingID: Int64
    /// The normalized status the decision rests on ("error" when the processor gave none).
    public var status: String
    /// The evidence: the fields the status rests on, or the error.
    public var evidence: String
    /// The processor's answer, credentials and donor data masked.
    public var raw: String?
    /// What was done (or, in a dry run, would be done).
    public var action: RectifierAction
    /// How it went.
    public var result: String
    /// When the payment started (not stored in the log: read from its pending row while that is kept).
    public var startedAt: Date?

    /// A decision.
    public init(time: Date, runID: String, processor: String, gateway: String, orderID: String?, pendingID: Int64, status: String,
                evidence: String, raw: String?, action: RectifierAction, result: String) {
        self.time = time
        self.runID = runID
        self.processor = processor
        self.gateway = gateway
        self.orderID = orderID
        self.pendingID = pendingID
        self.status = status
        self.evidence = evidence
        self.raw = raw
        self.action = action
        self.result = result
    }
}

/// What the rectifier does with a row.
public enum RectifierAction: String, Sendable, CaseIterable {
    /// The payment completed: push the donation, resolve completed.
    case complete
    /// Authorized: finish or capture it, then as complete.
    case finish
    /// Recurring checkout approved: create the profile, then as complete.
    case createProfile = "create-profile"
    /// The processor said failed: resolve failed.
    case resolveFailed = "resolve-failed"
    /// Cancelled: resolve cancelled.
    case resolveCancelled = "resolve-cancelled"
    /// The donor never finished: resolve timeout.
    case resolveTimeout = "resolve-timeout"
    /// A donation already exists: resolve duplicate (cancel at the processor where it can be).
    case resolveDuplicate = "resolve-duplicate"
    /// No positive answer: leave it, ask again later.
    case leave
    /// Attempts exhausted, or something only a person can judge.
    case needsReview = "needs-review"
}

/// The decision log: every rectifier decision, queryable.
public final class DecisionLog {
    /// The connection used.
    public let connection: any SQLConnection

    /// A log in `connection`'s database.
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    static let insertColumns = "INSERT INTO rectifier_decision (time, run_id, processor, gateway, order_id, pending_id, status, evidence, "
        + "raw, action, result) VALUES "

    /// Stores `decision`; returns its id.
    @discardableResult
    public func record(_ d: RectifierDecision) throws -> Int64 {
        try connection.insert(Self.insertColumns + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values(d))
    }

    /// Stores `decisions` with one multi-row INSERT per 50; returns their
    /// ids, in order (ids grow in the order a statement inserts its rows).
    public func record(contentsOf decisions: [RectifierDecision]) throws -> [Int64] {
        var ids: [Int64] = []
        ids.reserveCapacity(decisions.count)
        var start = 0
        while start < decisions.count {
            let chunk = decisions[start..<min(start + 50, decisions.count)]
            let rows = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            let returned = try connection.query(Self.insertColumns + rows + " RETURNING id", chunk.flatMap(values))
                .compactMap { $0[0].int64 }
            guard returned.count == chunk.count else {
                throw ConfigurationError("the decision log stored \(returned.count) of \(chunk.count) decisions")
            }
            ids += returned.sorted()
            start += chunk.count
        }
        return ids
    }

    private func values(_ d: RectifierDecision) -> [SQLValue] {
        [connection.dialect.value(d.time), .text(d.runID), .text(d.processor), .text(d.gateway), .text(d.orderID),
         .integer(d.pendingID), .text(d.status), .text(d.evidence), .text(d.raw), .text(d.action.rawValue), .text(d.result)]
    }

    /// Decisions, newest first, optionally for one order and since a time.
    public func list(orderID: String? = nil, since: Date? = nil, limit: Int = 100) throws -> [RectifierDecision] {
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if let orderID { conditions.append("d.order_id = ?"); parameters.append(.text(orderID)) }
        if let since { conditions.append("d.time >= ?"); parameters.append(connection.dialect.value(since)) }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        // The payment's start comes from its pending row while the row is kept (nil once deleted).
        return try connection.query("""
            SELECT d.id, d.time, d.run_id, d.processor, d.gateway, d.order_id, d.pending_id, d.status, d.evidence, d.raw, d.action,
              d.result, p.date
            FROM rectifier_decision d LEFT JOIN pending p ON p.id = d.pending_id\(whereClause) ORDER BY d.id DESC LIMIT ?
            """, parameters + [.int(limit)]).map { r in
            var d = RectifierDecision(time: connection.dialect.date(r[1]) ?? Date(timeIntervalSince1970: 0), runID: r[2].string ?? "",
                                      processor: r[3].string ?? "", gateway: r[4].string ?? "", orderID: r[5].string,
                                      pendingID: r[6].int64 ?? 0,
                                      status: r[7].string ?? "", evidence: r[8].string ?? "", raw: r[9].string,
                                      action: RectifierAction(rawValue: r[10].string ?? "") ?? .leave, result: r[11].string ?? "")
            d.id = r[0].int64 ?? 0
            d.startedAt = connection.dialect.date(r[12])
            return d
        }
    }
}
