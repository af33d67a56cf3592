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
}
