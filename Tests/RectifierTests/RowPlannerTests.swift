import Core
import Foundation
import FundqTestSupport
import Processors
import Rectifier
import Testing

/// The planner alone: every money branch, with no I/O — the test plays the
/// processor and the database by answering each step.
@Suite("Rectifier planner")
struct RowPlannerTests {
    static let now = Date(timeIntervalSince1970: 1_764_600_000)
    static let paypal = PlanContext(processor: "paypal", gateway: "paypal", capabilities: [.status, .finish],
                                    attemptSchedule: [.seconds(600), .seconds(3600)], dryRun: false, now: now)
    static let recurring = PlanContext(processor: "paypal-recurring", gateway: "paypal-recurring",
                                       capabilities: [.status, .createRecurringProfile, .cancel],
                                       attemptSchedule: [.seconds(600)], dryRun: false, now: now)
    static let globalcollect = PlanContext(adapter: GlobalCollect.self, attemptSchedule: [.seconds(600)], dryRun: false, now: now)

    static func row(_ gateway: String = "paypal", gross: String = "10.00", currency: String = "EUR",
                    intents: PendingIntents = PendingIntents(), attempts: Int = 0) -> PendingRecord {
        var r = pendingRecord(gateway: gateway, orderID: "o-1", token: "EC-1", gross: gross, currency: currency)
        r.intents = intents
        r.attempts = attempts
        return r
    }

    static func status(_ s: NormalizedStatus, _ evidence: String = "evidence", details: [String: String] = ["PAYERID": "P"],
                       transactionID: String? = nil) -> ProcessorStatus {
        ProcessorStatus(status: s, evidence: evidence, raw: "raw", transactionID: transactionID, details: details)
    }

    /// Drives a planner to its outcome; `answer` plays the world. Returns every step taken and the outcome.
    static func drive(_ row: PendingRecord, _ context: PlanContext,
                      _ answer: (RectifierStep) -> RectifierEvent) -> (steps: [RectifierStep], outcome: RowOutcome) {
        var planner = RowPlanner(row: row, context: context)
        var steps: [RectifierStep] = []
        var event: RectifierEvent?
        for _ in 0..<20 {
            let step = planner.next(event)
            if case .done(let outcome) = step { return (steps, outcome) }
            steps.append(step)
            event = answer(step)
        }
        Issue.record("the planner never finished: \(steps)")
        let none = RowOutcome(write: .nothing, status: "", evidence: "", raw: nil, action: .leave, result: "", counts: RectifierCounts())
        return (steps, none)
    }

    /// A world with no donation booked, where the processor first says `first` and any money call answers `then`.
    static func world(_ first: ProcessorStatus, then: RectifierEvent? = nil, claimHeld: Bool = true,
                      donation: Bool = false) -> (RectifierStep) -> RectifierEvent {
        { step in
            switch step {
            case .checkDonation: return .donation(exists: donation)
            case .askStatus: return .status(first)
            case .preview: return .preview("POST https://paypal.example/nvp\nMETHOD=DoExpressCheckoutPayment")
            case .recordIntent, .renewClaim: return .claim(held: claimHeld)
            case .call: return then ?? .status(status(.complete, transactionID: "TX"))
            case .recordProfile: return .written
            case .done: return .failed("done")
            }
        }
    }

    static func sendsMoney(_ steps: [RectifierStep]) -> Bool {
        steps.contains { if case .call = $0 { return true } else { return false } }
    }

    @Test func anExpiredTokenAfterACaptureAttemptGoesToReviewNotTimeout() {
        // PayPal 10411: the token expired — three hours after checkout, whatever happened to the money.
        let expired = Self.status(.timeout, "L_ERRORCODE0=10411 (the checkout token expired)", details: [:])
        let tried = Self.row(intents: PendingIntents(finishRequestedAt: Self.now.addingTimeInterval(-4000)))
        let (steps, outcome) = Self.drive(tried, Self.paypal, Self.world(expired))
        guard case .review(let reason) = outcome.write else { Issue.record("\(outcome.write)"); return }
        #expect(reason.contains("fundq asked to finish (capture) it"))
        #expect(outcome.action == .needsReview && outcome.counts.needsReview == 1 && outcome.counts.failed == 0)
        #expect(!Self.sendsMoney(steps))
        // The same answer with no capture ever tried is a positive "never paid".
        let untouched = Self.drive(Self.row(), Self.paypal, Self.world(expired)).outcome
        #expect(untouched.write == .resolve(.timeout))
        #expect(untouched.counts.failed == 1)
    }

    @Test func aProfileCreationOfUnknownOutcomeGoesToReviewAndNothingIsCreated() {
        let started = Self.row("paypal-recurring", intents: PendingIntents(profileRequestedAt: Self.now.addingTimeInterval(-600)))
        let (steps, outcome) = Self.drive(started, Self.recurring, Self.world(Self.status(.pendingPoke)))
        guard case .review(let reason) = outcome.write else { Issue.record("\(outcome.write)"); return }
        #expect(reason.contains("outcome is unknown") && reason.contains("the profile referencing order o-1 at paypal-recurring"))
        #expect(steps == [.checkDonation, .askStatus], "no preview, no intent, no call: \(steps)")
        // With no earlier attempt: preview, intent, then the call, then the profile id written before the signup is pushed.
        let created = Self.status(.complete, details: [ProcessorStatus.recurringProfile: "I-1"])
        let fresh = Self.drive(Self.row("paypal-recurring"), Self.recurring, Self.world(Self.status(.pendingPoke), then: .status(created)))
        #expect(fresh.steps == [.checkDonation, .askStatus, .preview(.createRecurringProfile), .recordIntent(.createRecurringProfile),
                                .call(.createRecurringProfile), .recordProfile("I-1")])
        guard case .complete(let queue, let message) = fresh.outcome.write else { Issue.record("\(fresh.outcome.write)"); return }
        #expect(queue == "recurring" && message["subscr_id"] == .string("I-1") && message["txn_type"] == .string("subscr_signup"))
    }

    /// A profile creation started earlier with no profile id recorded (a
    /// crash after the call, a refused write): whatever the checkout now
    /// says — PayPal reads a token with a profile made from it as completed —
    /// a person looks; it is never booked as a one-off donation.
    @Test(arguments: [NormalizedStatus.complete, .failed, .cancelled, .pending, .timeout])
    func aStartedProfileWithNoIdGoesToReviewWhateverTheCheckoutSays(answer: NormalizedStatus) {
        let started = Self.row("paypal-recurring", intents: PendingIntents(profileRequestedAt: Self.now.addingTimeInterval(-600)))
        let (steps, outcome) = Self.drive(started, Self.recurring, Self.world(Self.status(answer, transactionID: "TX")))
        guard case .review(let reason) = outcome.write else { Issue.record("\(answer): \(outcome.write)"); return }
        #expect(reason.contains("outcome is unknown"), "\(reason)")
        #expect(steps == [.checkDonation, .askStatus], "\(steps)")
        // Its own profile's status names the profile: then it is the signup, booked to `recurring`.
        guard answer == .complete else { return }
        let named = Self.status(.complete, details: [ProcessorStatus.recurringProfile: "I-9"])
        let signup = Self.drive(started, Self.recurring, Self.world(named)).outcome
        guard case .complete(let queue, let message) = signup.write else { Issue.record("\(signup.write)"); return }
        #expect(queue == "recurring" && message["subscr_id"] == .string("I-9"))
    }

    /// The profile creation's outcome is unknown (the call timed out) or its
    /// id could not be recorded: to a person now, the created profile named
    /// in the evidence — not another attempt that could create a second one.
    @Test func aProfileCreationThatTimesOutOrIsNotRecordedGoesToReviewNow() {
        let slow = ProcessorError(.transport(.timedOut), processor: "paypal-recurring", action: "CreateRecurringPaymentsProfile")
        #expect(slow.isRetryable)
        let timedOut = Self.drive(Self.row("paypal-recurring"), Self.recurring,
                                  Self.world(Self.status(.pendingPoke), then: .processorFailed(slow))).outcome
        guard case .review(let reason) = timedOut.write else { Issue.record("\(timedOut.write)"); return }
        #expect(reason.contains("outcome is unknown") && reason.contains("in time"), "\(reason)")
        let refusal = ProcessorError(.processorError(code: "11581", message: "Invalid amount"), processor: "paypal-recurring",
                                     action: "CreateRecurringPaymentsProfile")
        let refused = Self.drive(Self.row("paypal-recurring"), Self.recurring,
                                 Self.world(Self.status(.pendingPoke), then: .processorFailed(refusal))).outcome
        guard case .review(let refusedReason) = refused.write else { Issue.record("\(refused.write)"); return }
        #expect(refusedReason.contains("refused the profile creation") && refusedReason.contains("11581"), "\(refusedReason)")
        let created = Self.status(.complete, "created profile I-7", details: [ProcessorStatus.recurringProfile: "I-7"])
        let notRecorded: (RectifierStep) -> RectifierEvent = { step in
            step == .recordProfile("I-7") ? .failed("refused") : Self.world(Self.status(.pendingPoke), then: .status(created))(step)
        }
        let unrecorded = Self.drive(Self.row("paypal-recurring"), Self.recurring, notRecorded).outcome
        guard case .review(let why) = unrecorded.write else { Issue.record("\(unrecorded.write)"); return }
        #expect(why.contains("created profile I-7") && why.contains("refused"), "\(why)")
        #expect(unrecorded.evidence.contains("created profile I-7"), "\(unrecorded.evidence)")
    }

    @Test func aLostClaimSendsNothing() {
        let (steps, outcome) = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pendingPoke), claimHeld: false))
        #expect(steps == [.checkDonation, .askStatus, .preview(.finish), .recordIntent(.finish)])
        #expect(outcome.write == .nothing)
        #expect(outcome.result == "claim lost before finishing; nothing sent")
        #expect(outcome.counts.completed == 0 && outcome.counts.captured == 0)
        // A duplicate's cancel too.
        let dup = Self.drive(Self.row("globalcollect"), Self.globalcollect,
                             Self.world(Self.status(.pendingPoke), claimHeld: false, donation: true))
        #expect(!Self.sendsMoney(dup.steps))
        #expect(dup.outcome.write == .nothing)
    }

    @Test func theIntentIsRecordedBeforeTheCaptureAndACaptureIsCountedOnce() {
        let (steps, outcome) = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pendingPoke)))
        #expect(steps == [.checkDonation, .askStatus, .preview(.finish), .recordIntent(.finish), .call(.finish)])
        guard case .complete(let queue, let message) = outcome.write else { Issue.record("\(outcome.write)"); return }
        #expect(queue == "donations" && message["gateway_txn_id"] == .string("TX"))
        #expect(outcome.action == .finish && outcome.counts.completed == 1 && outcome.counts.captured == 1)
    }

    @Test func payPal10415IsAlreadyPaidNotPaidAgainNorCountedAsCaptured() {
        let already = Self.status(.complete, "L_ERRORCODE=10415 (already completed for this token: already paid, not paid again)",
                                  details: ["PAYERID": "P", ProcessorStatus.alreadyDone: "10415"], transactionID: "TX-OLD")
        let (steps, outcome) = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pendingPoke), then: .status(already)))
        #expect(steps.filter { $0 == .call(.finish) }.count == 1)
        guard case .complete(_, let message) = outcome.write else { Issue.record("\(outcome.write)"); return }
        #expect(message["gateway_txn_id"] == .string("TX-OLD"))
        #expect(outcome.counts.completed == 1 && outcome.counts.captured == 0)
        #expect(outcome.evidence.contains("then L_ERRORCODE=10415"))
    }

    @Test func payPal10486IsAPositiveFailure() {
        let funding = Self.status(.failed, "L_ERRORCODE=10486 (the donor's funding failed; they would have to go back to PayPal)")
        let outcome = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pendingPoke), then: .status(funding))).outcome
        #expect(outcome.write == .resolve(.failed))
        #expect(outcome.action == .resolveFailed && outcome.counts.failed == 1 && outcome.counts.captured == 0)
    }

    @Test(arguments: [("1000.50", "JPY"), ("10.50", "HUF"), ("10.125", "EUR"), ("3.001", "USD")])
    func amountsPayPalWouldRoundAreNeverSent(gross: String, currency: String) throws {
        // The adapter's own request builder (no network: a real run only builds the request) refuses; the planner sends
        // nothing and asks a person. A dry run's preview refuses it too.
        let adapter = try Processors.make("paypal", directory: RepositoryPaths.processors, environment: Self.offlineEnvironment)
        let row = Self.row(gross: gross, currency: currency)
        let approved = Self.status(.pendingPoke)
        #expect(throws: ProcessorError.self) { try adapter.preview(.finish, for: row, current: approved) }
        let (steps, outcome) = Self.drive(row, Self.paypal) { step in
            if case .preview(let call) = step {
                do {
                    try adapter.validate(call, for: row, current: approved)
                    return .validated
                } catch let e as ProcessorError {
                    return .processorFailed(e)
                } catch { return .failed("\(error)") }
            }
            return Self.world(approved)(step)
        }
        #expect(!Self.sendsMoney(steps) && !steps.contains(.recordIntent(.finish)), "\(steps)")
        guard case .review(let reason) = outcome.write else { Issue.record("\(gross) \(currency): \(outcome.write)"); return }
        #expect(reason.contains("cannot take without rounding"), "\(reason)")
    }

    @Test func amountsPayPalTakesExactlyAreSent() throws {
        let adapter = try Processors.make("paypal", directory: RepositoryPaths.processors, environment: Self.offlineEnvironment)
        for (gross, currency) in [("1000", "JPY"), ("1000.00", "HUF"), ("10.10", "EUR")] {
            let row = Self.row(gross: gross, currency: currency)
            let approved = Self.status(.pendingPoke)
            var request = ""
            let (steps, _) = Self.drive(row, Self.paypal) { step in
                if case .preview(let call) = step, let text = try? adapter.preview(call, for: row, current: approved) {
                    request = text
                    return .preview(text)
                }
                return Self.world(approved)(step)
            }
            #expect(steps.contains(.call(.finish)), "\(gross) \(currency): \(steps)")
            #expect(request.contains("PAYMENTREQUEST_0_CURRENCYCODE=\(currency)"))
        }
    }

    @Test func aCaptureOfAnotherAmountGoesToReview() {
        let short = ProcessorError(.ambiguous("PayPal captured 1.00 where 10.00 was asked (transaction TX); book it by hand"),
                                   processor: "paypal", action: "DoExpressCheckoutPayment for EC-1")
        let outcome = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pendingPoke), then: .processorFailed(short))).outcome
        guard case .review(let reason) = outcome.write else { Issue.record("\(outcome.write)"); return }
        #expect(reason.contains("PayPal captured 1.00 where 10.00 was asked"))
        #expect(outcome.counts.completed == 0 && outcome.counts.errors == 1 && outcome.counts.needsReview == 1)
    }

    @Test func theProcessorsOrphanRuleDecidesNotTheRectifier() {
        // GlobalCollect's adapter declares STATUSID 0–70 on an orphan as "never finished"; 300 stays pending.
        let abandoned = Self.drive(Self.row("globalcollect"), Self.globalcollect,
                                   Self.world(Self.status(.pending, "STATUSID=20 (pending)", details: ["STATUSID": "20"])))
        #expect(abandoned.outcome.write == .resolve(.timeout))
        #expect(abandoned.outcome.evidence.contains("an orphan at 0–70 never finished"))
        let waiting = Self.drive(Self.row("globalcollect"), Self.globalcollect,
                                 Self.world(Self.status(.pending, "STATUSID=300 (pending)", details: ["STATUSID": "300"])))
        #expect(waiting.outcome.write != .resolve(.timeout))
        // The same answer from a processor without that rule is left pending.
        let other = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pending, "STATUSID=20", details: ["STATUSID": "20"])))
        #expect(other.outcome.write != .resolve(.timeout))
    }

    @Test func anExistingDonationMakesADuplicateAndAnOpenPaymentIsCancelledFirst() {
        let cancelled = RectifierEvent.status(Self.status(.cancelled, "STATUSID=99999"))
        let (steps, outcome) = Self.drive(Self.row("globalcollect"), Self.globalcollect,
                                          Self.world(Self.status(.pendingPoke), then: cancelled, donation: true))
        #expect(steps == [.checkDonation, .askStatus, .renewClaim, .call(.cancel)])
        #expect(outcome.write == .resolve(.duplicate))
        #expect(outcome.result.contains("cancelled at globalcollect (STATUSID=99999)"))
        #expect(outcome.counts.duplicates == 1)
        // A processor that cannot cancel, or a payment already complete: resolved as duplicate, nothing sent.
        let paypal = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(.pendingPoke), donation: true))
        #expect(paypal.steps == [.checkDonation, .askStatus])
        #expect(paypal.outcome.write == .resolve(.duplicate))
        let done = Self.drive(Self.row("globalcollect"), Self.globalcollect, Self.world(Self.status(.complete), donation: true))
        #expect(!Self.sendsMoney(done.steps) && done.outcome.write == .resolve(.duplicate))
    }

    @Test func failedOnlyOnAPositiveAnswer() {
        for answer in [NormalizedStatus.pending, .unknown, .onHold, .revised] {
            let outcome = Self.drive(Self.row(), Self.paypal, Self.world(Self.status(answer))).outcome
            #expect(outcome.write == .attempt(next: Self.now.addingTimeInterval(600)), "\(answer)")
            #expect(outcome.counts.left == 1 && outcome.counts.failed == 0)
        }
        let down = ProcessorError(.httpStatus(503), processor: "paypal", action: "GetExpressCheckoutDetails")
        let left = Self.drive(Self.row(), Self.paypal) { $0 == .checkDonation ? .donation(exists: false) : .processorFailed(down) }.outcome
        #expect(left.write == .attempt(next: Self.now.addingTimeInterval(600)) && left.counts.errors == 1 && left.status == "error")
        // The schedule exhausted: a person looks.
        let last = Self.drive(Self.row(attempts: 2), Self.paypal, Self.world(Self.status(.pending))).outcome
        #expect(last.write == .review("no final answer after 3 attempts"))
    }

    /// A real run's request is validated, not shown: "validated" moves it to
    /// the intent. A dry run must show the request: a bare "validated" there
    /// is a mix-up, sent to a person, never printed as an empty request.
    @Test func aValidatedRequestGoesOnToTheIntentInARealRunOnly() {
        let validated: (RectifierStep) -> RectifierEvent = { step in
            step == .preview(.finish) ? .validated : Self.world(Self.status(.pendingPoke))(step)
        }
        let real = Self.drive(Self.row(), Self.paypal, validated)
        #expect(real.steps.contains(.recordIntent(.finish)) && Self.sendsMoney(real.steps), "\(real.steps)")
        var dry = Self.paypal
        dry.dryRun = true
        let mixedUp = Self.drive(Self.row(), dry, validated).outcome
        #expect(mixedUp.write == .nothing && mixedUp.action == .needsReview, "\(mixedUp)")
        #expect(mixedUp.evidence.contains("lost track") && !mixedUp.result.contains("would send"), "\(mixedUp)")
    }

    @Test func aDryRunPlansAndCountsLikeARealRunAndWritesNothing() {
        var dry = Self.paypal
        dry.dryRun = true
        let down = ProcessorError(.httpStatus(503), processor: "paypal", action: "GetExpressCheckoutDetails")
        let answers: [RectifierEvent] = [.status(Self.status(.complete)), .status(Self.status(.pendingPoke)), .status(Self.status(.failed)),
                                         .status(Self.status(.timeout)), .status(Self.status(.pending)), .processorFailed(down)]
        for first in answers {
            let world: (RectifierStep) -> RectifierEvent = { step in
                step == .askStatus ? first : Self.world(Self.status(.pendingPoke))(step)
            }
            let real = Self.drive(Self.row(), Self.paypal, world)
            let would = Self.drive(Self.row(), dry, world)
            #expect(would.outcome.counts == real.outcome.counts, "\(first)")
            #expect(would.outcome.action == real.outcome.action, "\(first)")
            #expect(would.outcome.write == .nothing)
            #expect(!Self.sendsMoney(would.steps) && !would.steps.contains { if case .recordIntent = $0 { true } else { false } })
        }
    }

    /// Credentials and an endpoint nothing listens on: enough to build requests, never to send one.
    static let offlineEnvironment = [
        "FUNDQ_PAYPAL_ENDPOINT": "http://127.0.0.1:9/nvp", "FUNDQ_PAYPAL_USER": "u", "FUNDQ_PAYPAL_PASSWORD": "offline-password",
        "FUNDQ_PAYPAL_SIGNATURE": "offline-signature",
    ]
}
