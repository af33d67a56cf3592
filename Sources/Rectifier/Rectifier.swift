public import Core
public import Foundation
public import Logging

/// How one rectifier run behaves.
public struct RectifierOptions: Sendable {
    /// Ask only (read-only status calls), change nothing anywhere.
    public var dryRun: Bool
    /// Stop after examining this many rows.
    public var limit: Int?
    /// Stop after this long.
    public var timeLimit: Duration?
    /// Rows fetched per processor per turn (processors take turns).
    public var batchSize: Int
    /// How long a claimed row is this run's alone.
    public var lease: Duration
    /// Consecutive transport failures after which a processor is skipped
    /// (circuit open) until `breakerCooldown` has passed.
    public var breakerThreshold: Int
    /// How long an open circuit stays open before one probe is let through.
    public var breakerCooldown: Duration
    /// Longest one processor's turn lasts before the next processor's turn
    /// (a slow processor never starves the others; its cursor keeps its place).
    public var turnBudget: Duration

    /// Options; the defaults suit the daemon.
    public init(dryRun: Bool = false, limit: Int? = nil, timeLimit: Duration? = nil, batchSize: Int = 50, lease: Duration = .seconds(300),
                breakerThreshold: Int = 5, breakerCooldown: Duration = .seconds(60), turnBudget: Duration = .seconds(5)) {
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
    /// Rows another rectifier held.
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

    /// An empty report.
    public init() {}

    /// The counts over every processor.
    public var total: RectifierCounts {
        counts.values.reduce(into: RectifierCounts()) { $0.add($1) }
    }

    /// Adds another run's decisions and counts to this report.
    public mutating func add(_ other: RectifierReport) {
        decisions += other.decisions
        for (name, c) in other.counts { counts[name, default: RectifierCounts()].add(c) }
    }
}

/// The orphan rectifier: for every processor, finds stale pending rows,
/// asks the processor what became of each, and finishes, resolves or
/// leaves it — never guessing: a row is resolved as failed only on a
/// positive answer, and every decision is logged with its evidence.
///
/// Not `Sendable`: it owns its connections and adapters; run several
/// rectifiers (threads or processes, on any machines) for concurrency —
/// each row is claimed with a lease before any processor call, so no two
/// ever work on the same row.
public final class Rectifier {
    let storage: Storage
    let pending: PendingStore
    let donations: DonationsStore
    let log: DecisionLog
    let processors: [any PaymentProcessor]
    /// This run's id (also the claim owner).
    public let runID: String
    var logger: Logger
    private var breakers: [String: (failures: Int, openUntil: ContinuousClock.Instant?)] = [:]
    private let clock = ContinuousClock()

    /// A rectifier over `storage` with one adapter per processor.
    public init(storage: Storage, processors: [any PaymentProcessor], runID: String = "r-\(UUID().uuidString.prefix(8).lowercased())",
                logger: Logger = Logger(label: "fundq.rectifier")) {
        self.storage = storage
        pending = PendingStore(connection: storage.database)
        donations = DonationsStore(connection: storage.database)
        log = DecisionLog(connection: storage.database)
        self.processors = processors
        self.runID = runID
        self.logger = logger
    }

    /// One run: processors take turns, a batch each, until every
    /// processor's due rows are done, the limit or time limit is reached, or
    /// `shouldStop` says so (the row in hand is finished first).
    public func run(_ options: RectifierOptions, shouldStop: () -> Bool = { false }) throws -> RectifierReport {
        var report = RectifierReport()
        let start = clock.now
        var cursors: [String: (date: Date, id: Int64)] = [:]
        var exhausted = Set<String>()
        var examined = 0
        func over() -> Bool {
            shouldStop() || options.limit.map { examined >= $0 } ?? false || options.timeLimit.map { clock.now - start >= $0 } ?? false
        }
        while exhausted.count < processors.count && !over() {
            for processor in processors {
                let type = type(of: processor)
                guard !exhausted.contains(type.name), !over() else { continue }
                if let open = breakers[type.name]?.openUntil, clock.now < open {
                    exhausted.insert(type.name)  // skipped this run; its rows stay for later
                    logger.warning("circuit open: not asking \(type.name) until it recovers", metadata: ["processor": "\(type.name)"])
                    continue
                }
                let now = Date()
                let config = processor.configuration
                let due = try pending.due(gateway: type.gateway, olderThan: now.addingTimeInterval(-config.minimumAge.seconds),
                                          newerThan: now.addingTimeInterval(-config.maximumAge.seconds), now: now,
                                          after: cursors[type.name], limit: options.batchSize)
                if due.count < options.batchSize { exhausted.insert(type.name) }
                let turnStarted = clock.now
                for row in due {
                    if over() { break }
                    if clock.now - turnStarted >= options.turnBudget {
                        exhausted.remove(type.name)  // its turn is over, not its rows: back after the others
                        break
                    }
                    cursors[type.name] = (row.date, row.id)
                    examined += 1
                    var counts = report.counts[type.name, default: RectifierCounts()]
                    if let decision = try rectify(row, with: processor, options: options, counts: &counts) {
                        report.decisions.append(decision)
                    }
                    report.counts[type.name] = counts
                    if breakers[type.name]?.openUntil != nil { break }
                }
            }
        }
        return report
    }

    /// Handles one row; returns the decision (nil when another rectifier held it).
    func rectify(_ row: PendingRecord, with processor: any PaymentProcessor, options: RectifierOptions,
                 counts: inout RectifierCounts) throws -> RectifierDecision? {
        let type = type(of: processor)
        var row = row
        if !options.dryRun {
            guard try pending.claim(id: row.id, worker: runID, lease: options.lease) else {
                counts.skipped += 1
                return nil
            }
            // Work on the row as it is now, not as it was when the batch was read.
            guard let fresh = try pending.fetch(id: row.id), fresh.resolution == nil else {
                try pending.release(id: row.id, worker: runID)
                counts.skipped += 1
                return nil
            }
            row = fresh
        }
        counts.examined += 1
        var decision = RectifierDecision(time: Date(), runID: runID, processor: type.name, gateway: row.gateway, orderID: row.orderID,
                                         pendingID: row.id, status: "error", evidence: "", raw: nil, action: .leave, result: "")
        decision.startedAt = row.date
        do {
            try decide(row, processor: processor, options: options, decision: &decision, counts: &counts)
            noteSuccess(type.name)
        } catch let error as ProcessorError {
            counts.errors += 1
            decision.status = "error"
            decision.evidence = error.description
            if case .transport = error.kind { noteFailure(type.name, options) }
            if case .httpStatus(let code) = error.kind, code >= 500 { noteFailure(type.name, options) }
            try leave(row, decision: &decision, counts: &counts, options: options, reviewNow: !error.isRetryable ? error.description : nil)
        } catch let error where !Rectifier.isOutage(error) {
            // Anything else about this row (bad data, a refused statement): record it and move on.
            counts.errors += 1
            decision.status = "error"
            decision.evidence = "\(error)"
            try leave(row, decision: &decision, counts: &counts, options: options, reviewNow: nil)
        }
        if !options.dryRun { try log.record(decision) }
        logger.info("decision", metadata: [
            "run": "\(runID)", "processor": "\(type.name)", "order_id": "\(row.orderID ?? "-")", "status": "\(decision.status)",
            "evidence": "\(decision.evidence)", "action": "\(decision.action.rawValue)", "result": "\(decision.result)",
            "dry_run": "\(options.dryRun)",
        ])
        return decision
    }

    /// Whether `error` means the stores are unreachable (the run stops; the
    /// claims expire and a later run takes the rows again).
    static func isOutage(_ error: any Error) -> Bool {
        switch error {
        case let e as MariaDBError: return e.isConnectionFailure || e.isTransient
        case let e as SQLiteError: return e.isTransient
        case let e as RedisError: return e.isConnectionFailure
        default: return false
        }
    }

    /// Keeps the claim for the money call ahead; `false` when it was lost.
    func stillMine(_ row: PendingRecord, _ options: RectifierOptions) throws -> Bool {
        try pending.renewClaim(id: row.id, worker: runID, lease: options.lease)
    }

    private func noteSuccess(_ name: String) { breakers[name] = (0, nil) }

    private func noteFailure(_ name: String, _ options: RectifierOptions) {
        var state = breakers[name] ?? (0, nil)
        state.failures += 1
        if state.failures >= options.breakerThreshold {
            state.openUntil = clock.now + options.breakerCooldown
            logger.error("circuit opened for \(name) after \(state.failures) consecutive transport failures")
        }
        breakers[name] = state
    }

    /// The decision itself.
    func decide(_ row: PendingRecord, processor: any PaymentProcessor, options: RectifierOptions,
                decision: inout RectifierDecision, counts: inout RectifierCounts) throws {
        let type = type(of: processor)
        // A donation already booked for this payment: a duplicate row.
        if try donations.exists(gateway: row.gateway, orderID: row.orderID, gatewayTxnID: row.gatewayTxnID) {
            let status = try processor.status(of: row)
            record(status, into: &decision)
            decision.action = .resolveDuplicate
            if options.dryRun {
                decision.result = "would resolve as duplicate (a donation exists)"
                return
            }
            var result = "resolved as duplicate: a completed donation already exists"
            if type.capabilities.contains(.cancel), status.status == .pending || status.status == .pendingPoke, try stillMine(row, options) {
                let cancelled = try processor.cancel(row)
                result += "; cancelled at \(type.name) (\(cancelled.evidence))"
            }
            try pending.resolve(id: row.id, as: .duplicate, worker: runID)
            decision.result = result
            counts.duplicates += 1
            return
        }
        var status = try processor.status(of: row)
        // GlobalCollect, orphans only: STATUSID 0–70 means the donor never finished.
        if type.gateway == "globalcollect", status.status == .pending, let id = status.details["STATUSID"].flatMap(Int.init), (0...70).contains(id) {
            status.status = .timeout
            status.evidence += "; an orphan at 0–70 never finished"
        }
        record(status, into: &decision)
        switch status.status {
        case .complete:
            try complete(row, status: status, processor: processor, captured: false, options: options, decision: &decision, counts: &counts)
        case .pendingPoke:
            let recurring = type.capabilities.contains(.createRecurringProfile)
            decision.action = recurring ? .createProfile : .finish
            guard recurring || type.capabilities.contains(.finish) else {
                return try leave(row, decision: &decision, counts: &counts, options: options,
                                 reviewNow: "\(type.name) cannot finish payments; a person must collect this one")
            }
            if options.dryRun {
                let request = try processor.preview(recurring ? .createRecurringProfile : .finish, for: row, current: status)
                decision.result = "would send: " + request.replacingOccurrences(of: "\n", with: " ")
                return
            }
            var current = row
            if recurring, current.message["subscr_id"] == nil, current.message["recurring_profile_requested_at"] != nil {
                return try leave(row, decision: &decision, counts: &counts, options: options,
                                 reviewNow: "a profile creation was started earlier and its outcome is unknown; look for PROFILEREFERENCE=\(row.orderID ?? "?") at PayPal before creating one")
            }
            guard try stillMine(row, options) else {
                decision.action = .leave
                decision.result = "claim lost before \(recurring ? "creating the profile" : "finishing"); nothing sent"
                return
            }
            // Record the intent first: evidence that money may have moved, whatever happens next.
            current.message[recurring ? "recurring_profile_requested_at" : "finish_requested_at"] = .number(String(Int(Date().timeIntervalSince1970)))
            try pending.updateMessage(id: row.id, message: current.message)
            let finished = try processor.finish(current, current: status)
            if recurring, let profile = finished.details["PROFILEID"] {
                current.message["subscr_id"] = .string(profile)
                try pending.updateMessage(id: row.id, message: current.message)
            }
            decision.evidence += "; then " + finished.evidence
            decision.raw = finished.raw
            switch finished.status {
            case .complete:
                try complete(current, status: finished, processor: processor, captured: !finished.wasAlreadyDone, options: options,
                             decision: &decision, counts: &counts)
                decision.action = recurring ? .createProfile : .finish
            case .failed:
                try resolve(row, .failed, action: .resolveFailed, decision: &decision, counts: &counts)
            default:
                try leave(row, decision: &decision, counts: &counts, options: options, reviewNow: nil)
            }
        case .failed:
            try resolve(row, .failed, action: .resolveFailed, decision: &decision, counts: &counts, dryRun: options.dryRun)
        case .cancelled:
            try resolve(row, .cancelled, action: .resolveCancelled, decision: &decision, counts: &counts, dryRun: options.dryRun)
        case .timeout:
            try resolve(row, .timeout, action: .resolveTimeout, decision: &decision, counts: &counts, dryRun: options.dryRun)
        default:
            try leave(row, decision: &decision, counts: &counts, options: options, reviewNow: nil)
        }
    }

    private func record(_ status: ProcessorStatus, into decision: inout RectifierDecision) {
        decision.status = status.status.rawValue
        decision.evidence = status.evidence
        decision.raw = status.raw
    }

    /// Pushes the donation (or, for a recurring profile, the signup), then
    /// resolves the row as completed. A crash in between pushes it again next
    /// time, which the donations sink absorbs (unique transaction id).
    func complete(_ row: PendingRecord, status: ProcessorStatus, processor: any PaymentProcessor, captured: Bool, options: RectifierOptions,
                  decision: inout RectifierDecision, counts: inout RectifierCounts) throws {
        decision.action = .complete
        var message = row.message
        message["gateway"] = .string(row.gateway)
        if let order = row.orderID { message["order_id"] = .string(order) }
        message["date"] = message["date"] ?? .number(String(Int(row.date.timeIntervalSince1970)))
        let recurring = type(of: processor).capabilities.contains(.createRecurringProfile) && message["subscr_id"] != nil
        let queue = recurring ? "recurring" : DonationsQueue.name
        if recurring {
            message["txn_type"] = .string("subscr_signup")
            message["recurring"] = .string("1")
        } else {
            if let txn = status.transactionID ?? row.gatewayTxnID { message["gateway_txn_id"] = .string(txn) }
            if let fee = status.fee { message["fee"] = .string(fee) }
            do {
                _ = try DonationMessage(members: message)
            } catch {
                return try leave(row, decision: &decision, counts: &counts, options: options,
                                 reviewNow: "complete at \(type(of: processor).name) but the donation cannot be booked: \(error)")
            }
        }
        if options.dryRun {
            decision.result = "would push to \(queue) and resolve as completed"
            return
        }
        let producer = QueueProducer(queue: storage.queue, envelope: MessageEnvelope(sourceName: "fundq-rectifier", sourceType: "rectifier"))
        try producer.push(Array(JSONValue.object(message).serialized().utf8), to: queue)
        try pending.resolve(id: row.id, as: .completed, worker: runID)
        decision.result = "pushed to \(queue), resolved as completed"
        counts.completed += 1
        if captured { counts.captured += 1 }
    }

    func resolve(_ row: PendingRecord, _ resolution: PendingResolution, action: RectifierAction, decision: inout RectifierDecision,
                 counts: inout RectifierCounts, dryRun: Bool = false) throws {
        decision.action = action
        if dryRun {
            decision.result = "would resolve as \(resolution.rawValue)"
            return
        }
        guard try pending.resolve(id: row.id, as: resolution, worker: runID) else {
            decision.result = "claim lost: not resolved (another rectifier has the row)"
            return
        }
        decision.result = "resolved as \(resolution.rawValue)"
        counts.failed += 1
    }

    /// No positive answer: schedule the next attempt from the processor's
    /// schedule, or mark the row for review when the schedule is exhausted
    /// (or `reviewNow` says why a person must look now).
    func leave(_ row: PendingRecord, decision: inout RectifierDecision, counts: inout RectifierCounts, options: RectifierOptions,
               reviewNow: String?) throws {
        let schedule = processors.first { type(of: $0).gateway == row.gateway }?.configuration.attemptSchedule ?? []
        let exhausted = row.attempts >= schedule.count
        if let reason = reviewNow ?? (exhausted ? "no final answer after \(row.attempts + 1) attempts" : nil) {
            decision.action = .needsReview
            if options.dryRun {
                decision.result = "would mark for review: \(reason)"
                return
            }
            try pending.markNeedsReview(id: row.id, reason: reason, worker: runID)
            decision.result = "marked for review: \(reason)"
            counts.needsReview += 1
            return
        }
        decision.action = .leave
        let next = Date().addingTimeInterval(schedule[row.attempts].seconds)
        if options.dryRun {
            decision.result = "would leave it and ask again after \(next.formatted(.iso8601))"
            return
        }
        try pending.recordAttempt(id: row.id, nextAttempt: next, worker: runID)
        decision.result = "left; next attempt \(next.formatted(.iso8601))"
        counts.left += 1
    }
}

/// The queue completed donations go to.
public enum DonationsQueue {
    /// `donations`.
    public static let name = "donations"
}
