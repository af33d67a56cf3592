import Core
import Foundation
import FundqTestSupport
import SQLiteDriver
import Testing

/// The embedded file gives space back (issue 13).
@Suite("Embedded file space")
struct SpaceReclaimTests {
    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test func aNewFileUsesIncrementalAutoVacuumAndAnOlderOneIsConverted() throws {
        let dir = try TemporaryDirectory()
        let fresh = try SQLiteDatabase(path: dir.file("new.sqlite"))
        try SchemaMigrator.migrate(fresh)
        #expect(try fresh.query("PRAGMA auto_vacuum", []).first?.first?.int64 == 2)

        let older = try SQLiteDatabase(path: dir.file("old.sqlite"))
        // A file as fundq made it before: no auto-vacuum.
        try older.executeScript("CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('still here')")
        try older.executeScript("PRAGMA auto_vacuum = NONE; VACUUM")
        #expect(try older.query("PRAGMA auto_vacuum", []).first?.first?.int64 == 0)
        try SchemaMigrator.migrate(older)
        #expect(try older.query("PRAGMA auto_vacuum", []).first?.first?.int64 == 2)
        #expect(try older.query("SELECT v FROM kept", []).first?.first?.string == "still here")
    }

    /// The adversarial run: 100,000 messages of about 600 bytes pushed and
    /// drained left an 85 MB file, 99.9% free pages, forever.
    @Test func aDrainedQueueGivesItsSpaceBack() throws {
        let f = try QueueFixture(.sqlite)
        let s = try f.open()
        let db = try #require(s.sqlite)
        try db.executeScript("PRAGMA wal_checkpoint(TRUNCATE)")
        let path = f.configuration.sqlitePath
        let before = try Self.fileSize(path)
        let note = String(repeating: "n", count: 420)
        let producer = QueueProducer(queue: s.queue)
        for chunk in stride(from: 0, to: 100_000, by: 1_000) {
            let bodies = (chunk..<chunk + 1_000).map {
                Array(#"{"gateway":"paypal","order_id":"o-\#($0)","gross":"10.00","currency":"EUR","note":"\#(note)"}"#.utf8)
            }
            try producer.push(contentsOf: bodies, to: f.queueName)
        }
        try db.executeScript("PRAGMA wal_checkpoint(TRUNCATE)")
        let full = try Self.fileSize(path)
        #expect(full > 50_000_000, "the push should have grown the file (\(full) bytes)")

        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        var drained = 0
        while true {
            let summary = try consumer.popAtomicBatch(from: f.queueName, maximum: 500) { $0.map { _ in .handled("ok") } }
            drained += summary.acknowledged
            if summary.claimed == 0 { break }
        }
        #expect(drained == 100_000)
        // The consumer, idle now, polls the empty queue again (a daemon does
        // within a second); each poll gives back a bounded number of steps.
        var polls = 0
        while try db.pageCounts().free > 0 && polls < 1_000 {
            #expect(try consumer.popAtomicBatch(from: f.queueName, maximum: 500) { $0.map { _ in .handled("ok") } }.claimed == 0)
            polls += 1
        }
        try db.executeScript("PRAGMA wal_checkpoint(TRUNCATE)")
        let after = try Self.fileSize(path)
        #expect(Double(after) <= Double(before) * 1.1, "after the drain the file is \(after) bytes; before the push it was \(before)")
        #expect(try db.pageCounts().free == 0)
    }

    @Test func thePolicyReclaimsAllWhenDrainedAndOnlyBeyondTheMarkWhenBusy() {
        let policy = SpaceReclaimPolicy()
        func pages(_ total: Int, _ free: Int) -> SQLiteDatabase.PageCounts { .init(total: total, free: free, pageSize: 4096) }
        #expect(policy.keeping(pages(20_000, 19_000), drained: true) == 0)
        #expect(policy.keeping(pages(40, 0), drained: true) == nil)
        #expect(policy.keeping(pages(40_000, 2_000), drained: false) == nil, "below 2048 pages: left alone while busy")
        #expect(policy.keeping(pages(40_000, 9_000), drained: false) == nil, "below a quarter of the file")
        #expect(policy.keeping(pages(40_000, 12_000), drained: false) == 10_000)
    }

    /// Retention deletes rows from tables other than the queue's; the job
    /// gives their pages back too.
    @Test func theRetentionJobGivesDeletedRowsSpaceBack() throws {
        let dir = try TemporaryDirectory()
        let db = try SQLiteDatabase(path: dir.file("r.sqlite"))
        try SchemaMigrator.migrate(db)
        let old = db.dialect.value(Date().addingTimeInterval(-400 * 86_400))
        let filler = String(repeating: "x", count: 2_000)
        try db.transaction {
            for i in 0..<5_000 {
                try db.execute("""
                    INSERT INTO pending (date, gateway, order_id, message, resolution, resolved_date) VALUES (?, 'p', ?, ?, 'failed', ?)
                    """,
                               [old, .text("o\(i)"), .text(filler), old])
            }
        }
        #expect(try db.pageCounts().total > 2_500)
        let outcomes = try RetentionJob(connection: db).run(dryRun: false)
        #expect(outcomes.first { $0.table == "pending" }?.removed == 5_000)
        #expect(try db.pageCounts().free == 0)
        #expect(try db.pageCounts().total < 200)
    }
}
