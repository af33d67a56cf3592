import Core

/// Which errors mean "a server is unreachable for now" (back off and retry,
/// losing nothing) rather than "this run cannot go on".
public enum OutagePolicy {
    /// Whether `error` is an outage: a lost connection to Redis or MariaDB,
    /// a MariaDB deadlock or lock wait timeout, a busy SQLite file.
    public static func isOutage(_ error: any Error) -> Bool {
        switch error {
        case let e as RedisError: return e.isConnectionFailure
        case let e as MariaDBError: return e.isConnectionFailure || e.isTransient
        case let e as SQLiteError: return e.isTransient
        default: return false
        }
    }
}
