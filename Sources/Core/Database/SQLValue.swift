public import Foundation

/// A value bound to, or read from, a SQL statement (SQLite or MariaDB).
public enum SQLValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// A 64-bit integer.
    case integer(Int64)
    /// A double.
    case real(Double)
    /// UTF-8 text.
    case text(String)
    /// Raw bytes (MariaDB returns every column this way).
    case blob([UInt8])

    /// `.text(v)`, or NULL when `v` is nil.
    public static func text(_ v: String?) -> SQLValue { v.map { .text($0) } ?? .null }
    /// `.real(v)`, or NULL when `v` is nil.
    public static func real(_ v: Double?) -> SQLValue { v.map { .real($0) } ?? .null }
    /// `.integer(v)` from an `Int`.
    public static func int(_ v: Int) -> SQLValue { .integer(Int64(v)) }

    /// The value as text (numbers formatted, bytes decoded); nil for NULL.
    public var string: String? {
        switch self {
        case .null: return nil
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let v): return v
        case .blob(let v): return String(decoding: v, as: UTF8.self)
        }
    }

    /// The value as an integer, when it is one (or text holding one).
    public var int64: Int64? {
        switch self {
        case .integer(let v): return v
        case .real(let v): return Int64(exactly: v.rounded(.towardZero))
        default: return string.flatMap { Int64($0) }
        }
    }

    /// The value as a double, when it is a number (or text holding one).
    public var double: Double? {
        switch self {
        case .integer(let v): return Double(v)
        case .real(let v): return v
        default: return string.flatMap { Double($0) }
        }
    }

    /// The value as bytes; nil for NULL.
    public var bytes: [UInt8]? {
        switch self {
        case .null: return nil
        case .blob(let v): return v
        default: return string.map { Array($0.utf8) }
        }
    }

    /// `count` parameter marks for a list of values: `?, ?, ?`.
    public static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }
}

/// The SQL dialects fundq speaks.
public enum SQLDialect: Sendable {
    /// The embedded SQLite file: dates are unix seconds (REAL).
    case sqlite
    /// MariaDB: dates are `DATETIME(6)` in UTC.
    case mariadb

    /// The table hint that makes MariaDB read a table through `index`
    /// (" FORCE INDEX (index)"; SQLite: ""), for statements on rows named
    /// by a list (`id IN (…)`, `order_id IN (…)`) inside transactions that
    /// run beside claims. On a small table MariaDB's optimizer may scan every
    /// row instead, and a locking read or an `UPDATE` then locks every row it
    /// passed until the transaction ends: the claimers, passing over locked
    /// rows, found none and ended their sweeps with rows left.
    public func forceIndex(_ index: String) -> String { self == .mariadb ? " FORCE INDEX (\(index))" : "" }

    /// `date` as a parameter of this dialect.
    public func value(_ date: Date?) -> SQLValue {
        guard let date else { return .null }
        switch self {
        case .sqlite: return .real(date.timeIntervalSince1970)
        case .mariadb: return .text(SQLDialect.mariadbText(date))
        }
    }

    /// A date read back from a column of this dialect.
    public func date(_ value: SQLValue) -> Date? {
        switch self {
        case .sqlite: return value.double.map(Date.init(timeIntervalSince1970:))
        case .mariadb: return value.string.flatMap(SQLDialect.mariadbDate)
        }
    }

    /// 0001-01-01 and 9999-12-31T23:59:59Z, the range of MariaDB's DATETIME.
    static let mariadbRange = -62_135_596_800.0...253_402_300_799.0

    static func mariadbText(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        // Validation keeps dates plausible; should one slip through, no
        // conversion may trap: strict mode refuses this text (error 1292, a
        // content error), so the one message carrying it is damaged.
        guard mariadbRange.contains(t) else { return "out-of-range date" }
        var seconds = time_t(t.rounded(.down))
        var micros = Int(((t - Double(seconds)) * 1_000_000).rounded())
        if micros == 1_000_000 { seconds += 1; micros = 0 }
        return UTCDigits.text(seconds: seconds, layout: .sql, micros: micros)
    }

    static func mariadbDate(_ text: String) -> Date? {
        // "YYYY-MM-DD HH:MM:SS[.ffffff]", UTC.
        let fields = text.split(whereSeparator: { $0 == "-" || $0 == " " || $0 == ":" })
        guard fields.count == 6, let year = Int32(fields[0]), let month = Int32(fields[1]), let day = Int32(fields[2]),
              let hour = Int32(fields[3]), let minute = Int32(fields[4]), let second = Double(fields[5]) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = 0
        let base = timegm(&parts)
        return Date(timeIntervalSince1970: Double(base) + second)
    }
}

/// A connection to a SQL database that stores are written against once for
/// both SQLite and MariaDB. Not `Sendable`: one task at a time.
public protocol SQLConnection: AnyObject {
    /// Which dialect to write.
    var dialect: SQLDialect { get }
    /// Where the database is, password masked.
    var location: String { get }
    /// Runs a statement with `?` parameters; returns the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int
    /// Runs an INSERT; returns the new row's id.
    func insert(_ sql: String, _ parameters: [SQLValue]) throws -> Int64
    /// Runs a query; returns every row.
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[SQLValue]]
    /// Runs `body` in a transaction (joining an open one), committing when it
    /// returns and rolling back when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T
    /// Runs several `;`-separated statements without parameters (migrations).
    func executeScript(_ sql: String) throws
    /// Readies the database before migrations run (the embedded file turns
    /// on incremental auto-vacuum); a database server needs nothing.
    func prepareForMigrations() throws
    /// The file's size and pages when the database is a file (the embedded
    /// SQLite file); nil for a database server.
    func fileSpace() throws -> DatabaseStats.File?
    /// Gives the pages of removed rows back to the file system (the embedded
    /// file, in short steps); a database server needs nothing.
    func reclaimFreeSpace() throws
}

extension SQLConnection {
    /// Nothing to ready (a database server).
    public func prepareForMigrations() throws {}
    /// No file (a database server).
    public func fileSpace() throws -> DatabaseStats.File? { nil }
    /// Nothing to give back (a database server).
    public func reclaimFreeSpace() throws {}
}
