public import Foundation

/// Rolls banner impression counts up: minutes older than a cutoff into
/// per-hour counts, hours older than another into per-day counts. One hour
/// (or day) per transaction — the sums are added to the coarser table and
/// the finer rows deleted together — so a job killed part-way has moved
/// whole buckets only, a bucket is never counted twice, and counts that
/// arrive late for a rolled-up bucket are added on the next run.
public struct ImpressionRollup {
    /// One level: from a finer table into a coarser one.
    public struct Level: Sendable, Equatable {
        /// The finer table and its time column.
        public let from: (table: String, column: String)
        /// The coarser table and its time column.
        public let into: (table: String, column: String)
        /// Seconds per bucket of the coarser table.
        public let bucket: Int64

        /// Whether two levels are the same.
        public static func == (a: Level, b: Level) -> Bool { a.from == b.from && a.into == b.into && a.bucket == b.bucket }
    }

    /// Minutes into hours.
    public static let minutesToHours = Level(from: ("banner_impressions_minute", "minute"), into: ("banner_impressions_hour", "hour"),
                                             bucket: 3_600)
    /// Hours into days (UTC).
    public static let hoursToDays = Level(from: ("banner_impressions_hour", "hour"), into: ("banner_impressions_day", "day"),
                                          bucket: 86_400)

    /// The database.
    public let connection: any SQLConnection

    /// A rollup on `connection`.
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    static let keyColumns = "banner, campaign, project, language, country, device"

    /// Moves every complete bucket of `level` that ends before `cutoff`;
    /// returns the finer rows moved (dry: that would be).
    public func run(_ level: Level, before cutoff: Date, dryRun: Bool) throws -> Int {
        let end = Int64(cutoff.timeIntervalSince1970) / level.bucket * level.bucket  // whole buckets only
        if dryRun { return try count(level, from: nil, to: end) }
        var moved = 0
        while let first = try oldest(level, before: end) {
            let start = first / level.bucket * level.bucket
            moved += try connection.transaction { try move(level, bucket: start) }
        }
        return moved
    }

    private func value(_ seconds: Int64) -> SQLValue {
        connection.dialect == .sqlite ? .integer(seconds) : connection.dialect.value(Date(timeIntervalSince1970: Double(seconds)))
    }

    private func oldest(_ level: Level, before end: Int64) throws -> Int64? {
        let row = try connection.query("SELECT MIN(\(level.from.column)) FROM \(level.from.table) WHERE \(level.from.column) < ?",
                                       [value(end)]).first?.first ?? .null
        if case .null = row { return nil }
        return connection.dialect == .sqlite ? row.int64 : connection.dialect.date(row).map { Int64($0.timeIntervalSince1970) }
    }

    private func count(_ level: Level, from start: Int64?, to end: Int64) throws -> Int {
        var sql = "SELECT COUNT(*) FROM \(level.from.table) WHERE \(level.from.column) < ?"
        var parameters = [value(end)]
        if let start { sql += " AND \(level.from.column) >= ?"; parameters.append(value(start)) }
        return Int(try connection.query(sql, parameters).first?.first?.int64 ?? 0)
    }

    /// Adds one bucket's sums to the coarser table and deletes its rows.
    private func move(_ level: Level, bucket start: Int64) throws -> Int {
        let range = [value(start), value(start + level.bucket)]
        let select = """
            SELECT ?, \(Self.keyColumns), SUM(count) FROM \(level.from.table)
            WHERE \(level.from.column) >= ? AND \(level.from.column) < ? GROUP BY \(Self.keyColumns)
            """
        let insert = "INSERT INTO \(level.into.table) (\(level.into.column), \(Self.keyColumns), count) \(select)"
        switch connection.dialect {
        case .sqlite:
            try connection.execute(insert + """
                 ON CONFLICT (\(level.into.column), \(Self.keyColumns)) DO UPDATE SET count = count + excluded.count
                """, [value(start)] + range)
        case .mariadb:
            try connection.execute(insert + " ON DUPLICATE KEY UPDATE count = \(level.into.table).count + VALUES(count)",
                                   [value(start)] + range)
        }
        return try connection.execute(
            "DELETE FROM \(level.from.table) WHERE \(level.from.column) >= ? AND \(level.from.column) < ?", range)
    }
}
