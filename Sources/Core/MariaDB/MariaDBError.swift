/// An error from MariaDB: unreachable, connection lost, or a refused
/// statement, with what fundq was doing and where.
public struct MariaDBError: Error, Sendable, CustomStringConvertible {
    /// MariaDB's error number (1062 duplicate key, 2003 cannot connect, …).
    public let code: UInt32
    /// MariaDB's message.
    public let message: String
    /// `HOST:PORT`.
    public let endpoint: String
    /// What fundq was doing.
    public let context: String
    /// Whether the connection itself failed (unreachable, refused password,
    /// unknown database), whatever statement was about to run.
    public var whileConnecting = false

    /// One line for an operator.
    public var description: String {
        if whileConnecting && code == 2026 {
            return "cannot connect to MariaDB at \(endpoint) (while \(context)): TLS handshake or certificate check failed: "
                + "error \(code): \(message)"
        }
        if whileConnecting {
            return "cannot connect to MariaDB at \(endpoint) (while \(context)): error \(code): \(message)"
        }
        if isConnectionFailure {
            return "cannot reach MariaDB at \(endpoint) (while \(context)): \(message)"
        }
        return "MariaDB at \(endpoint) refused \(context): error \(code): \(message)"
    }

    /// Whether the server could not be reached or the connection broke.
    public var isConnectionFailure: Bool {
        [2002, 2003, 2005, 2006, 2013, 2026, 2055].contains(code)
    }

    /// Whether the statement hit a deadlock or lock wait timeout (retry it).
    public var isTransient: Bool { code == 1213 || code == 1205 }

    /// Whether a unique key refused the row.
    public var isDuplicateKey: Bool { code == 1062 }
}
