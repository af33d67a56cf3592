import Foundation
import Synchronization

/// Turns at writing for the connections of one process to one SQLite file.
///
/// SQLite lets one connection write at a time; a connection that finds the
/// write lock taken polls for it (the busy handler sleeps and tries again,
/// see ``SQLiteDatabase``). Connections opened with the same gate take turns
/// inside the process instead: each transaction, and each writing statement
/// outside one, waits on this lock, and gets it as soon as the previous one
/// commits, with no sleep and no retry. Other processes still meet at
/// SQLite's lock, as before.
///
/// A transaction on a gated connection must not start one on another
/// connection with the same gate (it would wait for itself); the rectifier's
/// workers, which share one, each write through their own single connection.
public final class SQLiteWriteGate: Sendable {
    private let lock = NSLock()
    private let waiting = Atomic<Int>(0)

    /// A gate for connections that are to take turns.
    public init() {}

    /// Transactions (or writing statements) waiting for their turn now.
    public var waitingWriters: Int { waiting.load(ordering: .relaxed) }

    /// Runs `body` once no other transaction of this gate is running.
    func taking<T>(_ body: () throws -> T) rethrows -> T {
        waiting.add(1, ordering: .relaxed)
        lock.lock()
        waiting.subtract(1, ordering: .relaxed)
        defer { lock.unlock() }
        return try body()
    }
}
