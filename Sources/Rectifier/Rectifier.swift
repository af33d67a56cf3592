public import Backends
public import Core
import Foundation
public import Logging
import MariaDBDriver
import RedisDriver
import SQLiteDriver
import Synchronization

/// How one rectifier run behaves.
public struct RectifierOptions: Sendable {
    /// Ask only (read-only status calls), change nothing anywhere.
    public var dryRun: Bool
    /// Stop after examining this many rows (over every worker of the run).
    public var limit: Int?
    /// Stop after this long.
    public var timeLimit: Duration?
    /// Rows claimed per statement (processors take turns).
    public var batchSize: Int
    /// Decisions written per transaction (their donations pushed in one
    /// push per queue just before; see ``DecisionBatch``). A decision waits
    /// at most half the lease after its row's claim.
    public var writeBatchSize: Int
    /// How long a claimed row is this run's alone.
    public var lease: Duration
    /// Consecutive transport failures after which a processor is skipped
    /// (circuit open) until `breakerCooldown` has passed.
    public var breakerThreshold: Int
    /// How long an open circuit stays open before one probe is let through.
    public var breakerCooldown: Duration
    /// Called with each decision as soon as it is final (stored, with its
    /// id; in a dry run, when taken), from the worker that took it.
    public var onDecision: (@Sendable (RectifierDecision) -> Void)? = nil
    /// Longest one processor's turn lasts before the next processor's turn
    /// (a slow processor never starves the others; its cursor keeps its place).
    public var turnBudget: Duration

    /// Options; the defaults suit the daemon.
    public init(dryRun: Bool = false, limit: Int? = nil, timeLimit: Duration? = nil, batchSize: Int = 100, lease: Duration = .seconds(300),
                breakerThreshold: Int = 5, breakerCooldown: Duration = .seconds(60), turnBudget: Duration = .seconds(5),
                writeBatchSize: Int = 100) {
        self.writeBatchSize = max(1, writeBatchSize)
        self.dryRun = dryRun
        self.limit = limit
        self.timeLimit = timeLimit
        self.batchSize = batchSize
        self.lease = lease
        self.breakerThreshold = breakerThreshold
        self.breakerCooldown = breakerCooldown
        self.turnBudget = turnBudget
    }
}

/// Counts per processor for the summary.
public struct RectifierCounts: Sendable, Equatable {
    /// Rows looked at.
    public var examined = 0
    /// Resolved as completed (donation pushed).
    public var completed = 0
    /// Of those, finished or captured by this run.
    public var captured = 0
    /// Resolved as failed, cancelled or timeout.
    public var failed = 0
    /// Resolved as duplicate.
    public var duplicates = 0
    /// Left for a later attempt.
    public var left = 0
    /// Marked for review.
    public var needsReview = 0
    /// Processor errors met (rows left or marked for review).
    public var errors = 0
    /// Rows another rectifier held (claims are taken a batch at a time, so
    /// this stays 0; kept for the summary's shape).
    public var skipped = 0

    /// Empty counts.
    public init() {}

    /// Adds `other` to these counts.
    public mutating func add(_ other: RectifierCounts) {
        examined += other.examined; completed += other.completed; captured += other.captured; failed += other.failed
        duplicates += other.duplicates; left += other.left; needsReview += other.needsReview; errors += other.errors
        skipped += other.skipped
    }
}

/// What a run did.
public struct RectifierReport: Sendable {
    /// Counts per processor name.
    public var counts: [String: RectifierCounts] = [:]
    /// Every decision (what was done, or in a dry run what would be).
    public var decisions: [RectifierDecision] = []
    /// Processors whose circuit was open when the run ended (transport
    /// failures in a row: not asked until the cooldown has passed).
    public var openCircuits: Set<String> = []
    /// Workers whose reports this is (one rectifier's run: 1; a pool's: every worker it started).
    public var workers = 0

    /// An empty report.
    public init() {}

    /// The counts over every processor.
    public var total: RectifierCounts {
        counts.values.reduce(into: RectifierCounts()) { $0.add($1) }
    }

    /// Adds another run's decisions and counts to this report.
    public mutating func add(_ other: RectifierReport) {
        decisions += other.decisions
        openCircuits.formUnion(other.openCircuits)
        workers += other.workers
        for (name, c) in other.counts { counts[name, default: RectifierCounts()].add(c) }
    }
}

/// The orphan rectifier's executor: for every processor, claims stale
/// pending rows a batch at a time, runs each row's ``RowPlanner`` (asking the
/// processor, then finishing, resolving or leaving it) and writes the
/// decisions a batch at a time — never guessing: a row is resolved as failed
/// only on a positive answer, and every decision is logged with its evidence.
///
/// Not `Sendable`: it owns its connections and adapters. ``RectifierPool``
/// runs several on their own threads with one run id, one `--limit` and
/// shared processor rates; rows are claimed with a lease before any
/// processor call, so no two rectifiers (threads or processes, on any
/// machines) ever work on the same row.
public final class Rectifier {
    let storage: Storage
    let pending: PendingStore
    let log: DecisionLog
    let processors: [any PaymentProcessor]
    /// This run's id (the decision log's `run_id`).
    public let runID: String
    /// The owner name this rectifier's claims carry (the run id, plus the
    /// worker's number in a pool).
    public let claimOwner: String
    var logger: Logger
    let limiter: ProcessorRateLimiter
    let budget: RectifierBudget?
    /// Whether the queues live in the same SQLite file as the pending rows
    /// (then a donation's push and its row's resolution commit together).
    let queueSharesDatabase: Bool
    private var breakers: [String: (failures: Int, openUntil: ContinuousClock.Instant?)] = [:]
    private var breakerThreshold = 5
    private var breakerCooldown = Duration.seconds(60)
    private let clock = ContinuousClock()
    private var report = RectifierReport()
    private var onDecision: (@Sendable (RectifierDecision) -> Void)?
    private var claimed: [String: [ClaimedRow]] = [:]
    private var donationKeys = Set<String>()
    private var unwritten = DecisionBatch<UnwrittenDecision>(capacity: 1, maximumWait: .zero)

    /// A row this worker holds, and when its claim was taken.
    struct ClaimedRow {
        let row: PendingRecord
        let claimedAt: Date
    }

    struct UnwrittenDecision {
        let row: PendingRecord
        let processor: String
        let outcome: RowOutcome
        let decision: RectifierDecision
    }

    /// A new run id.
    public static func newRunID() -> String { "r-\(UUID().uuidString.prefix(8).lowercased())" }

    /// A rectifier over `storage` with one adapter per processor, pacing its
    /// calls to each processor's configured rate within this rectifier.
    public convenience init(storage: Storage, processors: [any PaymentProcessor], runID: String = Rectifier.newRunID(),
                            logger: Logger = Logger(label: "fundq.rectifier")) {
        self.init(storage: storage, processors: processors, runID: runID, claimOwner: runID, logger: logger,
                  limiter: ProcessorRateLimiter(store: LocalCallSlots()), budget: nil)
    }

    /// A rectifier that is one worker of a run: `claimOwner` names its
    /// claims, `limiter` and `budget` are shared with the run's other workers.
    public init(storage: Storage, processors: [any PaymentProcessor], runID: String, claimOwner: String, logger: Logger,
                limiter: ProcessorRateLimiter, budget: RectifierBudget?) {
        self.storage = storage
        pending = PendingStore(connection: storage.database)
        log = DecisionLog(connection: storage.database)
        self.processors = processors
        self.runID = runID
        self.claimOwner = claimOwner
        self.logger = logger
        self.limiter = limiter
        self.budget = budget
        queueSharesDatabase = storage.queue is SQLiteQueue && storage.database is SQLiteDatabase
    }

    /// One run: processors take turns, a batch each, until every
    /// processor's due rows are done, the limit or time limit is reached, or
    /// `shouldStop` says so (the row in hand is finished first; rows claimed
    /// but not started are released).
    public func run(_ options: RectifierOptions, shouldStop: () -> Bool = { false }) throws -> RectifierReport {
        let budget = self.budget ?? RectifierBudget(limit: options.limit)
        breakerThreshold = options.breakerThreshold
        breakerCooldown = options.breakerCooldown
        onDecision = options.onDecision
        report = RectifierReport()
        report.workers = 1
        claimed = [:]
        unwritten = DecisionBatch(capacity: options.writeBatchSize, maximumWait: options.lease / 2)
        let start = clock.now
        var sweep = Sweep()
        func over() -> Bool { shouldStop() || options.timeLimit.map { clock.now - start >= $0 } ?? false }
        do {
            while !over() {
                var worked = false
                for processor in processors where !over() {
                    let name = type(of: processor).name
                    if sweep.exhausted.contains(name) && claimed[name, default: []].isEmpty { continue }
                    if let open = breakers[name]?.openUntil, clock.now < open {
                        logger.warning("circuit open: not asking \(name) until it recovers", metadata: ["processor": "\(name)"])
                        sweep.exhausted.insert(name)  // skipped this run; its rows stay for later
                        try releaseClaimed(name)
                        continue
                    }
                    worked = true
                    try turn(processor, options: options, budget: budget, sweep: &sweep, over: over)
                    try flush()
                }
                if !worked { break }
            }
            try flush()
            for name in claimed.keys { try releaseClaimed(name) }
            report.openCircuits = Set(breakers.compactMap { $0.value.openUntil == nil ? nil : $0.key })
        } catch {
            // The stores went away (or a write failed twice): what was decided is written if it still can be,
            // and the claims of the rest expire after the lease (a later run asks the processor again).
            try? flush()
            for name in claimed.keys { try? releaseClaimed(name) }
            throw error
        }
        return report
    }

    /// Where each processor's sweep stands in this run.
    struct Sweep {
        var cursors: [String: (date: Date, id: Int64)] = [:]
        var exhausted = Set<String>()
    }

    /// One processor's turn: its claimed rows, claiming more as they run
    /// out, until none are due or the turn's time is up (the rows claimed
    /// stay this worker's for its next turn). Rows are taken a few at a time:
    /// each is planned up to its money call, the intents of those that need
    /// one are committed in one transaction, then their calls are made.
    func turn(_ processor: any PaymentProcessor, options: RectifierOptions, budget: RectifierBudget, sweep: inout Sweep,
              over: () -> Bool) throws {
        let name = type(of: processor).name
        let turnStarted = clock.now
        var first = true
        while !over() {
            if unwritten.isDue(now: Date()) { try flush() }
            if claimed[name, default: []].isEmpty {
                guard !sweep.exhausted.contains(name) else { return }
                try claimBatch(processor, options: options, budget: budget, sweep: &sweep)
                if claimed[name, default: []].isEmpty { return }
            }
            if !first && clock.now - turnStarted >= options.turnBudget { return }
            first = false
            var waiting: [RowInProgress] = []
            repeat {
                var work = RowInProgress(claimed[name]!.removeFirst(), processor: processor, options: options)
                if try advance(&work, nil, options: options, pausingAt: .intent) { waiting.append(work) }
            } while waiting.count < Self.intentsPerTransaction && !claimed[name, default: []].isEmpty && !over()
                && clock.now - turnStarted < options.turnBudget && breakers[name]?.openUntil == nil
            try recordIntents(&waiting, options: options)
            if breakers[name]?.openUntil != nil { return }
        }
    }

    /// The writes a row's plan can pause at, to be made with other rows'.
    enum PauseAt {
        /// An intent (committed for the group before its calls).
        case intent
        /// A created profile's id (committed for the group after its calls).
        case profile
    }

    /// Rows whose intents are committed together, at most.
    static let intentsPerTransaction = 16

    /// A row part-way through its plan.
    struct RowInProgress {
        let row: PendingRecord
        let claimedAt: Date
        let processor: any PaymentProcessor
        var planner: RowPlanner
        var current: ProcessorStatus?
        var intent: PendingIntent?
        var profile: String?

        init(_ claimed: ClaimedRow, processor: any PaymentProcessor, options: RectifierOptions) {
            let type = type(of: processor)
            row = claimed.row
            claimedAt = claimed.claimedAt
            self.processor = processor
            planner = RowPlanner(row: claimed.row, context: PlanContext(
                adapter: type, attemptSchedule: processor.configuration.attemptSchedule, dryRun: options.dryRun, now: Date()))
        }
    }

    /// Commits the waiting rows' intents (each only while its claim is held)
    /// in one transaction, one statement per kind of intent, then runs each
    /// row's plan on from there.
    func recordIntents(_ waiting: inout [RowInProgress], options: RectifierOptions) throws {
        guard !waiting.isEmpty else { return }
        let events: [RectifierEvent]
        do {
            let byIntent = Dictionary(grouping: waiting, by: { $0.intent! }).sorted { $0.key.rawValue < $1.key.rawValue }
            let held = try Rectifier.retryingTransient {
                try storage.database.transaction {
                    try byIntent.reduce(into: Set<Int64>()) { held, group in
                        held.formUnion(try pending.recordIntent(group.key, ids: group.value.map(\.row.id), worker: claimOwner,
                                                                lease: options.lease))
                    }
                }
            }
            events = waiting.map { RectifierEvent.claim(held: held.contains($0.row.id)) }
        } catch where !Rectifier.isOutage(error) {
            events = Array(repeating: .failed("\(error)"), count: waiting.count)
        }
        try makeMoneyCalls(&waiting, events, options: options)
        waiting = []
    }

    /// How long a created profile's id may wait for the group's other calls before it is written.
    static let profileWriteWait = Duration.seconds(1)

    /// Runs each row's plan on from its intent's `events` (the money calls,
    /// one after another); the profile ids they create are written together
    /// after the group's calls, or before the next call once the oldest has
    /// waited ``profileWriteWait`` (a slow processor never holds one long).
    func makeMoneyCalls(_ waiting: inout [RowInProgress], _ events: [RectifierEvent], options: RectifierOptions) throws {
        let committed = clock.now
        var recording: [Int] = []
        var oldest: ContinuousClock.Instant?
        do {
            for i in waiting.indices {
                if let oldest, !recording.isEmpty, clock.now - oldest >= Self.profileWriteWait {
                    let rows = recording
                    recording = []
                    try continueAfterProfiles(rows, &waiting, options: options)
                }
                var event = events[i]
                // The calls go one after another: once the earlier ones leave less of the lease than this row can take
                // (``ProcessorConfiguration/longestRow``, plus 5 s), the claim is renewed first.
                let left = options.lease - (clock.now - committed)
                if case .claim(held: true) = event, left < waiting[i].processor.configuration.longestRow + .seconds(5) {
                    event = .claim(held: try pending.renewClaim(id: waiting[i].row.id, worker: claimOwner, lease: options.lease))
                }
                if try advance(&waiting[i], event, options: options, pausingAt: .profile) {
                    if recording.isEmpty { oldest = clock.now }
                    recording.append(i)
                }
            }
        } catch {
            // Stopping (a store went away): the profiles already created are written if the database still can be.
            _ = try? recordProfiles(recording.map { waiting[$0] })
            throw error
        }
        try continueAfterProfiles(recording, &waiting, options: options)
    }

    /// Writes the profile ids of the rows at `indices`, then runs their plans to the end.
    func continueAfterProfiles(_ indices: [Int], _ waiting: inout [RowInProgress], options: RectifierOptions) throws {
        let written = try recordProfiles(indices.map { waiting[$0] })
        for (i, event) in zip(indices, written) {
            _ = try advance(&waiting[i], event, options: options, pausingAt: nil)
        }
    }

    /// Writes a created recurring profile's id into its row's message (`subscr_id`).
    func writeProfile(_ profile: String, of row: PendingRecord) throws {
        try pending.updateMessage(id: row.id, message: Self.message(of: row, profile: profile))
    }

    /// `row`'s message with a created recurring profile's id (`subscr_id`).
    static func message(of row: PendingRecord, profile: String) -> [String: JSONValue] {
        var message = row.message
        message["subscr_id"] = .string(profile)
        return message
    }

    /// Writes the created profiles' ids into their rows' messages, with one
    /// statement (a crash before it leaves those rows with a recorded
    /// profile-creation intent and no profile id: the next run sends them to
    /// review, never creates a second profile). Should the database refuse
    /// it, each row is written on its own, so that one row's refusal costs
    /// no other row its id.
    func recordProfiles(_ rows: [RowInProgress]) throws -> [RectifierEvent] {
        guard !rows.isEmpty else { return [] }
        func write(_ work: RowInProgress) throws { try writeProfile(work.profile!, of: work.row) }
        do {
            try Rectifier.retryingTransient {
                try pending.updateMessages(rows.map { ($0.row.id, Self.message(of: $0.row, profile: $0.profile!)) })
            }
            return Array(repeating: .written, count: rows.count)
        } catch where !Rectifier.isOutage(error) && rows.count > 1 {
            return try rows.map { work in
                do {
                    try Rectifier.retryingTransient { try storage.database.transaction { try write(work) } }
                    return .written
                } catch where !Rectifier.isOutage(error) {
                    return .failed("\(error)")
                }
            }
        } catch where !Rectifier.isOutage(error) {
            return [.failed("\(error)")]
        }
    }

    /// Claims the processor's next due rows (a dry run only reads them),
    /// within the run's budget, and notes which already have a donation.
    func claimBatch(_ processor: any PaymentProcessor, options: RectifierOptions, budget: RectifierBudget, sweep: inout Sweep) throws {
        let type = type(of: processor)
        let config = processor.configuration
        let want = budget.take(Self.claimSize(batchSize: options.batchSize, ratePerSecond: config.rateLimitPerSecond,
                                              concurrency: config.concurrency, turn: options.turnBudget))
        guard want > 0 else {
            sweep.exhausted.insert(type.name)
            return
        }
        let now = Date()
        let olderThan = now.addingTimeInterval(-config.minimumAge.seconds)
        let newerThan = now.addingTimeInterval(-config.maximumAge.seconds)
        let cursor = sweep.cursors[type.name]
        let rows = options.dryRun
            ? try pending.due(gateway: type.gateway, olderThan: olderThan, newerThan: newerThan, now: now, after: cursor, limit: want)
            : try Rectifier.retryingTransient {
                try pending.claimDue(gateway: type.gateway, olderThan: olderThan, newerThan: newerThan, now: now, after: cursor,
                                     worker: claimOwner, lease: options.lease, limit: want)
            }
        budget.giveBack(want - rows.count)
        if rows.count < want { sweep.exhausted.insert(type.name) }
        if let last = rows.last { sweep.cursors[type.name] = (last.date, last.id) }
        claimed[type.name, default: []] += rows.map { ClaimedRow(row: $0, claimedAt: now) }
        donationKeys.formUnion(try DonationKeys.existing(for: rows, in: storage.database))
    }

    /// Rows one claim takes: `batchSize`, but no more than one worker asks
    /// about in one turn at its share of the processor's rate (rate × turn ÷
    /// concurrency; at least one). Claimed rows then never wait out other
    /// processors' turns, and the other rectifiers sharing a slow rate find
    /// rows to work on instead of one process holding them all.
    static func claimSize(batchSize: Int, ratePerSecond: Double, concurrency: Int, turn: Duration) -> Int {
        let perTurn = ratePerSecond * turn.seconds / Double(max(1, concurrency))
        return max(1, min(batchSize, perTurn.isFinite ? Int(perTurn.rounded(.down)) : batchSize))
    }

    /// Gives back the rows of `name` claimed but not worked on.
    func releaseClaimed(_ name: String) throws {
        let rows = claimed[name] ?? []
        claimed[name] = []
        budget?.giveBack(rows.count)
        if !rows.isEmpty { try pending.release(ids: rows.map(\.row.id), worker: claimOwner) }
    }

    /// Runs `work`'s plan from `event`: each step's I/O here, each decision
    /// in the planner. With `pausingAt`, stops at that kind of write
    /// (returns true; the intent is in `work.intent`, the profile id in
    /// `work.profile`); else runs to the end.
    func advance(_ work: inout RowInProgress, _ first: RectifierEvent?, options: RectifierOptions, pausingAt: PauseAt?) throws -> Bool {
        var event = first
        while true {
            let step = work.planner.next(event)
            switch step {
            case .done(let outcome):
                try decided(work.row, claimedAt: work.claimedAt, processor: type(of: work.processor).name, outcome: outcome,
                            options: options)
                return false
            case .recordIntent(let intent) where pausingAt == .intent:
                work.intent = intent
                return true
            case .recordProfile(let profile) where pausingAt == .profile:
                work.profile = profile
                return true
            default:
                event = try perform(step, row: work.row, processor: work.processor, current: &work.current, options: options)
            }
        }
    }

    /// Runs one step; errors about this row become events, an outage throws.
    func perform(_ step: RectifierStep, row: PendingRecord, processor: any PaymentProcessor, current: inout ProcessorStatus?,
                 options: RectifierOptions) throws -> RectifierEvent {
        let name = type(of: processor).name
        do {
            switch step {
            case .checkDonation:
                return .donation(exists: DonationKeys.keys(of: row).contains { donationKeys.contains($0) })
            case .askStatus:
                try limiter.waitForSlot(name, ratePerSecond: processor.configuration.rateLimitPerSecond)
                let answer = try FundqMetrics.timedCall(processor: name, action: "status") { try processor.status(of: row) }
                current = answer
                noteSuccess(name)
                return .status(answer)
            case .preview(let call) where options.dryRun:
                return .preview(try processor.preview(call, for: row, current: current))
            case .preview(let call):
                try processor.validate(call, for: row, current: current)
                return .validated
            case .recordIntent(let intent):
                return .claim(held: try pending.recordIntent(intent, id: row.id, worker: claimOwner, lease: options.lease))
            case .renewClaim:
                return .claim(held: try pending.renewClaim(id: row.id, worker: claimOwner, lease: options.lease))
            case .call(let call):
                try limiter.waitForSlot(name, ratePerSecond: processor.configuration.rateLimitPerSecond)
                let answer = try FundqMetrics.timedCall(processor: name, action: String(describing: call)) {
                    call == .cancel ? try processor.cancel(row)
                        : try processor.finish(row, current: current ?? ProcessorStatus(status: .unknown, evidence: "", raw: ""))
                }
                noteSuccess(name)
                return .status(answer)
            case .recordProfile(let profile):
                try writeProfile(profile, of: row)
                return .written
            case .done:
                return .failed("the plan was already done")
            }
        } catch let error as ProcessorError {
            if case .transport = error.kind { noteFailure(name) }
            if case .httpStatus(let code) = error.kind, code >= 500 { noteFailure(name) }
            if case .httpError(let code, _) = error.kind, code >= 500 { noteFailure(name) }
            if case .authentication = error.kind { noteFailure(name) }
            return .processorFailed(error)
        } catch where !Rectifier.isOutage(error) {
            // Anything else about this row (bad data, a refused statement): recorded, and the run moves on.
            return .failed("\(error)")
        }
    }

    /// A row is decided: logged now, written with its batch (a dry run writes nothing).
    func decided(_ row: PendingRecord, claimedAt: Date, processor: String, outcome: RowOutcome, options: RectifierOptions) throws {
        var decision = RectifierDecision(time: Date(), runID: runID, processor: processor, gateway: row.gateway, orderID: row.orderID,
                                         pendingID: row.id, status: outcome.status, evidence: outcome.evidence, raw: outcome.raw,
                                         action: outcome.action, result: outcome.result)
        decision.startedAt = row.date
        // One line per row at debug (the decision log keeps every one); the pass's line at info counts them.
        logger.debug("decision", metadata: [
            "run": "\(runID)", "processor": "\(processor)", "order_id": "\(row.orderID ?? "-")", "status": "\(outcome.status)",
            "evidence": "\(outcome.evidence)", "action": "\(outcome.action.rawValue)", "result": "\(outcome.result)",
            "dry_run": "\(options.dryRun)",
        ])
        if options.dryRun {
            onDecision?(decision)
            report.decisions.append(decision)
            report.counts[processor, default: RectifierCounts()].add(outcome.counts)
            return
        }
        FundqMetrics.decided(processor: processor, action: outcome.action.rawValue)
        unwritten.add(UnwrittenDecision(row: row, processor: processor, outcome: outcome, decision: decision), write: outcome.write,
                      claimedAt: claimedAt)
        if unwritten.isDue(now: Date()) { try flush() }
    }

    /// Writes the decided rows (``DecisionBatch``): their donations pushed
    /// first, one push per queue (in the same transaction when the queues
    /// share the database), then every row's write and decision log row in
    /// one transaction. A crash between the two pushes this batch's
    /// donations again on a later run, which the donations sink stores once
    /// (a recurring sign-up may arrive twice: see ``DecisionBatch``).
    func flush() throws {
        guard !unwritten.isEmpty else { return }
        let toWrite = unwritten.take()
        let batch = toWrite.entries
        if !queueSharesDatabase { try push(toWrite.pushes) }
        let written: [(RowOutcome, Int64)]
        func writeInOneTransaction(lockingFirst: Bool) throws -> [(RowOutcome, Int64)] {
            try storage.database.transaction {
                if queueSharesDatabase { try push(toWrite.pushes) }
                return try write(batch, lockingFirst: lockingFirst)
            }
        }
        do {
            written = try Rectifier.retryingTransient {
                do {
                    return try writeInOneTransaction(lockingFirst: false)
                } catch is ClaimsMovedDuringWrite {
                    logger.notice("a claim was lost since its row was decided: the batch is written again, its held rows read first",
                                  metadata: ["rows": "\(batch.count)"])
                    return try writeInOneTransaction(lockingFirst: true)
                }
            }
        } catch where !Rectifier.isOutage(error) {
            written = try batch.map { try writeAlone($0, after: error) }
        }
        for (entry, (outcome, id)) in zip(batch, written) {
            var decision = entry.decision
            decision.id = id
            decision.result = outcome.result
            onDecision?(decision)
            report.decisions.append(decision)
            report.counts[entry.processor, default: RectifierCounts()].add(outcome.counts)
        }
    }

    /// Pushes each queue's messages with one push (in the caller's transaction when the queues share the database).
    func push(_ pushes: [(queue: String, messages: [[String: JSONValue]])]) throws {
        guard !pushes.isEmpty else { return }
        let envelope = MessageEnvelope(sourceName: "fundq-rectifier", sourceType: "rectifier")
        let producer = QueueProducer(queue: storage.queue, envelope: envelope)
        for (queue, messages) in pushes {
            try producer.push(contentsOf: messages.map { Array(JSONValue.object($0).serialized().utf8) }, to: queue)
        }
    }

    /// Whether `error` means the stores are unreachable (the run stops; the
    /// claims expire and a later run takes the rows again).
    /// Each driver's error says so itself (``ClassifiedFailure``), as the
    /// queue consumer reads it.
    static func isOutage(_ error: any Error) -> Bool {
        (error as? any ClassifiedFailure)?.handlingFailure == .outage
    }

    /// Runs `body`, again up to 8 times after a MariaDB deadlock or lock wait
    /// timeout (batched claims and writes can meet another rectifier's; 16
    /// workers on a loaded machine met each other more often than twice in a
    /// row). Each `body` is database work only — never a processor call — and
    /// its transaction was rolled back, so running it again is safe. The
    /// pause grows and is jittered so two workers do not meet again in step.
    static func retryingTransient<T>(_ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as MariaDBError where error.isTransient && attempt < 8 {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.02 * Double(attempt) * Double.random(in: 0.5...1.5))
            }
        }
    }

    private func noteSuccess(_ name: String) {
        if breakers[name]?.openUntil != nil { FundqMetrics.circuit(processor: name, open: false) }
        breakers[name] = (0, nil)
    }

    private func noteFailure(_ name: String) {
        var state = breakers[name] ?? (0, nil)
        state.failures += 1
        if state.failures >= breakerThreshold {
            state.openUntil = clock.now + breakerCooldown
            logger.error("circuit opened for \(name) after \(state.failures) consecutive transport failures")
            FundqMetrics.circuit(processor: name, open: true)
        }
        breakers[name] = state
    }

}

/// The rows a run may still examine, shared by its workers: `--limit`
/// holds for the whole run, not per worker.
public final class RectifierBudget: Sendable {
    private let remaining: Mutex<Int?>

    /// A budget of `limit` rows (nil: unlimited).
    public init(limit: Int?) {
        remaining = Mutex(limit.map { max(0, $0) })
    }

    /// Takes up to `wanted` rows; returns how many were granted.
    public func take(_ wanted: Int) -> Int {
        remaining.withLock { left in
            guard let l = left else { return wanted }
            let granted = min(l, wanted)
            left = l - granted
            return granted
        }
    }

    /// Returns `count` rows not used after all.
    public func giveBack(_ count: Int) {
        guard count > 0 else { return }
        remaining.withLock { left in left = left.map { $0 + count } }
    }
}

/// Which pending rows already have a booked donation: one query per batch.
enum DonationKeys {
    static func keys(of row: PendingRecord) -> [String] {
        [row.orderID.map { "\(row.gateway)\u{0}o\u{0}\($0)" }, row.gatewayTxnID.map { "\(row.gateway)\u{0}t\u{0}\($0)" }].compactMap { $0 }
    }

    static func existing(for rows: [PendingRecord], in connection: any SQLConnection) throws -> Set<String> {
        var found = Set<String>()
        for (gateway, group) in Dictionary(grouping: rows, by: \.gateway) {
            let orders = Array(Set(group.compactMap(\.orderID)))
            let txns = Array(Set(group.compactMap(\.gatewayTxnID)))
            for (column, tag, values) in [("order_id", "o", orders), ("gateway_txn_id", "t", txns)] where !values.isEmpty {
                var start = 0
                while start < values.count {
                    let chunk = values[start..<min(start + 400, values.count)]
                    let marks = SQLValue.placeholders(chunk.count)
                    for r in try connection.query("SELECT \(column) FROM donations WHERE gateway = ? AND \(column) IN (\(marks))",
                                                  [.text(gateway)] + chunk.map { .text($0) }) {
                        if let value = r[0].string { found.insert("\(gateway)\u{0}\(tag)\u{0}\(value)") }
                    }
                    start += chunk.count
                }
            }
        }
        return found
    }
}

/// The queue completed donations go to.
public enum DonationsQueue {
    /// `donations`.
    public static let name = "donations"
}
