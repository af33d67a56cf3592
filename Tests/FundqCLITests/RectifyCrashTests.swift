import Core
import Foundation
import FundqTestSupport
import Rectifier
import Sandbox
import Testing

/// A real `fundq rectify` killed between a batch's push and its commit: the
/// batch's donations are pushed again by the next run, and the donations sink
/// books each payment once.
@Suite("fundq rectify killed mid-batch")
struct RectifyCrashTests {
    typealias Orphan = (processor: String, id: String, outcome: SandboxOutcome)

    static let orphans: [Orphan] = (0..<240).map { i -> Orphan in
        let paypal: [SandboxOutcome] = [.pendingPoke, .complete, .abandoned]
        let globalcollect: [SandboxOutcome] = [.pendingPoke, .finish, .failed, .complete]
        return i % 2 == 0 ? ("paypal", "EC-\(i)", paypal[i % 3]) : ("globalcollect", "GC-\(i)", globalcollect[i % 4])
    }

    static func completes(_ o: Orphan) -> Bool { [.pendingPoke, .finish, .complete].contains(o.outcome) }
    static func captures(_ o: Orphan) -> Bool { [.pendingPoke, .finish].contains(o.outcome) }

    func seed(_ stack: StackFixture, _ f: SandboxFixture) throws {
        let storage = try stack.open()
        let store = PendingStore(connection: storage.database)
        let date = Int(Date().timeIntervalSince1970) - 3600
        try storage.database.transaction {
            for o in Self.orphans {
                try f.sandbox.script(o.processor, id: o.id, outcome: o.outcome)
                try store.store(try PendingMessage(members: try JSONParser().parse(
                    pendingMessageText(processor: o.processor, id: o.id, date: date)).objectValue!))
            }
        }
    }

    /// Short processor timeouts, so that a 10-second lease outlasts the longest a row can take.
    func environment(_ stack: StackFixture, _ f: SandboxFixture) -> [String: String] {
        var env = f.environment(everyProcessor(["RETRY_BACKOFF_SECONDS": "0", "RATE_LIMIT_PER_SECOND": "10000",
                                                "TIMEOUTS_TOTAL_SECONDS": "1", "RETRY_ATTEMPTS": "1"]))
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = stack.database.directory.path
        if let url = stack.database.databaseURL { env["FUNDQ_DB_URL"] = url }
        if let redis = stack.redis { env["FUNDQ_QUEUE_URL"] = redis.url }
        env["FUNDQ_LOG_LEVEL"] = "warning"
        return env
    }

    /// MariaDB, the queues in Redis or in the SQLite file: the decision log
    /// is locked, so the first batch's commit waits after its push; the
    /// rectifier is killed there, and the next run must not book anything twice.
    @Test(arguments: [QueueBackendKind.redis, .sqlite])
    func killedBetweenABatchsPushAndItsCommitBooksEveryDonationOnce(queue: QueueBackendKind) throws {
        let stack = try StackFixture(queue: queue, database: .mariadb)
        let f = try SandboxFixture()
        try seed(stack, f)
        let env = environment(stack, f)
        let storage = try stack.open()
        let locker = try stack.database.openDatabase()
        try locker.executeScript("LOCK TABLES rectifier_decision READ")
        let first = try FundqProcess.spawn(["rectify", "--workers", "1", "--lease", "10"], environment: env,
                                           outputIn: stack.database.directory)
        let waiting = eventually(timeout: 60) {
            let blocked = try? storage.database.query(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'INSERT INTO rectifier_decision%'", [])
            let pushed = (try? storage.queue.stats("donations").waiting) ?? 0
            return pushed > 0 && (blocked?.first?.first?.int64 ?? 0) > 0
        }
        first.send(SIGKILL)
        let killed = first.wait()
        try locker.executeScript("UNLOCK TABLES")
        #expect(waiting, "the rectifier never pushed and then waited on its commit: \(killed.stderr.prefix(2000))")
        let pushedBeforeKill = try storage.queue.stats("donations").waiting
        let batch = RectifierOptions().writeBatchSize
        #expect(pushedBeforeKill > 0 && pushedBeforeKill <= batch, "one batch's donations pushed (\(batch) decisions a batch)")
        #expect(try storage.database.query("SELECT COUNT(*) FROM pending WHERE resolution IS NOT NULL", []).first?.first?.int64 == 0,
                "the killed batch's commit never happened")
        Thread.sleep(forTimeInterval: 10.5)  // the dead run's claims expire
        let second = try FundqProcess.run(["rectify", "--workers", "1"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        try expectEveryDonationBookedOnce(stack, f, repushed: pushedBeforeKill)
    }

    /// The queue's messages are consumed by the real sink; every payment is
    /// booked once, every row resolved as its payment ended, none captured twice.
    func expectEveryDonationBookedOnce(_ stack: StackFixture, _ f: SandboxFixture, repushed: Int) throws {
        let storage = try stack.open()
        let completed = Self.orphans.filter(Self.completes).count
        let pushed = try storage.queue.stats("donations").waiting
        #expect(pushed == completed + repushed, "the killed batch's donations are pushed again, nothing else")
        let sink = try FundqProcess.run(["consume", "donations", "--batch", "40"] + stack.flags)
        #expect(sink.status == 0, "\(sink.stderr)")
        #expect(sink.stderr.contains("\(completed) inserted"), "\(sink.stderr)")
        #expect(sink.stderr.contains("\(repushed) duplicate") || repushed == 0, "\(sink.stderr)")
        let donations = DonationsStore(connection: storage.database)
        #expect(try donations.count() == completed)
        let perOrder = try storage.database.query("SELECT order_id, COUNT(*) FROM donations GROUP BY order_id", [])
        #expect(perOrder.count == completed && perOrder.allSatisfy { $0[1].int64 == 1 }, "a payment was booked twice")
        #expect(try storage.queue.stats("donations").waiting == 0)
        #expect(try storage.damaged.count(queue: nil) == 0)
        let rows = try PendingStore(connection: storage.database).list(includeResolved: true, limit: 10_000)
        #expect(rows.count == Self.orphans.count, "no row lost")
        for row in rows {
            let outcome = Self.orphans.first { $0.id == row.orderID }!.outcome
            let expected: PendingResolution = [.pendingPoke, .finish, .complete].contains(outcome) ? .completed
                : outcome == .failed ? .failed : .timeout
            #expect(row.resolution == expected, "\(row.orderID ?? "?") \(outcome)")
        }
        let captures = f.sandbox.captures
        #expect(Set(captures.map(\.id)).count == captures.count, "a payment was captured twice")
        #expect(captures.count == Self.orphans.filter(Self.captures).count)
    }

    /// SQLite: the push and the rows commit in one transaction, so a kill
    /// anywhere pushes nothing twice.
    @Test func killedMidRunOnSQLitePushesEachDonationExactlyOnce() throws {
        let stack = try StackFixture(queue: .sqlite, database: .sqlite)
        let f = try SandboxFixture()
        try seed(stack, f)
        let env = environment(stack, f)
        let storage = try stack.open()
        let first = try FundqProcess.spawn(["rectify", "--workers", "1", "--lease", "10"], environment: env,
                                           outputIn: stack.database.directory)
        let started = eventually {
            ((try? storage.database.query("SELECT COUNT(*) FROM rectifier_decision", []).first?.first?.int64) ?? 0) >= 60
        }
        first.send(SIGKILL)
        let killed = first.wait()
        #expect(started, "the rectifier made no progress: \(killed.stderr.prefix(2000))")
        let decided = try storage.database.query("SELECT COUNT(*) FROM rectifier_decision", []).first?.first?.int64 ?? 0
        #expect(decided < Int64(Self.orphans.count), "the run finished before it could be killed")
        Thread.sleep(forTimeInterval: 10.5)
        let second = try FundqProcess.run(["rectify", "--workers", "1"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        try expectEveryDonationBookedOnce(stack, f, repushed: 0)
    }
}
