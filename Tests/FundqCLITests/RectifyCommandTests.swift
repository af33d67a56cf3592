import Backends
import Core
import Foundation
import FundqTestSupport
import Sandbox
import Testing

/// `fundq rectify` as real processes against an in-process sandbox.
@Suite("fundq rectify")
struct RectifyCommandTests {
    /// Orphans an hour old, each scripted at the sandbox.
    func seed(_ db: DatabaseFixture, _ f: SandboxFixture, _ orphans: [(String, String, SandboxOutcome)]) throws {
        let storage = try Storage(db.configuration)
        let store = PendingStore(connection: storage.database)
        let date = Int(Date().timeIntervalSince1970) - 3600
        try storage.database.transaction {
            for (processor, id, outcome) in orphans {
                try f.sandbox.script(processor, id: id, outcome: outcome)
                try store.store(try PendingMessage(members: try JSONParser().parse(
                    pendingMessageText(processor: processor, id: id, date: date)).objectValue!))
            }
        }
    }

    func environment(_ db: DatabaseFixture, _ f: SandboxFixture, _ extra: [String: String] = [:]) -> [String: String] {
        var env = f.environment(everyProcessor(["RETRY_BACKOFF_SECONDS": "0", "RATE_LIMIT_PER_SECOND": "10000"]).merging(extra) { $1 })
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = db.directory.path
        if let url = db.databaseURL { env["FUNDQ_DB_URL"] = url }
        env["FUNDQ_LOG_LEVEL"] = "warning"
        return env
    }

    @Test func dryRunPrintsWhatItWouldDoAndChangesNothingThenARunDoesIt() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        try seed(db, f, [("paypal", "EC-1", .pendingPoke), ("paypal", "EC-2", .abandoned), ("globalcollect", "GC-1", .complete),
                         ("globalcollect", "GC-2", .serverError)])
        let env = environment(db, f)
        let dry = try FundqProcess.run(["rectify", "--dry-run"], environment: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("PROCESSOR"))
        #expect(dry.stdout.contains("EC-1") && dry.stdout.contains("would send: POST"))
        #expect(dry.stdout.contains("CHECKOUTSTATUS=PaymentActionNotInitiated, PAYERID absent"))
        #expect(dry.stdout.contains("would resolve as timeout"))
        #expect(dry.stdout.contains("would push to donations and resolve as completed"))
        #expect(dry.stderr.contains("rectify paypal (dry run): 2 examined"))
        #expect(f.sandbox.captures.isEmpty)
        #expect(try PendingStore(connection: try db.openDatabase()).list(limit: 10).count == 4)

        let run = try FundqProcess.run(["rectify", "--processor", "paypal"], environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("rectify paypal: 2 examined, 1 completed (1 captured), 1 failed/cancelled/timeout, "
            + "0 duplicate, 0 left"))
        #expect(f.sandbox.captures.map(\.id) == ["EC-1"])
        let all = try FundqProcess.run(["rectify", "--json"], environment: env)
        let summary = try JSONParser().parse(all.stdout).objectValue?["summary"]?.objectValue
        #expect(summary?["globalcollect"]?.objectValue?["completed"] == .number("1"))
        #expect(summary?["globalcollect"]?.objectValue?["left"] == .number("1"))

        let log = try FundqProcess.run(["rectify", "log", "--order", "EC-1", "--json"], environment: env)
        guard case .array(let decisions) = try JSONParser().parse(log.stdout) else { Issue.record("log printed \(log.stdout)"); return }
        #expect(decisions.count == 1)
        #expect(decisions.first?.objectValue?["action"] == .string("finish"))
        #expect(decisions.first?.objectValue?["evidence"]?.scalarText?.contains("PAYMENTINFO_0_PAYMENTSTATUS=Completed") == true)
    }

    @Test func theDaemonWorksUntilSigtermThenExitsZero() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        try seed(db, f, (0..<30).map { ("globalcollect", "GC-\($0)", SandboxOutcome.pendingPoke) })
        let env = environment(db, f)
        let daemon = try FundqProcess.spawn(["rectify", "--daemon", "--interval", "1"], environment: env, outputIn: db.directory)
        let storage = try Storage(db.configuration)
        #expect(eventually { (try? PendingStore(connection: storage.database).list(limit: 100).isEmpty) == true })
        // Work that arrives later is picked up by a later pass.
        try seed(db, f, [("paypal", "EC-LATE", .pendingPoke)])
        #expect(eventually { (try? PendingStore(connection: storage.database).list(limit: 100).isEmpty) == true })
        daemon.send(SIGTERM)
        let r = daemon.wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(f.sandbox.captures.count == 31)
        #expect(try storage.database.query("SELECT COUNT(*) FROM pending WHERE claimed_by IS NOT NULL", []).first?.first?.int64 == 0,
                "no claim left behind")
    }

    @Test func rowsWithoutAFinalAnswerAreScheduledThenMarkedForReview() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        try seed(db, f, [("globalcollect", "GC-503", .serverError)])
        let env = environment(db, f, ["FUNDQ_GLOBALCOLLECT_RECTIFIER_ATTEMPT_SCHEDULE_MINUTES": "0"])
        // One worker: with a zero-minute schedule a second worker could take its second attempt in the same run.
        let first = try FundqProcess.run(["rectify", "--workers", "1"], environment: env)
        #expect(first.stderr.contains("1 left"))
        let second = try FundqProcess.run(["rectify", "--workers", "1"], environment: env)
        #expect(second.stderr.contains("1 needs review"), "\(second.stderr)")
        let review = try FundqProcess.run(["pending", "list", "--needs-review", "--json"], environment: env)
        guard case .array(let rows) = try JSONParser().parse(review.stdout) else { Issue.record("printed \(review.stdout)"); return }
        #expect(rows.first?.objectValue?["order_id"] == .string("GC-503"))
        #expect(rows.first?.objectValue?["review_reason"] == .string("no final answer after 2 attempts"))
        let third = try FundqProcess.run(["rectify"], environment: env)
        #expect(third.stderr.contains("nothing due"))
    }

    @Test func aDonationAlreadyBookedMakesTheRowADuplicate() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        try seed(db, f, [("globalcollect", "GC-D", .pendingPoke)])
        let storage = try Storage(db.configuration)
        _ = try DonationsStore(connection: storage.database).insert([try DonationMessage(members: try JSONParser().parse(
            #"{"gateway":"globalcollect","gateway_txn_id":"X","order_id":"GC-D","currency":"EUR","gross":"10"}"#).objectValue!)])
        let run = try FundqProcess.run(["rectify"], environment: environment(db, f))
        #expect(run.stderr.contains("1 duplicate"), "\(run.stderr)")
        #expect(f.sandbox.captures.isEmpty)
        #expect(try PendingStore(connection: storage.database).fetch(gateway: "globalcollect", orderID: "GC-D")?.resolution == .duplicate)
        let decision = try #require(try DecisionLogReader.latest(storage))
        #expect(decision.contains("cancelled at globalcollect"))
    }

    @Test(arguments: [DatabaseKind.sqlite, .mariadb])
    func twoRectifierProcessesAtOnceNeverWorkOnTheSameRow(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let f = try SandboxFixture()
        let orphans = (0..<1_200).map { i -> (String, String, SandboxOutcome) in
            i % 2 == 0
                ? ("paypal", "EC-\(i)", [.pendingPoke, .complete, .abandoned][i % 3])
                : ("globalcollect", "GC-\(i)", [.pendingPoke, .finish, .failed][i % 3])
        }
        try seed(db, f, orphans)
        let env = environment(db, f)
        let a = try FundqProcess.spawn(["rectify", "--workers", "2"], environment: env, outputIn: db.directory)
        let b = try FundqProcess.spawn(["rectify", "--workers", "2"], environment: env, outputIn: db.directory)
        #expect(a.wait().status == 0)
        #expect(b.wait().status == 0)
        let captures = f.sandbox.captures
        #expect(Set(captures.map(\.id)).count == captures.count, "a payment was captured twice")
        let expectedCaptures = orphans.filter { [.pendingPoke, .finish].contains($0.2) }.count
        #expect(captures.count == expectedCaptures)
        let storage = try Storage(db.configuration)
        let decisions = try storage.database.query("SELECT pending_id, COUNT(*) FROM rectifier_decision GROUP BY pending_id", [])
        #expect(decisions.count == orphans.count)
        #expect(decisions.allSatisfy { $0[1].int64 == 1 }, "a row was decided twice")
        #expect(try PendingStore(connection: storage.database).list(limit: 10).isEmpty, "every row resolved")
        #expect(try storage.queue.stats("donations").waiting == orphans.filter { $0.2 != .abandoned && $0.2 != .failed }.count)
    }

    @Test func aRectifierKilledMidRunAndRestartedEndsLikeAnUninterruptedRun() throws {
        let db = try DatabaseFixture(.mariadb)
        let f = try SandboxFixture()
        let orphans = (0..<1_500).map { i -> (String, String, SandboxOutcome) in
            i % 2 == 0 ? ("paypal", "EC-\(i)", [.pendingPoke, .complete, .abandoned, .expired][i % 4])
                : ("globalcollect", "GC-\(i)", [.pendingPoke, .finish, .failed, .complete][i % 4])
        }
        try seed(db, f, orphans)
        // Short timeouts, so that a 10-second lease outlasts the longest a row can take (fundq refuses a shorter one).
        let fast = everyProcessor(["TIMEOUTS_TOTAL_SECONDS": "1", "RETRY_ATTEMPTS": "1", "RETRY_BACKOFF_SECONDS": "0"])
        let env = environment(db, f, fast)
        #expect(try FundqProcess.run(["rectify", "--lease", "10"], environment: environment(db, f)).stderr
            .contains("is shorter than one row can take"))
        let storage = try Storage(db.configuration)
        let first = try FundqProcess.spawn(["rectify", "--workers", "1", "--lease", "10"], environment: env, outputIn: db.directory)
        let started = eventually {
            ((try? storage.database.query("SELECT COUNT(*) FROM rectifier_decision", []).first?.first?.int64) ?? 0) >= 200
        }
        first.send(SIGKILL)
        let killed = first.wait()
        #expect(started, "the rectifier made no progress: \(killed.stderr.prefix(2000))")
        let decidedBeforeKill = try storage.database.query("SELECT COUNT(*) FROM rectifier_decision", []).first?.first?.int64 ?? 0
        #expect(decidedBeforeKill < Int64(orphans.count), "the run finished before it could be killed")
        Thread.sleep(forTimeInterval: 10.5)  // the dead run's claim expires
        let second = try FundqProcess.run(["rectify", "--workers", "1"], environment: env)
        #expect(second.status == 0, "\(second.stderr)")
        let rows = try PendingStore(connection: storage.database).list(includeResolved: true, limit: 10_000)
        #expect(rows.count == orphans.count)
        for row in rows {
            let outcome = orphans.first { $0.1 == row.orderID }!.2
            let expected: PendingResolution = [.pendingPoke, .finish, .complete].contains(outcome) ? .completed
                : outcome == .failed ? .failed : .timeout
            #expect(row.resolution == expected, "\(row.orderID ?? "?") \(outcome)")
        }
        let captures = f.sandbox.captures
        #expect(Set(captures.map(\.id)).count == captures.count, "a payment was captured twice")
        #expect(captures.count == orphans.filter { [.pendingPoke, .finish].contains($0.2) }.count)
        // Each completed payment is in the queue at least once; a crash between a batch's push and its commit pushes that
        // batch's donations (50 decisions a batch) again, which the sink stores once (RectifyCrashTests).
        let completed = orphans.filter { [.pendingPoke, .finish, .complete].contains($0.2) }.count
        let pushed = try storage.queue.stats("donations").waiting
        #expect(pushed >= completed && pushed <= completed + 50)
    }
}

/// Reads the newest decision's result.
enum DecisionLogReader {
    static func latest(_ storage: Storage) throws -> String? {
        try storage.database.query("SELECT result FROM rectifier_decision ORDER BY id DESC LIMIT 1", []).first?.first?.string
    }
}
