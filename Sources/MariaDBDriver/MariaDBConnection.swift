internal import CMariaDB
public import Core
import Foundation

/// One connection to MariaDB through MariaDB Connector/C, with prepared
/// statements only. Owns the `MYSQL*` handle and its statements; use it
/// from one task at a time (it is not `Sendable`). After a lost connection
/// the handle is dropped and the next statement reconnects; the failed
/// statement itself is reported, never silently retried.
public final class MariaDBConnection: SQLConnection {
    /// The version of MariaDB Connector/C linked.
    public static var libraryVersion: String { String(cString: mysql_get_client_info()) }
    /// Where the server is.
    public let url: DatabaseURL
    private var handle: UnsafeMutablePointer<MYSQL>?
    private var statements: [String: UnsafeMutablePointer<MYSQL_STMT>] = [:]
    /// The keys of `statements`, oldest first.
    private var preparedOrder: [String] = []
    private var transactionDepth = 0

    /// `mysql_library_init` once per process, before any connection (the
    /// Swift runtime runs this initializer exactly once, thread-safely).
    private static let libraryReady: Bool = mysql_server_init(0, nil, nil) == 0

    /// A connection to `url`, opened lazily by the first statement.
    public init(url: DatabaseURL) {
        self.url = url
    }

    deinit { disconnect() }

    /// Always ``SQLDialect/mariadb``.
    public var dialect: SQLDialect { .mariadb }

    /// The URL, password masked.
    public var location: String { url.description }

    /// Closes the connection; the next statement opens a new one.
    public func disconnect() {
        for (_, stmt) in statements { mysql_stmt_close(stmt) }
        statements.removeAll()
        preparedOrder.removeAll()
        if let handle { mysql_close(handle) }
        handle = nil
        transactionDepth = 0
    }

    private func error(_ h: UnsafeMutablePointer<MYSQL>, _ context: String) -> MariaDBError {
        MariaDBError(code: mysql_errno(h), message: String(cString: mysql_error(h)), endpoint: url.endpoint, context: context)
    }

    private func statementError(_ s: UnsafeMutablePointer<MYSQL_STMT>, _ context: String) -> MariaDBError {
        MariaDBError(code: mysql_stmt_errno(s), message: String(cString: mysql_stmt_error(s)), endpoint: url.endpoint, context: context)
    }

    private func connected(_ context: String) throws -> UnsafeMutablePointer<MYSQL> {
        if let handle { return handle }
        guard MariaDBConnection.libraryReady, let h = mysql_init(nil) else {
            throw MariaDBError(code: 2000, message: "cannot initialise MariaDB Connector/C", endpoint: url.endpoint, context: context)
        }
        var connectTimeout: UInt32 = 5
        var ioTimeout: UInt32 = 30
        _ = mysql_options(h, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        _ = mysql_options(h, MYSQL_OPT_READ_TIMEOUT, &ioTimeout)
        _ = mysql_options(h, MYSQL_OPT_WRITE_TIMEOUT, &ioTimeout)
        _ = "utf8mb4".withCString { mysql_options(h, MYSQL_SET_CHARSET_NAME, $0) }
        if url.socketPath == nil {
            // The URL names a host and port: TCP even for "localhost" (which Connector/C would take as its default socket).
            var tcp = MYSQL_PROTOCOL_TCP.rawValue
            _ = mysql_options(h, MYSQL_OPT_PROTOCOL, &tcp)
        }
        if let tls = url.tls { MariaDBConnection.configure(tls, on: h) }
        guard mysql_real_connect(h, url.socketPath == nil ? url.host : nil, url.user, url.password, url.database, UInt32(url.port),
                                 url.socketPath, 0) != nil else {
            // Whatever statement was about to run, the failure is the connection's (unreachable, password, database).
            let over = url.tls.map { " over TLS (ssl-mode=\($0.mode.rawValue))" } ?? ""
            let err = error(h, "connecting\(over) as \(url.user) to database \(url.database)")
            mysql_close(h)
            throw MariaDBError(code: err.code == 0 ? 2003 : err.code, message: err.message, endpoint: url.endpoint, context: err.context,
                               whileConnecting: true)
        }
        if let tls = url.tls, mysql_get_ssl_cipher(h) == nil {
            // Connector/C falls back to a plain connection when the server offers no TLS and the host name is not checked.
            mysql_close(h)
            throw MariaDBError(code: 2026, message: "TLS is required but the server offers none", endpoint: url.endpoint,
                               context: "connecting over TLS (ssl-mode=\(tls.mode.rawValue)) as \(url.user) to database \(url.database)",
                               whileConnecting: true)
        }
        handle = h
        // UTC dates; strict mode, so an oversize or invalid value is refused
        // with an error instead of being silently cut or zeroed.
        for sql in ["SET time_zone = '+00:00'",
                    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
                        + "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"] {
            if mysql_real_query(h, sql, UInt(sql.utf8.count)) != 0 {
                let err = error(h, "configuring the session")
                disconnect()
                throw err
            }
        }
        return h
    }

    /// Sets Connector/C's TLS options: TLS enforced; the chain checked
    /// against the CA from verify-ca; the host name too for verify-identity.
    private static func configure(_ tls: DatabaseTLS, on h: UnsafeMutablePointer<MYSQL>) {
        var yes: my_bool = 1
        var verifyName: my_bool = tls.mode == .verifyIdentity ? 1 : 0
        _ = mysql_options(h, MYSQL_OPT_SSL_ENFORCE, &yes)
        _ = mysql_options(h, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verifyName)
        let files = [(MYSQL_OPT_SSL_CA, tls.certificateAuthority), (MYSQL_OPT_SSL_CERT, tls.clientCertificate),
                     (MYSQL_OPT_SSL_KEY, tls.clientKey)]
        for case let (option, path?) in files {
            _ = path.withCString { mysql_options(h, option, $0) }
        }
    }

    private func fail(_ err: MariaDBError) -> MariaDBError {
        if err.isConnectionFailure { disconnect() }
        return err
    }

    /// Runs one statement without parameters or results (DDL, transactions).
    public func executeScript(_ sql: String) throws {
        for statement in sql.components(separatedBy: ";\n") {
            let trimmed = statement.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { continue }
            let h = try connected("running \(trimmed.prefix(60))")
            if mysql_real_query(h, trimmed, UInt(trimmed.utf8.count)) != 0 {
                throw fail(error(h, "running \(trimmed.prefix(80))"))
            }
        }
    }

    /// Most statements kept prepared: multi-row statements differ by their
    /// row count, and the server caps prepared statements (16,382 by default,
    /// for all connections together). The oldest prepared goes first.
    static let maximumPreparedStatements = 256

    private func prepared(_ sql: String) throws -> UnsafeMutablePointer<MYSQL_STMT> {
        if let cached = statements[sql] { return cached }
        if statements.count >= MariaDBConnection.maximumPreparedStatements, !preparedOrder.isEmpty {
            let oldest = preparedOrder.removeFirst()
            if let stmt = statements.removeValue(forKey: oldest) { mysql_stmt_close(stmt) }
        }
        let h = try connected("preparing \(sql.prefix(60))")
        guard let stmt = mysql_stmt_init(h) else { throw fail(error(h, "allocating a statement")) }
        if mysql_stmt_prepare(stmt, sql, UInt(sql.utf8.count)) != 0 {
            let err = statementError(stmt, "preparing \(sql.prefix(80))")
            mysql_stmt_close(stmt)
            throw fail(err)
        }
        statements[sql] = stmt
        preparedOrder.append(sql)
        return stmt
    }

    /// Runs `sql` with `parameters`; returns (rows changed, insert id, rows).
    private func run(_ sql: String, _ parameters: [SQLValue]) throws -> (changed: Int, insertID: Int64, rows: [[SQLValue]]) {
        let stmt = try prepared(sql)
        let context = "running \(sql.prefix(80))"
        let count = parameters.count
        let binds = UnsafeMutablePointer<MYSQL_BIND>.allocate(capacity: max(count, 1))
        binds.initialize(repeating: MYSQL_BIND(), count: max(count, 1))
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: max(count, 1))
        lengths.initialize(repeating: 0, count: max(count, 1))
        let arena = MariaDBConnection.bind(parameters, to: binds, lengths: lengths)
        defer {
            arena.deallocate()
            binds.deinitialize(count: max(count, 1))
            binds.deallocate()
            lengths.deallocate()
        }
        if count > 0, mysql_stmt_bind_param(stmt, binds) != 0 { throw fail(statementError(stmt, context)) }
        if mysql_stmt_execute(stmt) != 0 { throw fail(statementError(stmt, context)) }
        let changed = Int(truncatingIfNeeded: mysql_stmt_affected_rows(stmt))
        let insertID = Int64(truncatingIfNeeded: mysql_stmt_insert_id(stmt))
        guard let metadata = mysql_stmt_result_metadata(stmt) else {
            return (changed, insertID, [])
        }
        defer { mysql_free_result(metadata) }
        defer { mysql_stmt_free_result(stmt) }
        return (changed, insertID, try fetchRows(stmt, columns: Int(mysql_num_fields(metadata)), context: context))
    }

    /// Points `binds` at copies of `parameters`, all in one buffer (the
    /// caller deallocates it): one allocation per statement, not one per
    /// value, and text copied once, straight from its UTF-8 storage.
    private static func bind(_ parameters: [SQLValue], to binds: UnsafeMutablePointer<MYSQL_BIND>,
                             lengths: UnsafeMutablePointer<UInt>) -> UnsafeMutableRawPointer {
        func slot(_ bytes: Int) -> Int { (max(bytes, 1) + 7) & ~7 }
        let size = parameters.reduce(0) { total, parameter in
            switch parameter {
            case .null: return total
            case .integer, .real: return total + 8
            case .text(let v): return total + slot(v.utf8.count)
            case .blob(let v): return total + slot(v.count)
            }
        }
        let arena = UnsafeMutableRawPointer.allocate(byteCount: max(size, 8), alignment: 8)
        var offset = 0
        func copy(_ source: UnsafeRawBufferPointer, at i: Int, as type: enum_field_types) {
            if let base = source.baseAddress { (arena + offset).copyMemory(from: base, byteCount: source.count) }
            binds[i].buffer_type = type
            binds[i].buffer = arena + offset
            binds[i].buffer_length = UInt(source.count)
            lengths[i] = UInt(source.count)
            binds[i].length = lengths + i
            offset += slot(source.count)
        }
        func scalar<T>(_ value: T, at i: Int, as type: enum_field_types) {
            (arena + offset).storeBytes(of: value, as: T.self)
            binds[i].buffer_type = type
            binds[i].buffer = arena + offset
            offset += 8
        }
        for (i, parameter) in parameters.enumerated() {
            switch parameter {
            case .null: binds[i].buffer_type = MYSQL_TYPE_NULL
            case .integer(let v): scalar(v, at: i, as: MYSQL_TYPE_LONGLONG)
            case .real(let v): scalar(v, at: i, as: MYSQL_TYPE_DOUBLE)
            case .text(var v): v.withUTF8 { copy(UnsafeRawBufferPointer($0), at: i, as: MYSQL_TYPE_STRING) }
            case .blob(let v): v.withUnsafeBytes { copy($0, at: i, as: MYSQL_TYPE_BLOB) }
            }
        }
        return arena
    }

    private func fetchRows(_ stmt: UnsafeMutablePointer<MYSQL_STMT>, columns: Int, context: String) throws -> [[SQLValue]] {
        if mysql_stmt_store_result(stmt) != 0 { throw fail(statementError(stmt, context)) }
        let binds = UnsafeMutablePointer<MYSQL_BIND>.allocate(capacity: columns)
        binds.initialize(repeating: MYSQL_BIND(), count: columns)
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: columns)
        lengths.initialize(repeating: 0, count: columns)
        let nulls = UnsafeMutablePointer<my_bool>.allocate(capacity: columns)
        nulls.initialize(repeating: 0, count: columns)
        defer {
            binds.deinitialize(count: columns)
            binds.deallocate()
            lengths.deallocate()
            nulls.deallocate()
        }
        // Bind no buffers: every fetch reports each column's length, then
        // each value is read whole with mysql_stmt_fetch_column.
        for c in 0..<columns {
            binds[c].buffer_type = MYSQL_TYPE_STRING
            binds[c].length = lengths + c
            binds[c].is_null = nulls + c
        }
        if mysql_stmt_bind_result(stmt, binds) != 0 { throw fail(statementError(stmt, context)) }
        var rows: [[SQLValue]] = []
        while true {
            let rc = mysql_stmt_fetch(stmt)
            if rc == MYSQL_NO_DATA { break }
            if rc != 0 && rc != MYSQL_DATA_TRUNCATED { throw fail(statementError(stmt, context)) }
            var row: [SQLValue] = []
            row.reserveCapacity(columns)
            for c in 0..<columns {
                if nulls[c] != 0 { row.append(.null); continue }
                // A DOUBLE or FLOAT reports no length until it is converted to text: room for any number.
                let length = max(Int(lengths[c]), 64)
                var bytes = [UInt8](repeating: 0, count: length + 1)
                var column = MYSQL_BIND()
                var columnLength: UInt = 0
                let rc = bytes.withUnsafeMutableBytes { raw -> Int32 in
                    column.buffer_type = MYSQL_TYPE_STRING
                    column.buffer = raw.baseAddress
                    column.buffer_length = UInt(length + 1)
                    return withUnsafeMutablePointer(to: &columnLength) { lengthPointer in
                        column.length = lengthPointer
                        return mysql_stmt_fetch_column(stmt, &column, UInt32(c), 0)
                    }
                }
                if rc != 0 { throw fail(statementError(stmt, context)) }
                bytes.removeLast(bytes.count - min(Int(columnLength), length))
                row.append(.blob(bytes))
            }
            rows.append(row)
        }
        return rows
    }

    @discardableResult
    public func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int {
        try run(sql, parameters).changed
    }

    public func insert(_ sql: String, _ parameters: [SQLValue]) throws -> Int64 {
        try run(sql, parameters).insertID
    }

    public func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[SQLValue]] {
        try run(sql, parameters).rows
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        if transactionDepth > 0 { return try body() }
        try executeScript("START TRANSACTION")
        transactionDepth += 1
        defer { transactionDepth = max(0, transactionDepth - 1) }
        do {
            let result = try body()
            try executeScript("COMMIT")
            return result
        } catch {
            if handle != nil { try? executeScript("ROLLBACK") }
            throw error
        }
    }
}
