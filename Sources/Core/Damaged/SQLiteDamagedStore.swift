public import Foundation

/// The damaged store in the embedded SQLite file (table `damaged`).
public final class SQLiteDamagedStore: DamagedStore {
    /// The connection used for every statement.
    public let database: SQLiteDatabase

    /// A damaged store on `database` (its schema must be migrated).
    public init(database: SQLiteDatabase) {
        self.database = database
    }

    static let columns = "id, original_date, damaged_date, retry_date, original_queue, gateway, order_id, gateway_txn_id, error, trace, message"

    static func record(_ row: SQLiteStatement) -> DamagedMessage {
        DamagedMessage(
            id: row.int(0) ?? 0,
            originalDate: row.double(1).map(Date.init(timeIntervalSince1970:)),
            damagedDate: Date(timeIntervalSince1970: row.double(2) ?? 0),
            retryDate: row.double(3).map(Date.init(timeIntervalSince1970:)),
            originalQueue: row.text(4) ?? "",
            gateway: row.text(5), orderID: row.text(6), gatewayTxnID: row.text(7),
            error: row.text(8) ?? "", trace: row.text(9), message: row.bytes(10) ?? [])
    }

    public func insert(_ r: DamagedMessage) throws -> Int64 {
        try database.prepare("""
            INSERT INTO damaged (original_date, damaged_date, retry_date, original_queue, gateway, order_id, gateway_txn_id, error, trace, message)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(.real(r.originalDate?.timeIntervalSince1970), .real(r.damagedDate.timeIntervalSince1970),
                  .real(r.retryDate?.timeIntervalSince1970), .text(r.originalQueue), .text(r.gateway), .text(r.orderID),
                  .text(r.gatewayTxnID), .text(r.error), .text(r.trace), .blob(r.message))
            .run()
        return database.lastInsertRowID
    }

    public func list(queue: String?, limit: Int) throws -> [DamagedMessage] {
        try database.prepare("SELECT \(Self.columns) FROM damaged WHERE (?1 IS NULL OR original_queue = ?1) ORDER BY id DESC LIMIT ?2")
            .bind(.text(queue), .int(limit)).rows(Self.record)
    }

    public func fetch(id: Int64) throws -> DamagedMessage? {
        try database.prepare("SELECT \(Self.columns) FROM damaged WHERE id = ?").bind(.integer(id)).rows(Self.record).first
    }

    public func delete(id: Int64) throws -> Bool {
        try database.prepare("DELETE FROM damaged WHERE id = ?").bind(.integer(id)).run()
        return database.changes > 0
    }

    public func due(at now: Date, limit: Int) throws -> [DamagedMessage] {
        try database.prepare("SELECT \(Self.columns) FROM damaged WHERE retry_date IS NOT NULL AND retry_date <= ? ORDER BY retry_date, id LIMIT ?")
            .bind(.real(now.timeIntervalSince1970), .int(limit)).rows(Self.record)
    }

    public func count(queue: String?) throws -> Int {
        try database.prepare("SELECT COUNT(*) FROM damaged WHERE (?1 IS NULL OR original_queue = ?1)")
            .bind(.text(queue)).firstRow { Int($0.int(0) ?? 0) } ?? 0
    }
}
