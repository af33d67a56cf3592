import Backends
import Core
import Foundation
import FundqTestSupport
import Logging
import Processors
import Rectifier
import Sandbox
import Testing

/// Orphans across every registered processor with every scripted outcome
/// its simulator plays, and what the rectifier must end up doing with each:
/// derived from the outcome's normalized reading and the adapter's declared
/// capabilities, so a new processor is covered without a line here.
struct OrphanScenario {
    struct Orphan {
        let processor: String
        let id: String
        let outcome: SandboxOutcome
    }

    var orphans: [Orphan] = []

    /// Adds `count` orphans of `processor` scripted to `outcome`, with ids `PREFIX-0`, `PREFIX-1`, …
    mutating func add(_ count: Int, of processor: String, ids prefix: String, outcome: SandboxOutcome) {
        orphans += (0..<count).map { Orphan(processor: processor, id: "\(prefix)-\($0)", outcome: outcome) }
    }

    /// The outcomes played, each where the processor's simulator plays it.
    static let outcomes: [SandboxOutcome] = [.complete, .pendingPoke, .finish, .abandoned, .pending, .failed, .cancelled, .expired,
                                             .duplicate, .serverError, .malformed, .truncated, .html]

    init(count: Int) {
        let plan = Simulators.all.map { adapter in (adapter.name, Self.outcomes.filter(adapter.simulatedOutcomes.contains)) }
        var i = 0
        while orphans.count < count {
            for (processor, outcomes) in plan where orphans.count < count {
                orphans.append(Orphan(processor: processor, id: "O-\(i)-\(processor)", outcome: outcomes[i % outcomes.count]))
            }
            i += 1
        }
    }

    /// The resolution each orphan must get (nil: left for later).
    static func expected(_ o: Orphan) -> PendingResolution? {
        if o.outcome == .duplicate { return .completed }
        switch o.outcome.normalized {
        case .complete?, .pendingPoke?: return .completed
        case .failed?: return .failed
        case .cancelled?: return .cancelled
        case .timeout?: return .timeout
        default: return nil
        }
    }

    /// Whether the rectifier must capture (finish, create a profile) for it.
    static func captures(_ o: Orphan) -> Bool {
        o.outcome.normalized == .pendingPoke
    }

    /// Whether its completion is a recurring signup (a profile created) rather than a donation.
    static func signsUp(_ o: Orphan) -> Bool {
        captures(o) && Processors.named(o.processor)!.capabilities.contains(.createRecurringProfile)
    }
}

func adapters(_ f: SandboxFixture) throws -> [any PaymentProcessor] {
    try Processors.all.map { type in
        let upper = type.name.uppercased().replacingOccurrences(of: "-", with: "_")
        return try f.processor(type.name, ["FUNDQ_\(upper)_RETRY_BACKOFF_SECONDS": "0", "FUNDQ_\(upper)_RATE_LIMIT_PER_SECOND": "10000"])
    }
}

func quietLogger() -> Logger {
    var logger = Logger(label: "test.rectifier")
    logger.logLevel = .critical
    return logger
}

/// Stores the scenario's orphans (an hour old) and scripts the sandbox.
func seed(_ scenario: OrphanScenario, into storage: Storage, sandbox: Sandbox) throws {
    let store = PendingStore(connection: storage.database)
    let date = Int(Date().timeIntervalSince1970) - 3600
    try storage.database.transaction {
        for o in scenario.orphans {
            try sandbox.script(o.processor, id: o.id, outcome: o.outcome, amount: "10.00", currency: "EUR")
            try store.store(try PendingMessage(members: try JSONParser().parse(
                pendingMessageText(processor: o.processor, id: o.id, date: date, extra: #","email":"d@example.org""#)).objectValue!))
        }
    }
}

@Suite("Rectifier scenarios")
struct RectifierScenarioTests {
    @Test(arguments: DatabaseKind.allCases)
    func everyOrphanIsResolvedScheduledOrMarkedAndNothingIsCapturedTwice(database: DatabaseKind) throws {
        let scenario = OrphanScenario(count: 3_000)
        let db = try DatabaseFixture(database)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        try seed(scenario, into: storage, sandbox: f.sandbox)

        // The dry run asks, and changes nothing anywhere.
        let dry = try Rectifier(storage: storage, processors: try adapters(f), logger: quietLogger()).run(RectifierOptions(dryRun: true))
        #expect(dry.decisions.count == scenario.orphans.count)
        #expect(f.sandbox.captures.isEmpty)
        #expect(try PendingStore(connection: storage.database).list(limit: 10_000).count == scenario.orphans.count)
        #expect(try storage.queue.stats("donations").waiting == 0)
        #expect(try DecisionLog(connection: storage.database).list(limit: 10).isEmpty)

        let report = try Rectifier(storage: storage, processors: try adapters(f), logger: quietLogger()).run(RectifierOptions())
        let store = PendingStore(connection: storage.database)
        let rows = Dictionary(uniqueKeysWithValues: try store.list(includeResolved: true, limit: 10_000).map { ($0.orderID!, $0) })
        #expect(rows.count == scenario.orphans.count, "no row lost")
        for o in scenario.orphans {
            let row = try #require(rows[o.id])
            let expected = OrphanScenario.expected(o)
            #expect(row.resolution == expected, "\(o.processor) \(o.outcome): \(String(describing: row.resolution))")
            if expected == nil {
                #expect(row.attempts == 1 && row.nextAttemptDate != nil, "\(o.processor) \(o.outcome) is scheduled")
            }
        }
        // Captures: exactly one per orphan that needed one, none twice.
        let captures = f.sandbox.captures
        #expect(captures.count == scenario.orphans.filter(OrphanScenario.captures).count)
        #expect(Set(captures.map(\.id)).count == captures.count)
        // Every completed payment became exactly one message.
        let completed = scenario.orphans.filter { OrphanScenario.expected($0) == .completed }
        let recurringSignups = completed.filter(OrphanScenario.signsUp).count
        #expect(try storage.queue.stats("donations").waiting == completed.count - recurringSignups)
        #expect(try storage.queue.stats("recurring").waiting == recurringSignups)
        let totals = report.total
        #expect(totals.examined == scenario.orphans.count)
        #expect(totals.completed == completed.count)
        #expect(totals.captured == captures.count)
        #expect(totals.completed + totals.failed + totals.left == scenario.orphans.count)
        // Every decision is in the log, with its evidence.
        let logged = try DecisionLog(connection: storage.database).list(limit: 10_000)
        #expect(logged.count == scenario.orphans.count)
        #expect(logged.allSatisfy { !$0.evidence.isEmpty })
        // Credentials only: a merchant id ("9000", "9991") is not a secret, and as a 4-digit text it can turn up by
        // chance in an answer's numbers (a port, a curl timeout's elapsed milliseconds), failing this check now and then.
        let secrets = f.sandbox.environment.filter { !$0.key.hasSuffix("MERCHANT_ID") }.values
            .filter { $0.count >= 4 && !$0.hasPrefix("http") }
        for d in logged {
            let raw = d.raw ?? ""
            let shown = secrets.filter { raw.contains($0) }
            #expect(shown.isEmpty && !raw.contains("donor@example.org"), "decision \(d.id) shows \(shown): \(raw)")
        }
        #expect(Set(scenario.orphans.map(\.processor)) == Set(Processors.all.map { $0.name }), "every registered processor played")

        // A second run now finds nothing due (the left rows wait for their next attempt).
        let again = try Rectifier(storage: storage, processors: try adapters(f), logger: quietLogger()).run(RectifierOptions())
        #expect(again.decisions.isEmpty)
        #expect(f.sandbox.captures.count == captures.count)
    }

    @Test func aFailingProcessorOpensItsCircuitAndNeverStarvesTheOthers() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        var scenario = OrphanScenario(count: 0)
        scenario.add(40, of: "globalcollect", ids: "GC-DOWN", outcome: .serverError)
        scenario.add(20, of: "paypal", ids: "EC-OK", outcome: .complete)
        try seed(scenario, into: storage, sandbox: f.sandbox)
        let report = try Rectifier(storage: storage, processors: try adapters(f), logger: quietLogger())
            .run(RectifierOptions(batchSize: 10, breakerThreshold: 5))
        // GlobalCollect was asked until five failures in a row, then left alone for this run.
        #expect(report.counts["globalcollect"]?.errors == 5)
        #expect(report.counts["paypal"]?.completed == 20)
        let untouched = try PendingStore(connection: storage.database).list(gateway: "globalcollect", limit: 100)
            .filter { $0.attempts == 0 }
        #expect(untouched.count == 35)
    }

    @Test func aSlowProcessorGetsTurnsLikeTheOthers() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        var scenario = OrphanScenario(count: 0)
        scenario.add(6, of: "globalcollect", ids: "GC-SLOW", outcome: .slow)
        scenario.add(6, of: "paypal", ids: "EC-FAST", outcome: .complete)
        try seed(scenario, into: storage, sandbox: f.sandbox)
        // A 1-second turn: GlobalCollect answers in 2 s, so after its first row PayPal takes its turn.
        let report = try Rectifier(storage: storage, processors: try adapters(f), logger: quietLogger())
            .run(RectifierOptions(batchSize: 50, turnBudget: .seconds(1)))
        let order = report.decisions.map(\.processor)
        #expect(Array(order.prefix(7)) == ["globalcollect"] + Array(repeating: "paypal", count: 6),
                "PayPal waited behind GlobalCollect: \(order)")
        #expect(report.counts["globalcollect"]?.completed == 6)
    }
}
