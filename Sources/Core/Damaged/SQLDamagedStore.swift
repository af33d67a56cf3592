public import Foundation

/// The damaged store in a SQL database: the `damaged` table of the embedded
/// SQLite file or of MariaDB, with the same statements for both.
public final class SQLDamagedStore: DamagedStore {
    /// The connection used for every statement.
    public let connection: any SQLConnection

    /// A damaged store on `connection` (its schema must be migrated).
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    static let columns = """
        id, original_date, damaged_date, retry_date, original_queue, gateway, order_id, gateway_txn_id, error, trace, message, \
        original_size, original_sha256
        """

    func record(_ row: [SQLValue]) -> DamagedMessage {
        let d = connection.dialect
        return DamagedMessage(
            id: row[0].int64 ?? 0, originalDate: d.date(row[1]), damagedDate: d.date(row[2]) ?? Date(timeIntervalSince1970: 0),
            retryDate: d.date(row[3]), originalQueue: row[4].string ?? "", gateway: row[5].string, orderID: row[6].string,
            gatewayTxnID: row[7].string, error: row[8].string ?? "", trace: row[9].string, message: row[10].bytes ?? [],
            originalSize: row[11].int64.map { Int($0) }, originalSHA256: row[12].string)
    }

    public func insert(_ r: DamagedMessage) throws -> Int64 {
        let d = connection.dialect
        return try connection.insert("""
            INSERT INTO damaged (original_date, damaged_date, retry_date, original_queue, gateway, order_id, gateway_txn_id, error, trace,
              message, original_size, original_sha256)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [d.value(r.originalDate), d.value(r.damagedDate), d.value(r.retryDate), .text(r.originalQueue), .text(r.gateway),
                  .text(r.orderID), .text(r.gatewayTxnID), .text(r.error), .text(r.trace), .blob(r.message),
                  r.originalSize.map { .int($0) } ?? .null, .text(r.originalSHA256)])
    }

    public func list(queue: String?, limit: Int) throws -> [DamagedMessage] {
        let rows = queue == nil
            ? try connection.query("SELECT \(Self.columns) FROM damaged ORDER BY id DESC LIMIT ?", [.int(limit)])
            : try connection.query("SELECT \(Self.columns) FROM damaged WHERE original_queue = ? ORDER BY id DESC LIMIT ?",
                                   [.text(queue), .int(limit)])
        return rows.map(record)
    }

    public func fetch(id: Int64) throws -> DamagedMessage? {
        try connection.query("SELECT \(Self.columns) FROM damaged WHERE id = ?", [.integer(id)]).first.map(record)
    }

    public func delete(id: Int64) throws -> Bool {
        try connection.execute("DELETE FROM damaged WHERE id = ?", [.integer(id)]) > 0
    }

    public func due(at now: Date, limit: Int) throws -> [DamagedMessage] {
        try connection.query(
            "SELECT \(Self.columns) FROM damaged WHERE retry_date IS NOT NULL AND retry_date <= ? ORDER BY retry_date, id LIMIT ?",
            [connection.dialect.value(now), .int(limit)]).map(record)
    }

    public func count(queue: String?) throws -> Int {
        let rows = queue == nil
            ? try connection.query("SELECT COUNT(*) FROM damaged", [])
            : try connection.query("SELECT COUNT(*) FROM damaged WHERE original_queue = ?", [.text(queue)])
        return Int(rows.first?.first?.int64 ?? 0)
    }

    public func countDue(at now: Date) throws -> Int {
        let rows = try connection.query("SELECT COUNT(*) FROM damaged WHERE retry_date IS NOT NULL AND retry_date <= ?",
                                        [connection.dialect.value(now)])
        return Int(rows.first?.first?.int64 ?? 0)
    }

    public func queueNames() throws -> [String] {
        try connection.query("SELECT DISTINCT original_queue FROM damaged ORDER BY original_queue", []).compactMap { $0.first?.string }
    }
}
