internal import CSQLite
public import Core
import Foundation

/// An error reported by SQLite, with what fundq was doing and where.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// SQLite's primary result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, …).
    public let code: Int32
    /// SQLite's own message.
    public let message: String
    /// What fundq was doing: "opening /var/fundq.sqlite", "preparing …".
    public let context: String
    /// The database file, when known: a file that cannot be opened or
    /// written is named with what this process may not do to it.
    public var path: String? = nil

    /// "SQLite error 5 (database is locked) while claiming from queue donations".
    public var description: String {
        let base = "SQLite error \(code) (\(message)) while \(context)"
        guard let path, code == SQLITE_CANTOPEN || code == SQLITE_READONLY || code == SQLITE_PERM else { return base }
        return base + ": " + Self.permissions(of: path)
    }

    /// What this process may not do to `path` and the files SQLite keeps
    /// beside it (`-wal`, `-shm`, which need a writable folder).
    static func permissions(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        if access(path, F_OK) != 0 { return "no such file: \(path)" }
        if access(path, R_OK) != 0 { return "permission denied: this user may not read \(path)" }
        for side in [path + "-wal", path + "-shm"] where access(side, F_OK) == 0 && access(side, R_OK | W_OK) != 0 {
            return "permission denied: this user may not read and write \(side)"
        }
        if access(path, W_OK) != 0 { return "permission denied: this user may not write \(path)" }
        if access(folder, W_OK) != 0 { return "permission denied: this user may not create files in \(folder) (SQLite's -wal and -shm)" }
        return "on \(path)"
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

extension SQLiteError: ClassifiedFailure {
    /// A busy or locked file is an outage; a constraint, an oversize or
    /// mismatched value is the content's.
    public var handlingFailure: HandlingFailure { isTransient ? .outage : (isCausedByValue ? .content : .unknown) }
}
