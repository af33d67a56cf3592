public import Foundation

/// Where the bytes are: per table rows, bytes of data and of indexes, oldest
/// and newest row; for the embedded file its size and free pages
/// (`fundq db stats`).
public struct DatabaseStats: Sendable {
    /// One table.
    public struct Table: Sendable, Equatable {
        /// Its name.
        public var name: String
        /// Rows (counted).
        public var rows: Int
        /// Bytes of the table's own pages (MariaDB: InnoDB's estimate); nil when unknown.
        public var dataBytes: Int?
        /// Bytes of its indexes; nil when unknown.
        public var indexBytes: Int?
        /// The oldest row's time (by the column in ``DatabaseStats/timeColumns``).
        public var oldest: Date?
        /// The newest row's time.
        public var newest: Date?
    }

    /// The embedded file's space.
    public struct File: Sendable, Equatable {
        /// Bytes of the database file.
        public var fileBytes: Int
        /// Bytes of its write-ahead log.
        public var walBytes: Int
        /// Pages, free pages, bytes per page.
        public var pages: PageCounts
        /// The auto-vacuum mode (0 none, 1 full, 2 incremental).
        public var autoVacuum: Int

        /// A file of `fileBytes` with a log of `walBytes`, its `pages`, in auto-vacuum mode `autoVacuum`.
        public init(fileBytes: Int, walBytes: Int, pages: PageCounts, autoVacuum: Int) {
            self.fileBytes = fileBytes
            self.walBytes = walBytes
            self.pages = pages
            self.autoVacuum = autoVacuum
        }
    }

    /// Page counts of a database file.
    public struct PageCounts: Sendable, Equatable {
        /// Pages in the file.
        public var total: Int
        /// Pages on the free list (space the file holds but does not use).
        public var free: Int
        /// Bytes per page.
        public var pageSize: Int

        /// Counts of `total` pages, `free` of them free, `pageSize` bytes each.
        public init(total: Int, free: Int, pageSize: Int) {
            self.total = total
            self.free = free
            self.pageSize = pageSize
        }
    }

    /// Every table, largest first.
    public var tables: [Table]
    /// The embedded file, when the database is one.
    public var file: File?

    /// The column giving each table's row time.
    public static let timeColumns: [String: String] = [
        "queue_message": "enqueued_at", "damaged": "damaged_date", "pending": "date", "donations": "received_date",
        "rectifier_decision": "time", "contribution_tracking": "last_event_at", "contribution_tracking_event": "received_at",
        "banner_impressions_minute": "minute", "banner_impression_files": "started", "fundq_schema": "applied_at",
    ]

    /// Measures `connection`'s database.
    public static func measure(_ connection: any SQLConnection) throws -> DatabaseStats {
        let sizes = try tableSizes(connection)
        var tables: [Table] = []
        for name in try tableNames(connection) {
            let size = sizes[name]
            var table = Table(name: name, rows: 0, dataBytes: size?.data, indexBytes: size?.index)
            let time = timeColumns[name]
            let row = try connection.query(
                "SELECT COUNT(*)\(time.map { ", MIN(\($0)), MAX(\($0))" } ?? "") FROM \(name)", []).first ?? []
            table.rows = Int(row.first?.int64 ?? 0)
            if time != nil, row.count == 3 {
                table.oldest = date(row[1], connection.dialect)
                table.newest = date(row[2], connection.dialect)
            }
            tables.append(table)
        }
        tables.sort { ($0.dataBytes ?? 0) + ($0.indexBytes ?? 0) > ($1.dataBytes ?? 0) + ($1.indexBytes ?? 0) }
        return DatabaseStats(tables: tables, file: try connection.fileSpace())
    }

    static func date(_ value: SQLValue, _ dialect: SQLDialect) -> Date? {
        if case .null = value { return nil }
        return dialect.date(value)
    }

    static func tableNames(_ connection: any SQLConnection) throws -> [String] {
        let sql = connection.dialect == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            : "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
        return try connection.query(sql, []).compactMap { $0.first?.string }
    }

    /// Bytes of data and of indexes per table (empty when the database
    /// cannot say: a SQLite built without the dbstat table).
    static func tableSizes(_ connection: any SQLConnection) throws -> [String: (data: Int, index: Int)] {
        var sizes: [String: (data: Int, index: Int)] = [:]
        if connection.dialect == .mariadb {
            for row in try connection.query("""
                SELECT TABLE_NAME, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
                """, []) {
                sizes[row[0].string ?? ""] = (Int(row[1].int64 ?? 0), Int(row[2].int64 ?? 0))
            }
            return sizes
        }
        let pages: [[SQLValue]]
        do {
            pages = try connection.query("""
                SELECT m.tbl_name, m.type, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name
                GROUP BY m.tbl_name, m.type
                """, [])
        } catch {
            return [:]
        }
        for row in pages {
            let table = row[0].string ?? "", bytes = Int(row[2].int64 ?? 0)
            var size = sizes[table] ?? (0, 0)
            if row[1].string == "index" { size.index += bytes } else { size.data += bytes }
            sizes[table] = size
        }
        return sizes
    }
}

/// What the status screen shows of the database's size: the total and the
/// largest tables, measured without counting rows (cheap enough to redraw).
public struct StorageSummary: Sendable, Equatable {
    /// One table's bytes of data and indexes.
    public struct TableBytes: Sendable, Equatable {
        /// The table.
        public var table: String
        /// Its bytes of data and indexes.
        public var bytes: Int
    }

    /// Bytes of data and indexes over every table (nil when the database cannot say).
    public var totalBytes: Int?
    /// The largest tables, largest first.
    public var largest: [TableBytes]
    /// For the embedded file: its size, WAL size and free pages.
    public var file: DatabaseStats.File?
}

extension DatabaseStats {
    /// The total and the `count` largest tables of `connection`'s database.
    public static func summary(_ connection: any SQLConnection, largest count: Int = 3) throws -> StorageSummary {
        let sizes = try tableSizes(connection)
        let tables = sizes.map { StorageSummary.TableBytes(table: $0.key, bytes: $0.value.data + $0.value.index) }
            .sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.table < $1.table }
        return StorageSummary(totalBytes: sizes.isEmpty ? nil : tables.reduce(0) { $0 + $1.bytes },
                              largest: Array(tables.prefix(count)), file: try connection.fileSpace())
    }
}
