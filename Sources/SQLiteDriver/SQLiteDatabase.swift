internal import CSQLite
public import Core
import Foundation

/// One connection to a SQLite file. Owns the `sqlite3*` handle and its
/// prepared statements; use it from one task at a time (it is deliberately
/// not `Sendable`).
public final class SQLiteDatabase: SQLConnection {
    /// The version of the SQLite library linked.
    public static var libraryVersion: String { String(cString: sqlite3_libversion()) }
    /// The file this connection is open on.
    public let path: String
    private var handle: OpaquePointer?
    private var statements: [String: SQLiteStatement] = [:]
    private var transactionDepth = 0
    /// The busy handler's state (its context pointer; lives as long as the connection).
    private let lockWait: LockWait
    /// Shared with the process's other connections to this file that take turns at writing (transactions and writing statements).
    private let writeGate: SQLiteWriteGate?

    /// Opens (creating if needed) the database at `path` in WAL mode with
    /// `synchronous=FULL`, so a committed write survives a crash of the
    /// process or of the machine, and several processes can share the file.
    /// With `readOnly`, opens an existing file for reading only: nothing is
    /// created and no pragma writes (the file keeps its journal mode), so a
    /// user who may only read the file can look at it. Connections given one
    /// `writeGate` take turns at transactions inside the process instead of
    /// polling SQLite's lock (see ``SQLiteWriteGate``).
    public init(path: String, readOnly: Bool = false, busyTimeoutMilliseconds: Int32 = 30_000,
                writeGate: SQLiteWriteGate? = nil) throws(SQLiteError) {
        self.path = path
        self.writeGate = writeGate
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        handle = try Self.open(path, path: path, flags: flags)
        lockWait = LockWait(timeout: .milliseconds(max(0, busyTimeoutMilliseconds)))
        sqlite3_busy_handler(handle, Self.waitForLock, Unmanaged.passUnretained(lockWait).toOpaque())
        sqlite3_extended_result_codes(handle, 0)
        if readOnly {
            // A first read tells at once whether the file (and its -wal/-shm) can be read.
            do {
                try execute("SELECT COUNT(*) FROM sqlite_master", context: "reading \(path)")
            } catch where (error.code == SQLITE_READONLY || error.code == SQLITE_CANTOPEN) && access(path + "-wal", F_OK) != 0 {
                // WAL reading needs PATH-shm, which a user who may not write the folder cannot create. With no
                // PATH-wal, no connection has the file open (WAL mode keeps it while one has) and a new writer
                // writes to a new PATH-wal, not to the file: the file is whole, and read as immutable.
                sqlite3_close_v2(handle)
                let immutable = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
                handle = try Self.open(Self.immutableURI(path), path: path, flags: immutable)
                try execute("SELECT COUNT(*) FROM sqlite_master", context: "reading \(path)")
            }
            return
        }
        // Incremental auto-vacuum can only be chosen before WAL mode and the
        // first table (on an existing file this changes nothing; the
        // migrator converts older files once).
        try execute("PRAGMA auto_vacuum = INCREMENTAL", context: "enabling incremental auto-vacuum on \(path)")
        try switchToWAL(busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        try execute("PRAGMA synchronous=FULL", context: "setting synchronous=FULL on \(path)")
        // The WAL file is cut back to 16 MiB after a checkpoint instead of
        // staying at its largest size after a burst.
        try execute("PRAGMA journal_size_limit=16777216", context: "limiting the WAL size of \(path)")
        try execute("PRAGMA foreign_keys=ON", context: "enabling foreign keys on \(path)")
    }

    /// The busy handler: while another connection holds the lock, waits
    /// 0.1, 0.2, 0.4 and 0.8 ms, then 2 ms at a time, until the busy timeout
    /// has passed on the clock since the first try. SQLite's own
    /// (`sqlite3_busy_timeout`) waits 10 to 100 ms at a time after a few
    /// tries, so with several writers the lock often sat free while every
    /// waiter slept. `context` is the connection's ``LockWait``.
    static let waitForLock: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { context, count in
        guard let context else { return 0 }
        let wait = Unmanaged<LockWait>.fromOpaque(context).takeUnretainedValue()
        let now = ContinuousClock.now
        if count == 0 { wait.firstTry = now }
        guard now - wait.firstTry < wait.timeout else { return 0 }
        usleep(useconds_t(count < 4 ? 100 << count : 2_000))
        return 1
    }

    /// Switching to WAL needs an exclusive lock, and SQLite reports BUSY
    /// for it without waiting when another process is opening the same new
    /// file: retry for as long as the busy timeout allows.
    private func switchToWAL(busyTimeoutMilliseconds: Int32) throws(SQLiteError) {
        let deadline = Date().addingTimeInterval(Double(busyTimeoutMilliseconds) / 1000)
        while true {
            do {
                try execute("PRAGMA journal_mode=WAL", context: "switching \(path) to WAL mode")
                return
            } catch let error where error.isTransient && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    private static func open(_ name: String, path: String, flags: Int32) throws(SQLiteError) -> OpaquePointer {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(name, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close(db)
            throw SQLiteError(code: rc & 0xff, message: message, context: "opening \(path)", path: path)
        }
        return db
    }

    /// `file:PATH?immutable=1`, the path percent-encoded as a URI needs.
    static func immutableURI(_ path: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:" + (path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path) + "?immutable=1"
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
        return SQLiteError(code: rc & 0xff, message: message, context: context, path: path)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String, context: String? = nil) throws(SQLiteError) {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(errmsg)
            throw SQLiteError(code: rc & 0xff, message: message, context: context ?? "executing \(sql.prefix(60))", path: path)
        }
    }

    /// A prepared statement for `sql`, cached on this connection and reset
    /// for reuse.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            throw error(rc, "preparing \(sql.prefix(80))")
        }
        let statement = SQLiteStatement(stmt, database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT` (taking the write lock
    /// up front, so concurrent writers wait instead of failing half-way);
    /// rolls back if `body` throws. Nested calls join the outer transaction.
    /// With a write gate, the transaction first waits for its turn.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 {
            return try body()
        }
        guard let writeGate else { return try outermostTransaction(body) }
        return try writeGate.taking { try outermostTransaction(body) }
    }

    private func outermostTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE", context: "starting a transaction on \(path)")
        transactionDepth += 1
        defer { transactionDepth -= 1 }
        do {
            let result = try body()
            try execute("COMMIT", context: "committing a transaction on \(path)")
            return result
        } catch {
            try? execute("ROLLBACK", context: "rolling back on \(path)")
            throw error
        }
    }

    /// Whether a transaction is open on this connection.
    public var inTransaction: Bool { transactionDepth > 0 }

    /// Always ``SQLDialect/sqlite``.
    public var dialect: SQLDialect { .sqlite }

    /// `sqlite:PATH`.
    public var location: String { "sqlite:\(path)" }

    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int {
        let statement = try prepare(sql)
        return try inTurn(statement) {
            try statement.bind(parameters).run()
            return changes
        }
    }

    public func insert(_ sql: String, _ parameters: [SQLValue]) throws -> Int64 {
        let statement = try prepare(sql)
        return try inTurn(statement) {
            try statement.bind(parameters).run()
            return lastInsertRowID
        }
    }

    public func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[SQLValue]] {
        let statement = try prepare(sql)
        return try inTurn(statement) { try statement.bind(parameters).rows { $0.values() } }
    }

    /// Runs `body`, a writing statement's, in the write gate's turn when it
    /// is outside a transaction (a claim's `UPDATE … RETURNING`, say), so
    /// that it does not have to slip in between the gated transactions at
    /// SQLite's lock; a read never waits for the gate.
    private func inTurn<T>(_ statement: SQLiteStatement, _ body: () throws -> T) throws -> T {
        guard transactionDepth == 0, let writeGate, !statement.isReadOnly else { return try body() }
        return try writeGate.taking(body)
    }

    public func executeScript(_ sql: String) throws {
        try execute(sql, context: "running a script on \(path)")
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Row id of the last insert.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// A prepared statement owned by a ``SQLiteDatabase``.
public final class SQLiteStatement {
    private let stmt: OpaquePointer
    private unowned let database: SQLiteDatabase
    private let sql: String

    /// Whether the statement writes nothing (`sqlite3_stmt_readonly`).
    var isReadOnly: Bool { sqlite3_stmt_readonly(stmt) != 0 }

    init(_ stmt: OpaquePointer, database: SQLiteDatabase, sql: String) {
        self.stmt = stmt
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    /// Binds parameters by position (1-based, in order).
    @discardableResult
    public func bind(_ values: SQLValue...) throws(SQLiteError) -> SQLiteStatement {
        try bind(values)
    }

    /// Binds parameters by position (1-based, in order).
    @discardableResult
    public func bind(_ values: [SQLValue]) throws(SQLiteError) -> SQLiteStatement {
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
        return self
    }

    /// Every column of the current row.
    func values() -> [SQLValue] {
        (0..<sqlite3_column_count(stmt)).map { i in
            switch sqlite3_column_type(stmt, i) {
            case SQLITE_NULL: return .null
            case SQLITE_INTEGER: return .integer(sqlite3_column_int64(stmt, i))
            case SQLITE_FLOAT: return .real(sqlite3_column_double(stmt, i))
            case SQLITE_TEXT: return .text(text(i) ?? "")
            default: return .blob(bytes(i) ?? [])
            }
        }
    }

    /// Binds one parameter (1-based).
    public func bind(_ value: SQLValue, at position: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(stmt, position)
        case .integer(let v): rc = sqlite3_bind_int64(stmt, position, v)
        case .real(let v): rc = sqlite3_bind_double(stmt, position, v)
        case .text(var v):
            // The string's own UTF-8 (SQLite copies it): no C string made per value.
            rc = v.withUTF8 { utf8 in
                guard let p = utf8.baseAddress, !utf8.isEmpty else { return fundq_sqlite_bind_text(stmt, position, "", 0) }
                return bindTextCode(p, count: utf8.count, at: position)
            }
        case .blob(let v):
            rc = v.withUnsafeBytes { raw in
                fundq_sqlite_bind_blob(stmt, position, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count))
            }
        }
        guard rc == SQLITE_OK else { throw database.error(rc, "binding parameter \(position) of \(sql.prefix(60))") }
    }

    /// Binds `count` bytes at `bytes`, valid UTF-8, as text (SQLite copies
    /// them): for a caller holding its text as bytes, no String made.
    public func bindText(_ bytes: UnsafePointer<UInt8>, count: Int, at position: Int32) throws(SQLiteError) {
        let rc = bindTextCode(bytes, count: count, at: position)
        guard rc == SQLITE_OK else { throw database.error(rc, "binding parameter \(position) of \(sql.prefix(60))") }
    }

    private func bindTextCode(_ bytes: UnsafePointer<UInt8>, count: Int, at position: Int32) -> Int32 {
        bytes.withMemoryRebound(to: CChar.self, capacity: max(count, 1)) { fundq_sqlite_bind_text(stmt, position, $0, Int32(count)) }
    }

    /// Steps once: `true` when a row is available.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let err = database.error(rc, "running \(sql.prefix(80))")
            sqlite3_reset(stmt)
            throw err
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    public func run() throws(SQLiteError) {
        defer { sqlite3_reset(stmt) }
        while try step() {}
    }

    /// Runs the statement, maps every row, then resets it.
    public func rows<T>(_ map: (SQLiteStatement) throws -> T) throws -> [T] {
        defer { sqlite3_reset(stmt) }
        var out: [T] = []
        while try step() { out.append(try map(self)) }
        return out
    }

    /// Maps the first row (or returns `nil` when there is none), then resets
    /// the statement. A statement left mid-way keeps a read transaction open,
    /// which would make the connection's next write fail with SQLITE_BUSY.
    public func firstRow<T>(_ map: (SQLiteStatement) throws -> T) throws -> T? {
        defer { sqlite3_reset(stmt) }
        return try step() ? try map(self) : nil
    }

    /// Column `i` (0-based) as an integer; `nil` for NULL.
    public func int(_ i: Int32) -> Int64? {
        sqlite3_column_type(stmt, i) == SQLITE_NULL ? nil : sqlite3_column_int64(stmt, i)
    }

    /// Column `i` as a double; `nil` for NULL.
    public func double(_ i: Int32) -> Double? {
        sqlite3_column_type(stmt, i) == SQLITE_NULL ? nil : sqlite3_column_double(stmt, i)
    }

    /// Column `i` as text; `nil` for NULL.
    public func text(_ i: Int32) -> String? {
        guard sqlite3_column_type(stmt, i) != SQLITE_NULL, let p = sqlite3_column_text(stmt, i) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// Column `i` as bytes; `nil` for NULL.
    public func bytes(_ i: Int32) -> [UInt8]? {
        guard sqlite3_column_type(stmt, i) != SQLITE_NULL else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, i))
        guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// When a connection's wait for SQLite's lock began, and how long it may last.
final class LockWait {
    let timeout: Duration
    var firstTry = ContinuousClock.now

    init(timeout: Duration) {
        self.timeout = timeout
    }
}
