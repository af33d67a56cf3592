import Foundation

/// Turns at writing for the connections of one process to one SQLite file.
///
/// SQLite lets one connection write at a time; a connection that finds the
/// write lock taken polls for it (the busy handler sleeps and tries again,
/// see ``SQLiteDatabase``). Connections opened with the same gate take turns
/// inside the process instead: each transaction waits on this lock, and
/// gets it as soon as the previous one commits, with no sleep and no retry.
/// Other processes still meet at SQLite's lock, as before.
///
/// A transaction on a gated connection must not start one on another
/// connection with the same gate (it would wait for itself); the rectifier's
/// workers, which share one, each write through their own single connection.
public final class SQLiteWriteGate: Sendable {
    private let lock = NSLock()

    /// A gate for connections that are to take turns.
    public init() {}

    /// Runs `body` once no other transaction of this gate is running.
    func taking<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
