import Core
import Foundation
import FundqTestSupport
import SQLiteDriver
import Testing

/// Writers waiting for SQLite's write lock: the busy handler waits while
/// another connection holds it, and gives up with a transient error once
/// the busy timeout has passed.
@Suite("SQLite write lock waits")
struct SQLiteBusyTests {
    @Test func aWriterWaitsForTheLockAndSucceedsOnceItIsReleased() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("busy.sqlite")
        try SQLiteDatabase(path: path).execute("CREATE TABLE t (v INTEGER)", [])
        let locked = DispatchSemaphore(value: 0)
        let released = DispatchSemaphore(value: 0)
        Thread {
            defer { released.signal() }
            guard let holder = try? SQLiteDatabase(path: path), (try? holder.execute("BEGIN IMMEDIATE", [])) != nil else {
                locked.signal()
                return
            }
            locked.signal()
            Thread.sleep(forTimeInterval: 0.05)
            _ = try? holder.execute("INSERT INTO t (v) VALUES (0)", [])
            _ = try? holder.execute("COMMIT", [])
        }.start()
        locked.wait()
        let waiter = try SQLiteDatabase(path: path)
        #expect(try waiter.execute("INSERT INTO t (v) VALUES (1)", []) == 1)
        released.wait()
        #expect(try waiter.query("SELECT v FROM t ORDER BY rowid", []).map { $0[0].int64 } == [0, 1], "the holder wrote first")
    }

    @Test func aWriterGivesUpWithATransientErrorAfterTheBusyTimeout() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("busy.sqlite")
        let holder = try SQLiteDatabase(path: path)
        try holder.execute("CREATE TABLE t (v INTEGER)", [])
        let waiter = try SQLiteDatabase(path: path, busyTimeoutMilliseconds: 200)
        try holder.execute("BEGIN IMMEDIATE", [])
        defer { _ = try? holder.execute("ROLLBACK", []) }
        let started = ContinuousClock.now
        let error = #expect(throws: SQLiteError.self) { try waiter.execute("INSERT INTO t (v) VALUES (1)", []) }
        #expect(error?.isTransient == true)
        #expect(ContinuousClock.now - started >= .milliseconds(200), "it waited for the busy timeout first")
    }

    /// A writer that may not wait for SQLite's lock at all (busy timeout 0)
    /// writes, in a transaction or with a lone statement, while another
    /// connection's transaction is open: with no gate it fails at once with
    /// BUSY; with a shared gate it waits for its turn inside the process and
    /// writes after the holder.
    @Test(arguments: [false, true], [false, true])
    func connectionsSharingAWriteGateTakeTurnsInsteadOfMeetingTheLock(gated: Bool, inTransaction wrapped: Bool) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("gate.sqlite")
        try SQLiteDatabase(path: path).execute("CREATE TABLE t (v INTEGER)", [])
        let gate: SQLiteWriteGate? = gated ? SQLiteWriteGate() : nil
        let inTransaction = DispatchSemaphore(value: 0), waiterDone = DispatchSemaphore(value: 0)
        let holderDone = DispatchSemaphore(value: 0)
        // Opened first: opening writes pragmas, which would meet the holder's lock.
        let waiter = try SQLiteDatabase(path: path, busyTimeoutMilliseconds: 0, writeGate: gate)
        Thread {
            defer { holderDone.signal() }
            guard let holder = try? SQLiteDatabase(path: path, writeGate: gate) else {
                inTransaction.signal()
                return
            }
            _ = try? holder.transaction {
                try holder.execute("INSERT INTO t (v) VALUES (0)", [])
                inTransaction.signal()
                if let gate {
                    // Gated, the waiter cannot finish before this commits: commit once it waits for its turn
                    // (or once it has finished: the gate did not hold it, and the expectations below fail).
                    while gate.waitingWriters == 0, waiterDone.wait(timeout: .now() + 0.001) == .timedOut {}
                } else {
                    // Ungated, the waiter fails at once and says so.
                    waiterDone.wait()
                }
            }
        }.start()
        inTransaction.wait()
        let insert = { try waiter.execute("INSERT INTO t (v) VALUES (1)", []) }
        let result = Result { wrapped ? try waiter.transaction(insert) : try insert() }
        waiterDone.signal()
        holderDone.wait()
        if gated {
            #expect(try result.get() == 1)
            #expect(try waiter.query("SELECT v FROM t ORDER BY rowid", []).map { $0[0].int64 } == [0, 1], "the holder wrote first")
        } else {
            #expect(throws: SQLiteError.self) { try result.get() }
            #expect(try waiter.query("SELECT v FROM t ORDER BY rowid", []).map { $0[0].int64 } == [0])
        }
    }
}
