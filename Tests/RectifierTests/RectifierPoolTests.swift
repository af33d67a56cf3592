import Backends
@testable import Core
import Foundation
import FundqTestSupport
import Processors
import Rectifier
import SQLiteDriver
import Sandbox
import Testing

/// The executor and its pool against real stores and the sandbox: one run
/// id, one limit, dry runs that count like real runs, intents in columns.
@Suite("Rectifier pool")
struct RectifierPoolTests {
    static func pool(_ db: DatabaseFixture, _ f: SandboxFixture, workers: Int?, only: [String]? = nil,
                     idle: Double? = nil) throws -> RectifierPool {
        var environment = f.environment()
        for type in Processors.all {
            let upper = type.name.uppercased().replacingOccurrences(of: "-", with: "_")
            environment["FUNDQ_\(upper)_RETRY_BACKOFF_SECONDS"] = "0"
            environment["FUNDQ_\(upper)_RATE_LIMIT_PER_SECOND"] = "10000"
        }
        let env = environment
        let configurations = try (only ?? Processors.all.map { $0.name }).map {
            try ProcessorConfiguration.load(name: $0, directory: RepositoryPaths.processors, environment: env)
        }
        let sampler: @Sendable () -> any IdleSampling = { idle.map { FixedIdle(share: $0) } ?? ProcessIdleSampler() }
        return try RectifierPool(storage: db.configuration, processors: configurations, workers: workers, idleSampler: sampler) {
            try Processors.make($0, directory: RepositoryPaths.processors, environment: env)
        }
    }

    @Test(arguments: DatabaseKind.allCases)
    func oneRunHasOneRunIDAndItsLimitHoldsOverEveryWorker(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        try seed(OrphanScenario(count: 600), into: storage, sandbox: f.sandbox)
        let pool = try Self.pool(db, f, workers: 4)
        let report = try pool.run(RectifierOptions(limit: 150, batchSize: 50), logLevel: .critical)
        #expect(report.total.examined == 150, "the limit holds for the run, not per worker")
        let runs = try storage.database.query("SELECT run_id, COUNT(*) FROM rectifier_decision GROUP BY run_id", [])
        #expect(runs.count == 1)
        #expect(runs.first?[0].string == pool.runID)
        #expect(runs.first?[1].int64 == 150)
        #expect(Set(report.decisions.map(\.runID)) == [pool.runID])
        let claims = try storage.database.query("SELECT COUNT(*) FROM pending WHERE claimed_by IS NOT NULL", []).first?.first?.int64
        #expect(claims == 0, "rows claimed beyond the limit are given back")
        let untouched = try storage.database.query(
            "SELECT COUNT(*) FROM pending WHERE attempts = 0 AND resolution IS NULL AND needs_review = 0", [])
        #expect(untouched.first?.first?.int64 == 450)
        // The next run takes the rest.
        let rest = try pool.run(RectifierOptions(), logLevel: .critical)
        #expect(rest.total.examined == 450, "\(rest.counts.mapValues(\.examined))")
    }

    @Test func anElasticPoolWhoseCPUIsBusyKeepsOneWorkerPerProcessor() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        var scenario = OrphanScenario(count: 0)
        // 4 s of GlobalCollect's late answers for one worker: time for many ticks, none of which may add one.
        scenario.add(2, of: "globalcollect", ids: "GC-SLOW", outcome: .slow)
        scenario.add(2, of: "paypal", ids: "EC-FAST", outcome: .complete)
        try seed(scenario, into: storage, sandbox: f.sandbox)
        let pool = try Self.pool(db, f, workers: nil, idle: 0)
        #expect(pool.elastic)
        let report = try pool.run(RectifierOptions(batchSize: 1), logLevel: .critical)
        #expect(report.total.examined == 4)
        #expect(report.workers == Processors.all.count, "no worker was added while the CPU was busy")
    }

    @Test func aFixedPoolStartsItsWorkersAtOnce() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        try seed(OrphanScenario(count: 40), into: storage, sandbox: f.sandbox)
        let pool = try Self.pool(db, f, workers: 6, idle: 1)
        #expect(!pool.elastic)
        let report = try pool.run(RectifierOptions(batchSize: 5), logLevel: .critical)
        #expect(report.total.examined == 40)
        #expect(report.workers == 6, "--workers N starts N, however idle the CPU")
    }

    @Test func anElasticPoolAddsWorkersWhileTheProcessorKeepsThemWaitingUpToItsConcurrency() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        var scenario = OrphanScenario(count: 0)
        // GlobalCollect answers each of these 2 s late: one worker would take 24 s; growth needs a few 200 ms ticks.
        scenario.add(12, of: "globalcollect", ids: "GC-SLOW", outcome: .slow)
        try seed(scenario, into: storage, sandbox: f.sandbox)
        let pool = try Self.pool(db, f, workers: nil, only: ["globalcollect"], idle: 1)
        let report = try pool.run(RectifierOptions(batchSize: 1), logLevel: .critical)
        #expect(report.counts["globalcollect"]?.completed == 12)
        let concurrency = try ProcessorConfiguration.load(name: "globalcollect", directory: RepositoryPaths.processors,
                                                          environment: f.environment()).concurrency
        #expect(report.workers > 1, "the pool grew while its worker waited")
        #expect(report.workers <= concurrency, "never more workers than the processor's concurrency")
        let owners = try storage.database.query("SELECT COUNT(DISTINCT claimed_by) FROM pending", []).first?.first?.int64
        #expect(owners == 0, "every claim was given back or resolved")
    }

    @Test func aDryRunCountsTheRowsLikeTheRealRunAndNamesTheRealRows() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        try seed(OrphanScenario(count: 300), into: storage, sandbox: f.sandbox)
        let ids = Set(try PendingStore(connection: storage.database).list(limit: 1_000).map(\.id))
        let dry = try Self.pool(db, f, workers: 4).run(RectifierOptions(dryRun: true), logLevel: .critical)
        #expect(f.sandbox.captures.isEmpty)
        #expect(dry.decisions.allSatisfy { $0.id == nil }, "a dry run stores no decision")
        #expect(Set(dry.decisions.map(\.pendingID)) == ids)
        let real = try Self.pool(db, f, workers: 4).run(RectifierOptions(), logLevel: .critical)
        for (name, counts) in real.counts {
            // A capture the dry run would send may turn out already made (PayPal 11607): counted captured only by the dry run.
            var would = try #require(dry.counts[name])
            #expect(would.captured >= counts.captured)
            would.captured = counts.captured
            #expect(would == counts, "\(name): dry run \(String(describing: dry.counts[name])) vs run \(counts)")
        }
        #expect(real.total.left > 0 && real.total.errors > 0 && real.total.captured > 0, "the scenario has every kind of row")
        let logged = Set(try DecisionLog(connection: storage.database).list(limit: 1_000).compactMap(\.id))
        #expect(Set(real.decisions.compactMap(\.id)) == logged)
        #expect(logged.count == ids.count)
    }

    @Test(arguments: DatabaseKind.allCases)
    func theIntentIsItsOwnColumnAndATokenExpiredAfterACaptureGoesToReview(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        var scenario = OrphanScenario(count: 0)
        scenario.orphans = [.init(processor: "paypal", id: "EC-CAPTURE", outcome: .pendingPoke),
                            .init(processor: "paypal", id: "EC-TRIED", outcome: .expired),
                            .init(processor: "paypal", id: "EC-NEVER", outcome: .expired)]
        try seed(scenario, into: storage, sandbox: f.sandbox)
        // An earlier run asked to capture EC-TRIED, then died.
        try storage.database.execute("UPDATE pending SET finish_requested_at = ? WHERE order_id = 'EC-TRIED'",
                                     [storage.database.dialect.value(Date().addingTimeInterval(-7200))])
        _ = try Self.pool(db, f, workers: 2).run(RectifierOptions(), logLevel: .critical)
        let store = PendingStore(connection: storage.database)
        let captured = try #require(try store.fetch(gateway: "paypal", orderID: "EC-CAPTURE"))
        #expect(captured.resolution == .completed)
        #expect(captured.intents.finishRequestedAt != nil)
        #expect(captured.message["finish_requested_at"] == nil, "no intent hides in the message")
        let review = try store.needingReview()
        #expect(review.map(\.record.orderID) == ["EC-TRIED"])
        #expect(review.first?.reason.contains("fundq asked to finish (capture) it") == true)
        #expect(try store.fetch(gateway: "paypal", orderID: "EC-NEVER")?.resolution == .timeout)
        #expect(f.sandbox.captures.map(\.id) == ["EC-CAPTURE"])
    }

    @Test(arguments: DatabaseKind.allCases)
    func intentsRecordedInTheMessageBeforeTheUpgradeMoveToTheirColumns(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database, migrate: false)
        // The embedded file is migrated whenever Storage opens it: open it bare.
        let connection: any SQLConnection = database == .sqlite
            ? try SQLiteDatabase(path: db.configuration.sqlitePath) : try db.openDatabase()
        let mine = try #require(SchemaMigrator.migrations.firstIndex { $0.summary.hasPrefix("the rectifier's intents") })
        try SchemaMigrator.migrate(connection, upTo: mine)
        let d = connection.dialect
        for (order, message) in [("o-finish", #"{"gateway":"paypal","order_id":"o-finish","finish_requested_at":1764000000}"#),
                                 ("o-profile",
                                  #"{"gateway":"paypal-recurring","order_id":"o-profile","recurring_profile_requested_at":1764000100}"#),
                                 ("o-none", #"{"gateway":"paypal","order_id":"o-none"}"#)] {
            try connection.execute("INSERT INTO pending (date, gateway, order_id, message) VALUES (?, ?, ?, ?)",
                                   [d.value(Date()), .text(order == "o-profile" ? "paypal-recurring" : "paypal"), .text(order),
                                    .text(message)])
        }
        try SchemaMigrator.migrate(connection)
        let store = PendingStore(connection: connection)
        #expect(try store.fetch(gateway: "paypal", orderID: "o-finish")?.intents
            == PendingIntents(finishRequestedAt: Date(timeIntervalSince1970: 1_764_000_000)))
        #expect(try store.fetch(gateway: "paypal-recurring", orderID: "o-profile")?.intents
            == PendingIntents(profileRequestedAt: Date(timeIntervalSince1970: 1_764_000_100)))
        #expect(try store.fetch(gateway: "paypal", orderID: "o-none")?.intents == PendingIntents())
    }
}

/// An unused share that never changes: an elastic pool's growth without the test run's load in it.
struct FixedIdle: IdleSampling {
    let share: Double

    mutating func sample() -> Double? { share }
}
