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
    /// Message bytes per multi-row INSERT: a statement stays far below
    /// MariaDB's 16 MiB `max_allowed_packet` however large the messages.
    static let insertChunkBytes = 2 << 20

    /// Inserts `donations`, skipping any whose `(gateway, gateway_txn_id)`
    /// is already stored (or repeated earlier in the batch). Returns how many
    /// were new. Run inside a transaction to make a batch atomic.
    public func insert(_ donations: [DonationMessage], receivedAt now: Date = Date()) throws -> Int {
        try insertEach(donations, receivedAt: now).filter { $0 }.count
    }

    /// Inserts `donations` and says for each whether the database stored it
    /// (`false`: its key was already there). The answer is the database's:
    /// each chunk goes in as one multi-row INSERT, and when the database
    /// stored fewer rows than the chunk holds, the chunk is undone (to a
    /// savepoint) and its rows inserted one by one, each telling.
    public func insertEach(_ donations: [DonationMessage], receivedAt now: Date = Date()) throws -> [Bool] {
        guard !donations.isEmpty else { return [] }
        return try connection.transaction {
            var stored: [Bool] = []
            stored.reserveCapacity(donations.count)
            for chunk in chunks(donations) {
                try connection.executeScript("SAVEPOINT fundq_donations_chunk")
                if try insertRows(chunk, receivedAt: now) == chunk.count {
                    stored += Array(repeating: true, count: chunk.count)
                } else {
                    try connection.executeScript("ROLLBACK TO SAVEPOINT fundq_donations_chunk")
                    for donation in chunk { stored.append(try insertRows([donation], receivedAt: now) == 1) }
                }
                try connection.executeScript("RELEASE SAVEPOINT fundq_donations_chunk")
            }
            return stored
        }
    }

    private func chunks(_ donations: [DonationMessage]) -> [ArraySlice<DonationMessage>] {
        var result: [ArraySlice<DonationMessage>] = []
        var start = 0, bytes = 0
        for (index, donation) in donations.enumerated() {
            let size = donation.approximateBytes
            if index > start && (index - start >= Self.insertChunk || bytes + size > Self.insertChunkBytes) {
                result.append(donations[start..<index])
                start = index
                bytes = 0
            }
            bytes += size
        }
        result.append(donations[start...])
        return result
    }

    /// One multi-row INSERT; returns the rows the database stored.
    private func insertRows(_ chunk: ArraySlice<DonationMessage>, receivedAt now: Date) throws -> Int {
        let d = connection.dialect
        let placeholders = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", count: chunk.count).joined(separator: ", ")
        let conflict = d == .mariadb ? " ON DUPLICATE KEY UPDATE id = id" : " ON CONFLICT (gateway, gateway_txn_id) DO NOTHING"
        var parameters: [SQLValue] = []
        parameters.reserveCapacity(chunk.count * 10)
        for m in chunk {
            parameters += [.text(m.gateway), .text(m.gatewayTxnID), .text(m.orderID), .text(m.contributionTrackingID),
                           .text(m.currency), .text(m.gross.description), .text(m.fee?.description), d.value(m.date),
                           .text(JSONValue.object(m.members).serialized()), d.value(now)]
        }
        return try connection.execute("""
            INSERT INTO donations (gateway, gateway_txn_id, order_id, contribution_tracking_id, currency, gross, fee, date, message,
              received_date)
            VALUES \(placeholders)\(conflict)
            """, parameters)
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
