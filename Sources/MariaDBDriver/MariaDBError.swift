public import Core

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

extension MariaDBError: ClassifiedFailure {
    /// MariaDB errors that a value in a statement causes: column cannot be
    /// null (1048), duplicate key (1062), out of range (1264, 1690), data
    /// truncated (1265), incorrect datetime or value (1292, 1366, 1367,
    /// 1411), data too long (1406), packet too large (1153), invalid JSON
    /// text (4038), CHECK constraint failed (4025).
    static let contentCodes: Set<UInt32> = [1048, 1062, 1153, 1264, 1265, 1292, 1366, 1367, 1406, 1411, 1690, 4025, 4038]

    /// A lost connection, a deadlock or a lock wait timeout is an outage; an
    /// error a value causes (``contentCodes``) is the content's.
    public var handlingFailure: HandlingFailure {
        if isConnectionFailure || isTransient { return .outage }
        return Self.contentCodes.contains(code) ? .content : .unknown
    }
}
