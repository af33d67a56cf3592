public import Core
public import Foundation

/// What the planner knows besides the row: the processor it belongs to and
/// the run.
public struct PlanContext: Sendable {
    /// The processor's registry name.
    public var processor: String
    /// Its gateway code.
    public var gateway: String
    /// What its adapter can do.
    public var capabilities: Set<ProcessorCapability>
    /// When to ask again after each attempt without a final answer.
    public var attemptSchedule: [Duration]
    /// Ask only; plan no call or write that changes anything.
    public var dryRun: Bool
    /// The time decisions are taken at (next attempts count from it).
    public var now: Date
    /// The processor's rules for an orphan's answer (``PaymentProcessor/orphanStatus(_:)``).
    public var orphanRule: @Sendable (ProcessorStatus) -> ProcessorStatus

    /// A context.
    public init(processor: String, gateway: String, capabilities: Set<ProcessorCapability>, attemptSchedule: [Duration], dryRun: Bool,
                now: Date, orphanRule: @escaping @Sendable (ProcessorStatus) -> ProcessorStatus = { $0 }) {
        self.processor = processor
        self.gateway = gateway
        self.capabilities = capabilities
        self.attemptSchedule = attemptSchedule
        self.dryRun = dryRun
        self.now = now
        self.orphanRule = orphanRule
    }

    /// The context of `adapter`'s rows: its name, gateway, capabilities and orphan rules.
    public init(adapter: any PaymentProcessor.Type, attemptSchedule: [Duration], dryRun: Bool, now: Date) {
        self.init(processor: adapter.name, gateway: adapter.gateway, capabilities: adapter.capabilities,
                  attemptSchedule: attemptSchedule, dryRun: dryRun, now: now, orphanRule: { adapter.orphanStatus($0) })
    }
}

/// The one thing the executor must do next for a row.
public enum RectifierStep: Sendable, Equatable {
    /// Read: is a donation already booked for this payment? Answer ``RectifierEvent/donation(exists:)``.
    case checkDonation
    /// Ask the processor (read-only). Answer a status or a processor error.
    case askStatus
    /// Build the money call's exact request without sending it (no I/O). Answer, in a dry run, the request text
    /// (``PaymentProcessor/preview(_:for:current:)``); in a real run ``RectifierEvent/validated``
    /// (``PaymentProcessor/validate(_:for:current:)``: built, not rendered); or a processor error.
    case preview(ProcessorCapability)
    /// Write the intent in its column and extend the claim, in one statement. Answer ``RectifierEvent/claim(held:)``.
    case recordIntent(PendingIntent)
    /// Extend the claim before a call that changes something at the processor. Answer ``RectifierEvent/claim(held:)``.
    case renewClaim
    /// The call that moves money or changes the payment (finish, create a profile, cancel). Answer a status or a processor error.
    case call(ProcessorCapability)
    /// Write the created profile's id into the row's message. Answer ``RectifierEvent/written``.
    case recordProfile(String)
    /// Nothing left but the final write and the decision log row.
    case done(RowOutcome)
}

/// What the executor learned from the step it just ran.
public enum RectifierEvent: Sendable {
    /// Whether a donation exists for the row's payment.
    case donation(exists: Bool)
    /// The processor's answer.
    case status(ProcessorStatus)
    /// The processor call failed.
    case processorFailed(ProcessorError)
    /// The request a money call would send (a dry run shows it).
    case preview(String)
    /// The money call's request can be built exactly (a real run sends it next).
    case validated
    /// Whether the claim is still this worker's (the intent was recorded only if it is).
    case claim(held: Bool)
    /// A write was made.
    case written
    /// Something else about this row failed (bad data, a statement the database refused).
    case failed(String)
}

/// The final write for a row.
public enum RowWrite: Sendable, Equatable {
    /// Resolve the row.
    case resolve(PendingResolution)
    /// Push `message` to `queue`, then resolve the row as completed.
    case complete(queue: String, message: [String: JSONValue])
    /// Mark the row for a person, with the reason.
    case review(String)
    /// Count an attempt; ask again at `next`.
    case attempt(next: Date)
    /// Write nothing (the claim was lost: another rectifier has the row).
    case nothing

    /// The resolution this write gives the row, if it resolves it.
    public var resolution: PendingResolution? {
        switch self {
        case .resolve(let resolution): return resolution
        case .complete: return .completed
        case .review, .attempt, .nothing: return nil
        }
    }
}

/// A row's outcome: the final write, the decision as logged, and what it
/// adds to the run's counts. In a dry run the same outcome is planned and
/// counted, and nothing is written.
public struct RowOutcome: Sendable, Equatable {
    /// The write to make.
    public var write: RowWrite
    /// The normalized status the decision rests on.
    public var status: String
    /// The evidence.
    public var evidence: String
    /// The processor's answer, masked.
    public var raw: String?
    /// What was done.
    public var action: RectifierAction
    /// How it went (in a dry run: what would be done).
    public var result: String
    /// This row's contribution to the run's counts.
    public var counts: RectifierCounts

    /// An outcome.
    public init(write: RowWrite, status: String, evidence: String, raw: String?, action: RectifierAction, result: String,
                counts: RectifierCounts) {
        self.write = write
        self.status = status
        self.evidence = evidence
        self.raw = raw
        self.action = action
        self.result = result
        self.counts = counts
    }

    /// The outcome when the final write found the claim gone (another
    /// rectifier took the row): nothing is counted but the examination.
    public func claimLost() -> RowOutcome {
        var lost = self
        lost.write = .nothing
        lost.result = "claim lost: not resolved (another rectifier has the row)"
        lost.counts = RectifierCounts()
        lost.counts.examined = 1
        lost.counts.errors = counts.errors
        return lost
    }
}

/// The rectifier's decisions for one row as a pure state machine: a row,
/// its recorded intents, the processor's answers → the calls and writes to
/// make, in order. No I/O; ``Rectifier`` executes the steps.
///
/// Money rules it holds: a row is resolved as failed only on a positive
/// answer; a money call is preceded by its recorded intent, and by a claim
/// still held (a lost claim sends nothing); a request the adapter cannot
/// build exactly (an amount it would round) is never sent; an answer that
/// contradicts a recorded intent (the donor "never finished" a payment we
/// tried to collect) goes to a person.
public struct RowPlanner: Sendable {
    enum Phase: Sendable {
        case start, checkingDonation, askingStatus(duplicate: Bool), previewing(ProcessorCapability)
        case claimingForMoney(ProcessorCapability), calling(ProcessorCapability), recordingProfile(ProcessorStatus)
        case claimingForCancel, cancelling, finished
    }

    /// The row.
    public let row: PendingRecord
    /// The processor and the run.
    public let context: PlanContext
    private var phase = Phase.start
    private var status = "error"
    private var evidence = ""
    private var raw: String?
    private var errors = 0

    /// A planner for `row`.
    public init(row: PendingRecord, context: PlanContext) {
        self.row = row
        self.context = context
    }

    /// The next step, given what the previous one found (nil to start).
    public mutating func next(_ event: RectifierEvent?) -> RectifierStep {
        if let event {
            switch event {
            case .processorFailed(let error): return failed(error)
            case .failed(let why):
                errors += 1
                if case .recordingProfile(let answer) = phase {
                    // The profile exists at the processor; only our record of it is missing: a person books the signup.
                    evidence += "; then its id could not be written: " + why
                    return leave(reviewNow: "created profile \(answer.recurringProfileID ?? "?") at \(context.processor) but could "
                                 + "not record its id (\(why)); book the signup by hand, create no other profile")
                }
                if case .calling(.createRecurringProfile) = phase { return profileCallFailed(why, refused: false) }
                status = "error"
                evidence = why
                return leave(reviewNow: nil)
            default: break
            }
        }
        switch (phase, event) {
        case (.start, _):
            phase = .checkingDonation
            return .checkDonation
        case (.checkingDonation, .donation(let exists)?):
            phase = .askingStatus(duplicate: exists)
            return .askStatus
        case (.askingStatus(let duplicate), .status(let answer)?):
            record(answer)
            return duplicate ? duplicateFound(answer) : decide(answer)
        case (.previewing(let call), .preview(let request)?):
            return previewed(call, request)
        case (.previewing(let call), .validated?) where !context.dryRun:
            // A dry run shows the request: a bare "validated" there falls to "lost track" below.
            return previewed(call, "")
        case (.claimingForMoney(let call), .claim(let held)?):
            guard held else {
                return done(.nothing, action: .leave, "claim lost before \(Self.describe(call)); nothing sent")
            }
            phase = .calling(call)
            return .call(call)
        case (.calling(let call), .status(let answer)?):
            evidence += "; then " + answer.evidence
            raw = answer.raw
            if call == .createRecurringProfile, let profile = answer.recurringProfileID, Self.profileID(row) == nil {
                phase = .recordingProfile(answer)
                return .recordProfile(profile)
            }
            return moneyCallAnswered(call, answer, profile: nil)
        case (.recordingProfile(let answer), .written?):
            return moneyCallAnswered(.createRecurringProfile, answer, profile: answer.recurringProfileID)
        case (.claimingForCancel, .claim(let held)?):
            guard held else {
                return done(.nothing, action: .resolveDuplicate, "claim lost before cancelling; nothing sent")
            }
            phase = .cancelling
            return .call(.cancel)
        case (.cancelling, .status(let answer)?):
            let result = "resolved as duplicate: a completed donation already exists; "
                + "cancelled at \(context.processor) (\(answer.evidence))"
            return done(.resolve(.duplicate), action: .resolveDuplicate, result, count: { $0.duplicates += 1 })
        default:
            errors += 1
            evidence = "the rectifier lost track of this row (\(phase), \(String(describing: event)))"
            return leave(reviewNow: evidence)
        }
    }

    private mutating func record(_ answer: ProcessorStatus) {
        status = answer.status.rawValue
        evidence = answer.evidence
        raw = answer.raw
    }

    /// The processor said something went wrong.
    private mutating func failed(_ error: ProcessorError) -> RectifierStep {
        errors += 1
        if case .previewing(let call) = phase {
            return leave(reviewNow: "the \(call.rawValue) request cannot be sent as it is: \(error.description)")
        }
        if case .calling(let call) = phase {
            if call == .createRecurringProfile { return profileCallFailed(error.description, refused: Self.answeredOutright(error)) }
            evidence += "; then " + error.description
        } else {
            status = "error"
            evidence = error.description
        }
        return leave(reviewNow: error.isRetryable ? nil : error.description)
    }

    /// A donation is already booked: the row is a duplicate; a payment still
    /// open at a processor that can cancel is cancelled first.
    private mutating func duplicateFound(_ answer: ProcessorStatus) -> RectifierStep {
        if context.dryRun {
            return done(.resolve(.duplicate), action: .resolveDuplicate, "would resolve as duplicate (a donation exists)",
                        count: { $0.duplicates += 1 })
        }
        if context.capabilities.contains(.cancel), answer.status == .pending || answer.status == .pendingPoke {
            phase = .claimingForCancel
            return .renewClaim
        }
        return done(.resolve(.duplicate), action: .resolveDuplicate, "resolved as duplicate: a completed donation already exists",
                    count: { $0.duplicates += 1 })
    }

    /// The decision on the processor's first answer.
    private mutating func decide(_ first: ProcessorStatus) -> RectifierStep {
        // The processor's own rules for an orphan (its adapter's orphanStatus).
        let answer = context.orphanRule(first)
        if answer != first { record(answer) }
        let recurring = context.capabilities.contains(.createRecurringProfile)
        if recurring, row.intents.profileRequestedAt != nil, Self.profileID(row) == nil, answer.recurringProfileID == nil {
            // Whatever the checkout now says: a profile may exist that we do not know of (booked as a one-off
            // donation, or created twice, it would be wrong either way).
            return leave(reviewNow: Self.unknownProfile(row, context))
        }
        if answer.status == .timeout, let intent = row.intents.first {
            // A "never finished" after a money call is not evidence (a session token may expire, whatever happened).
            return leave(reviewNow: "\(context.processor) says the donor never finished, but fundq asked to \(Self.describe(intent)) at "
                         + "\(intent.at.formatted(.iso8601)); look the payment up at \(context.processor)")
        }
        switch answer.status {
        case .complete:
            // A profile's own status names it (a row that carries it under another name is still a signup).
            return complete(answer, captured: false, action: .complete, profile: recurring ? answer.recurringProfileID : nil)
        case .pendingPoke:
            return moneyCallNeeded()
        case .failed:
            return resolve(.failed, .resolveFailed)
        case .cancelled:
            return resolve(.cancelled, .resolveCancelled)
        case .timeout:
            return resolve(.timeout, .resolveTimeout)
        default:
            return leave(reviewNow: nil)
        }
    }

    /// Authorized: the payment must be finished (or its profile created).
    private mutating func moneyCallNeeded() -> RectifierStep {
        let recurring = context.capabilities.contains(.createRecurringProfile)
        guard recurring || context.capabilities.contains(.finish) else {
            return leave(reviewNow: "\(context.processor) cannot finish payments; a person must collect this one")
        }
        let call: ProcessorCapability = recurring ? .createRecurringProfile : .finish
        phase = .previewing(call)
        return .preview(call)
    }

    /// The request can be built exactly: show it (dry run) or send it, intent first.
    private mutating func previewed(_ call: ProcessorCapability, _ request: String) -> RectifierStep {
        if context.dryRun {
            return done(.nothing, action: Self.action(call), "would send: " + request.replacingOccurrences(of: "\n", with: " "),
                        count: { $0.completed += 1; $0.captured += 1 })
        }
        phase = .claimingForMoney(call)
        return .recordIntent(call == .finish ? .finish : .createRecurringProfile)
    }

    private mutating func moneyCallAnswered(_ call: ProcessorCapability, _ answer: ProcessorStatus, profile: String?) -> RectifierStep {
        switch answer.status {
        case .complete:
            return complete(answer, captured: !answer.wasAlreadyDone, action: Self.action(call), profile: profile)
        case .failed:
            return resolve(.failed, .resolveFailed)
        default:
            return leave(reviewNow: nil)
        }
    }

    /// The donation (or, for a recurring profile, the signup) to push, then
    /// the row resolved as completed. A crash in between pushes it again
    /// next time, which the donations sink absorbs (unique transaction id).
    private mutating func complete(_ answer: ProcessorStatus, captured: Bool, action: RectifierAction, profile: String?) -> RectifierStep {
        var message = row.message
        if let profile { message["subscr_id"] = .string(profile) }
        message["gateway"] = .string(row.gateway)
        if let order = row.orderID { message["order_id"] = .string(order) }
        message["date"] = message["date"] ?? .number(String(Int(row.date.timeIntervalSince1970)))
        let recurring = context.capabilities.contains(.createRecurringProfile) && message["subscr_id"] != nil
        let queue = recurring ? "recurring" : DonationsQueue.name
        if recurring {
            message["txn_type"] = .string("subscr_signup")
            message["recurring"] = .string("1")
        } else {
            if let txn = answer.transactionID ?? row.gatewayTxnID { message["gateway_txn_id"] = .string(txn) }
            if let fee = answer.fee { message["fee"] = .string(fee) }
            do {
                _ = try DonationMessage(members: message)
            } catch {
                return leave(reviewNow: "complete at \(context.processor) but the donation cannot be booked: \(error)")
            }
        }
        let result = context.dryRun ? "would push to \(queue) and resolve as completed" : "pushed to \(queue), resolved as completed"
        return done(.complete(queue: queue, message: message), action: action, result) {
            $0.completed += 1
            if captured { $0.captured += 1 }
        }
    }

    private mutating func resolve(_ resolution: PendingResolution, _ action: RectifierAction) -> RectifierStep {
        done(.resolve(resolution), action: action, "\(context.dryRun ? "would resolve" : "resolved") as \(resolution.rawValue)",
             count: { $0.failed += 1 })
    }

    /// No positive answer: the next attempt from the processor's schedule,
    /// or review when the schedule is exhausted or `reviewNow` says why a
    /// person must look now.
    private mutating func leave(reviewNow: String?) -> RectifierStep {
        let schedule = context.attemptSchedule
        let exhausted = row.attempts >= schedule.count
        if let reason = reviewNow ?? (exhausted ? "no final answer after \(row.attempts + 1) attempts" : nil) {
            return done(.review(reason), action: .needsReview, "\(context.dryRun ? "would mark" : "marked") for review: \(reason)",
                        count: { $0.needsReview += 1 })
        }
        let next = context.now.addingTimeInterval(schedule[row.attempts].seconds)
        let when = next.formatted(.iso8601)
        let result = context.dryRun ? "would leave it and ask again after \(when)" : "left; next attempt \(when)"
        return done(.attempt(next: next), action: .leave, result, count: { $0.left += 1 })
    }

    private mutating func done(_ write: RowWrite, action: RectifierAction, _ result: String,
                               count: (inout RectifierCounts) -> Void = { _ in }) -> RectifierStep {
        phase = .finished
        var counts = RectifierCounts()
        counts.examined = 1
        counts.errors = errors
        count(&counts)
        return .done(RowOutcome(write: context.dryRun ? .nothing : write, status: status, evidence: evidence, raw: raw, action: action,
                                result: result, counts: counts))
    }

    /// The profile creation gave no profile (`why`): creating one is not
    /// idempotent at the processor, so it is never tried again by itself —
    /// a person looks, told whether the processor `refused` it outright.
    private mutating func profileCallFailed(_ why: String, refused: Bool) -> RectifierStep {
        evidence += "; then " + why
        return leave(reviewNow: refused ? "\(context.processor) refused the profile creation (\(why)); look at it before creating one"
                     : Self.unknownProfile(row, context) + " (\(why))")
    }

    /// Whether the processor answered the call and refused it (an error code,
    /// refused credentials, a 4xx): then nothing was made, unlike after a
    /// timeout, a 5xx or an answer that does not parse.
    static func answeredOutright(_ error: ProcessorError) -> Bool {
        switch error.kind {
        case .processorError, .authentication: return true
        case .httpStatus(let status), .httpError(let status, _): return status < 500
        default: return false
        }
    }

    /// Why a row whose profile creation was started, with no profile id recorded, goes to a person.
    static func unknownProfile(_ row: PendingRecord, _ context: PlanContext) -> String {
        "a profile creation was started earlier and its outcome is unknown; look for the profile referencing order "
            + "\(row.orderID ?? "?") at \(context.processor) before booking the signup or creating one"
    }

    static func profileID(_ row: PendingRecord) -> String? {
        row.message["subscr_id"]?.scalarText.flatMap { $0.isEmpty ? nil : $0 }
    }

    static func action(_ call: ProcessorCapability) -> RectifierAction {
        call == .createRecurringProfile ? .createProfile : .finish
    }

    static func describe(_ call: ProcessorCapability) -> String {
        call == .createRecurringProfile ? "creating the profile" : call == .cancel ? "cancelling" : "finishing"
    }

    static func describe(_ intent: (intent: PendingIntent, at: Date)) -> String {
        intent.intent == .finish ? "finish (capture) it" : "create its recurring profile"
    }
}
