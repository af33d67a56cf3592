public import Foundation

/// The `donations` table: every completed donation exactly once, unique on
/// `(gateway, gateway_txn_id)`. The reference consumer of the `donations`
/// queue writes here (in production a CRM consumes that queue).
public final class DonationsStore {
    /// The connection used for every statement.
    public let connection: any SQLConnection

    /// A store on `connection` (its schema must be migrated).
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    /// Rows per multi-row INSERT.
    static let insertChunk = 200

    /// Inserts `donations` with multi-row INSERTs, skipping any whose
    /// `(gateway, gateway_txn_id)` is already stored (or repeated earlier in
    /// the batch). Returns how many were new. Run inside a transaction to
    /// make a batch atomic.
    public func insert(_ donations: [DonationMessage], receivedAt now: Date = Date()) throws -> Int {
        guard !donations.isEmpty else { return 0 }
        let d = connection.dialect
        var inserted = 0
        var start = 0
        while start < donations.count {
            let chunk = donations[start..<min(start + Self.insertChunk, donations.count)]
            let placeholders = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
            let conflict = d == .mariadb ? " ON DUPLICATE KEY UPDATE id = id" : " ON CONFLICT (gateway, gateway_txn_id) DO NOTHING"
            var parameters: [SQLValue] = []
            parameters.reserveCapacity(chunk.count * 10)
            for m in chunk {
                parameters += [.text(m.gateway), .text(m.gatewayTxnID), .text(m.orderID), .text(m.contributionTrackingID),
                               .text(m.currency), .text(m.gross.description), .text(m.fee?.description), d.value(m.date),
                               .text(JSONValue.object(m.members).serialized()), d.value(now)]
            }
            inserted += try connection.execute("""
                INSERT INTO donations (gateway, gateway_txn_id, order_id, contribution_tracking_id, currency, gross, fee, date, message, received_date)
                VALUES \(placeholders)\(conflict)
                """, parameters)
            start += chunk.count
        }
        return inserted
    }

    /// Whether a completed donation exists for `(gateway, orderID)` or
    /// `(gateway, gatewayTxnID)`.
    public func exists(gateway: String, orderID: String?, gatewayTxnID: String?) throws -> Bool {
        if let orderID, try !connection.query("SELECT 1 FROM donations WHERE gateway = ? AND order_id = ? LIMIT 1",
                                               [.text(gateway), .text(orderID)]).isEmpty {
            return true
        }
        if let gatewayTxnID, try !connection.query("SELECT 1 FROM donations WHERE gateway = ? AND gateway_txn_id = ? LIMIT 1",
                                                    [.text(gateway), .text(gatewayTxnID)]).isEmpty {
            return true
        }
        return false
    }

    /// How many donations are stored (of one gateway, or all).
    public func count(gateway: String? = nil) throws -> Int {
        let rows = gateway == nil
            ? try connection.query("SELECT COUNT(*) FROM donations", [])
            : try connection.query("SELECT COUNT(*) FROM donations WHERE gateway = ?", [.text(gateway)])
        return Int(rows.first?.first?.int64 ?? 0)
    }

    /// Every `(gateway, gateway_txn_id)` with how often it is stored (always
    /// once, by the unique key; tests assert exactly that).
    public func transactionIDs() throws -> [String] {
        try connection.query("SELECT gateway, gateway_txn_id FROM donations ORDER BY id", []).map {
            "\($0[0].string ?? "")/\($0[1].string ?? "")"
        }
    }
}
