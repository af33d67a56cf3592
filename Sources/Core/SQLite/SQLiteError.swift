internal import CSQLite

/// An error reported by SQLite, with what fundq was doing and where.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// SQLite's primary result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, …).
    public let code: Int32
    /// SQLite's own message.
    public let message: String
    /// What fundq was doing: "opening /var/fundq.sqlite", "preparing …".
    public let context: String

    /// "SQLite error 5 (database is locked) while claiming from queue donations".
    public var description: String {
        "SQLite error \(code) (\(message)) while \(context)"
    }

    /// Whether waiting and retrying may help (busy or locked database).
    public var isTransient: Bool {
        code == SQLITE_BUSY || code == SQLITE_LOCKED
    }

    /// Whether a value in the statement caused it: a constraint (NOT NULL,
    /// UNIQUE, CHECK), a string or blob too big, a datatype mismatch.
    public var isCausedByValue: Bool {
        code == SQLITE_CONSTRAINT || code == SQLITE_TOOBIG || code == SQLITE_MISMATCH
    }
}
