import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// The row each processor's tests use for a scripted id: the id in the
/// field the processor names payments by.
func row(_ processor: String, _ id: String) -> PendingRecord {
    pendingRecord(processor: processor, id: id)
}

/// The `FUNDQ_NAME_` prefix of a processor's overrides.
func prefix(_ name: String) -> String {
    "FUNDQ_" + name.uppercased().replacingOccurrences(of: "-", with: "_") + "_"
}

/// The shared conformance suite: every registered processor, against its
/// registered simulator over real HTTP, each with the outcomes it plays.
@Suite("Processor conformance")
struct ConformanceTests {
    static let names = Processors.all.map { $0.name }

    static func outcomes(_ name: String) throws -> Set<SandboxOutcome> {
        try Simulators.named(name).simulatedOutcomes
    }

    @Test(arguments: names)
    func everyRegisteredProcessorHasAConfigurationASimulatorAndAContract(name: String) throws {
        let f = try SandboxFixture()
        let processor = try f.processor(name)
        let adapter = type(of: processor)
        #expect(adapter.capabilities.contains(.status))
        #expect(processor.configuration.source.hasSuffix("processors/\(name).yaml"))
        let endpoint = processor.configuration.endpoint
        #expect(endpoint == f.sandbox.baseURL || endpoint.hasPrefix(f.sandbox.baseURL + "/"),
                "the sandbox's environment points \(name) at it")
        #expect(try Self.outcomes(name).isSuperset(of: [.complete, .pendingPoke, .failed, .abandoned]))
        for action in adapter.moneyMovingActions {
            #expect(adapter.capabilities.contains(action.capability), "\(name) moves money with \(action.capability) it lacks")
            #expect(!action.idempotency.isEmpty)
        }
        let moving = Set(adapter.moneyMovingActions.map(\.capability))
        #expect(adapter.capabilities.subtracting([.status]).isSubset(of: moving), "every action but status is declared as moving money")
    }

    @Test func scriptingAnUnknownProcessorOrAnOutcomeItsSimulatorDoesNotPlayIsAnError() throws {
        let f = try SandboxFixture()
        #expect(throws: ConfigurationError.self) { try f.sandbox.script("no-such-processor", id: "X-1", outcome: .complete) }
        for name in Self.names {
            for outcome in SandboxOutcome.allCases where try !Self.outcomes(name).contains(outcome) {
                #expect(throws: ConfigurationError.self) { try f.sandbox.script(name, id: "X-2", outcome: outcome) }
            }
        }
        // Over HTTP too: 400, and nothing scripted anywhere.
        let client = try HTTPClient()
        let answer = try client.send(HTTPRequest(url: f.sandbox.baseURL + "/_sandbox/orders",
                                                 body: Array(#"{"processor":"nosuch","id":"X-3","outcome":"complete"}"#.utf8)))
        #expect(answer.status == 400)
        #expect(answer.text.contains("no processor called 'nosuch'"))
        for name in Self.names {
            #expect(throws: ProcessorError.self) { try f.processor(name).status(of: row(name, "X-3")) }
        }
    }

    @Test(arguments: names)
    func scriptedOutcomesReadAsTheirNormalizedStatusOnAnOrphan(name: String) throws {
        let f = try SandboxFixture()
        let processor = try f.processor(name)
        let adapter = type(of: processor)
        for outcome in try Self.outcomes(name).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let expected = outcome.normalized else { continue }
            try f.sandbox.script(name, id: "ID-\(outcome.rawValue)", outcome: outcome)
            let status = try processor.status(of: row(name, "ID-\(outcome.rawValue)"))
            let orphan = adapter.orphanStatus(status)
            #expect(orphan.status == expected, "\(name) \(outcome): \(orphan.evidence)")
            #expect(!status.evidence.isEmpty)
            for secret in f.sandbox.environment.values where secret.count >= 4 && !secret.hasPrefix("http") {
                #expect(!status.raw.contains(secret) && !status.evidence.contains(secret), "\(name) shows a credential")
            }
        }
    }

    @Test(arguments: [SandboxOutcome.serverError, .malformed, .html, .truncated, .reset, .huge, .noAck])
    func badAnswersAreTypedErrorsNeverAVerdict(outcome: SandboxOutcome) throws {
        let f = try SandboxFixture()
        for name in Self.names where try Self.outcomes(name).contains(outcome) {
            try f.sandbox.script(name, id: "BAD", outcome: outcome)
            let processor = try f.processor(name, [prefix(name) + "RETRY_BACKOFF_SECONDS": "0"])
            do {
                let status = try processor.status(of: row(name, "BAD"))
                Issue.record("\(name) \(outcome) gave a verdict: \(status.status)")
            } catch let error as ProcessorError {
                switch (outcome, error.kind) {
                case (.serverError, .httpStatus(503)), (.malformed, .malformedResponse), (.html, .malformedResponse),
                     (.truncated, .malformedResponse), (.noAck, .malformedResponse), (.reset, .transport),
                     (.huge, .transport(.responseTooLarge)):
                    #expect(error.isRetryable)
                default:
                    Issue.record("\(name) \(outcome): unexpected \(error)")
                }
            }
        }
    }

    @Test func aStalledProcessorTimesOutWithinTheConfiguredLimit() throws {
        let f = try SandboxFixture()
        for name in Self.names {
            try f.sandbox.script(name, id: "STALL", outcome: .stall)
            let processor = try f.processor(name, [prefix(name) + "TIMEOUTS_TOTAL_SECONDS": "0.5", prefix(name) + "RETRY_ATTEMPTS": "1"])
            #expect {
                _ = try processor.status(of: row(name, "STALL"))
            } throws: { error in
                (error as? ProcessorError)?.kind == .transport(.timedOut)
            }
        }
    }

    /// Every processor that can finish: read-only calls are retried on a
    /// 5xx, the money call is sent once.
    @Test func readOnlyCallsAreRetriedOnServerErrorsAndMoneyCallsAreNot() throws {
        let f = try SandboxFixture()
        for name in Self.names where Processors.named(name)!.capabilities.contains(.finish) {
            let processor = try f.processor(name, [prefix(name) + "RETRY_ATTEMPTS": "3", prefix(name) + "RETRY_BACKOFF_SECONDS": "0"])
            try f.sandbox.script(name, id: "P-503", outcome: .pendingPoke)
            let approved = try processor.status(of: row(name, "P-503"))
            try f.sandbox.script(name, id: "P-503", outcome: .serverError)
            let before = f.sandbox.requestCount
            #expect(throws: ProcessorError.self) { try processor.status(of: row(name, "P-503")) }
            #expect(f.sandbox.requestCount - before == 3, "\(name)")
            let beforeCapture = f.sandbox.requestCount
            #expect(throws: ProcessorError.self) { try processor.finish(row(name, "P-503"), current: approved) }
            #expect(f.sandbox.requestCount - beforeCapture == 1, "\(name) sent a money call more than once")
        }
        #expect(f.sandbox.captures.isEmpty)
    }

    /// Every processor whose finish is declared idempotent at the processor:
    /// a second finish (a crashed rectifier's retry) is complete, not paid again.
    @Test func aSecondFinishIsReportedCompleteAndCapturesNothing() throws {
        let f = try SandboxFixture()
        for name in Self.names where Processors.named(name)!.moneyMovingActions.contains(where: { $0.capability == .finish }) {
            let processor = try f.processor(name)
            try f.sandbox.script(name, id: "TWICE", outcome: .pendingPoke, amount: "25.00", currency: "USD")
            let r = pendingRecord(processor: name, id: "TWICE", gross: "25.00", currency: "USD")
            let approved = try processor.status(of: r)
            #expect(approved.status == .pendingPoke)
            #expect(try !processor.preview(.finish, for: r, current: approved).isEmpty)
            let before = f.sandbox.captures.count
            #expect(try processor.finish(r, current: approved).status == .complete, "\(name)")
            let again = try processor.finish(r, current: approved)
            #expect(again.status == .complete && again.wasAlreadyDone, "\(name): \(again.evidence)")
            #expect(f.sandbox.captures.count == before + 1, "\(name) captured twice")
            #expect(f.sandbox.captures.last?.amount == "25.00 USD")
            #expect(try processor.status(of: r).status == .complete)
        }
    }

    @Test func unknownIdsAreProcessorErrorsAndRefusedCredentialsAreAuthenticationErrors() throws {
        let f = try SandboxFixture()
        for name in Self.names {
            #expect {
                _ = try f.processor(name).status(of: row(name, "NEVER-SCRIPTED"))
            } throws: { error in
                if case .processorError = (error as? ProcessorError)?.kind { return true }
                return false
            }
            try f.sandbox.script(name, id: "KNOWN", outcome: .complete)
            let configuration = try ProcessorConfiguration.load(name: name, directory: RepositoryPaths.processors)
            let wrong = configuration.credentialVariables.values.reduce(into: [:]) { $0[$1] = "wrong-credential-0000" }
            #expect {
                _ = try f.processor(name, wrong).status(of: row(name, "KNOWN"))
            } throws: { error in
                guard let e = error as? ProcessorError, case .authentication = e.kind else { return false }
                return !"\(e)".contains("wrong-credential-0000")
            }
        }
    }
}

@Suite("Finishing payments")
struct FinishTests {
    @Test func payPalCapturesAnApprovedCheckoutOnceAndTreats11607AsAlreadyPaid() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-POKE", outcome: .pendingPoke, amount: "25.00", currency: "USD")
        let paypal = try f.processor("paypal")
        let r = pendingRecord(gateway: "paypal", orderID: "o1", token: "EC-POKE", gross: "25", currency: "USD")
        let status = try paypal.status(of: r)
        #expect(status.status == .pendingPoke)
        #expect(status.evidence == "CHECKOUTSTATUS=PaymentActionNotInitiated, PAYERID present")
        #expect(try paypal.preview(.finish, for: r, current: status).contains("METHOD=DoExpressCheckoutPayment"))
        #expect(try !paypal.preview(.finish, for: r, current: status).contains(Sandbox.paypalPassword))
        #expect(f.sandbox.captures.isEmpty, "a preview sends nothing")
        let captured = try paypal.finish(r, current: status)
        #expect(captured.status == .complete)
        #expect(captured.transactionID == "TX-EC-POKE")
        #expect(captured.fee == "0.59")
        // A second attempt (a crashed rectifier's retry) is answered 11607 and pays nothing.
        let again = try paypal.finish(r, current: status)
        #expect(again.status == .complete)
        #expect(again.evidence.contains("11607"))
        #expect(f.sandbox.captures.count == 1)
        #expect(f.sandbox.captures.first?.amount == "25.00 USD")
        #expect(try paypal.status(of: r).status == .complete)
    }

    @Test func aCaptureOfAnotherAmountIsSentToAPersonNotBooked() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-SHORT", outcome: .shortCapture)
        let paypal = try f.processor("paypal")
        let r = pendingRecord(gateway: "paypal", orderID: "o-short", token: "EC-SHORT")
        let status = try paypal.status(of: r)
        #expect(status.status == .pendingPoke)
        #expect {
            _ = try paypal.finish(r, current: status)
        } throws: { error in
            guard let e = error as? ProcessorError, case .ambiguous(let why) = e.kind else { return false }
            return why.contains("PayPal captured 1.00 where 10.00 was asked") && !e.isRetryable
        }
    }

    @Test func payPalRefusesToCaptureWithoutApprovalOrAmount() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-A", outcome: .abandoned)
        let paypal = try f.processor("paypal")
        let r = pendingRecord(gateway: "paypal", orderID: "o", token: "EC-A")
        let status = try paypal.status(of: r)
        #expect(status.status == .timeout)
        #expect(throws: ProcessorError.self) { try paypal.finish(r, current: status) }
        let fraction = pendingRecord(gateway: "paypal", orderID: "o", token: "EC-A", gross: "10.125")
        #expect(throws: ProcessorError.self) {
            try paypal.finish(fraction, current: ProcessorStatus(status: .pendingPoke, evidence: "", raw: "", details: ["PAYERID": "X"]))
        }
        var noAmount = pendingRecord(gateway: "paypal", orderID: "o", token: "EC-A")
        noAmount.message["gross"] = nil
        #expect(throws: ProcessorError.self) {
            try paypal.finish(noAmount, current: ProcessorStatus(status: .pendingPoke, evidence: "", raw: "", details: ["PAYERID": "X"]))
        }
        #expect(f.sandbox.captures.isEmpty)
    }

    @Test func recurringCreatesOneProfilePerCheckoutAndChecksBeforeCreating() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal-recurring", id: "EC-R", outcome: .pendingPoke, amount: "5.00", currency: "EUR")
        let recurring = try f.processor("paypal-recurring")
        var r = pendingRecord(gateway: "paypal-recurring", orderID: "r1", token: "EC-R", gross: "5")
        let approved = try recurring.status(of: r)
        #expect(approved.status == .pendingPoke)
        #expect(try recurring.preview(.createRecurringProfile, for: r, current: approved).contains("METHOD=CreateRecurringPaymentsProfile"))
        let created = try recurring.finish(r, current: approved)
        #expect(created.status == .complete)
        let profile = try #require(created.details["PROFILEID"])
        #expect(f.sandbox.profiles(forToken: "EC-R") == [profile])
        // The row now names its profile: status asks about the profile, and
        // finishing again checks it instead of creating a second one.
        r.message["subscr_id"] = .string(profile)
        #expect(try recurring.status(of: r).evidence == "profile \(profile) STATUS=Active")
        let again = try recurring.finish(r, current: approved)
        #expect(again.status == .complete)
        #expect(again.evidence.hasPrefix("profile \(profile) already exists (not created again)"))
        #expect(f.sandbox.profiles(forToken: "EC-R").count == 1)
        let cancelled = try recurring.cancel(r)
        #expect(cancelled.status == .cancelled)
        #expect(f.sandbox.captures.map(\.action) == ["CreateRecurringPaymentsProfile"])
    }

    @Test(arguments: [(SandboxOutcome.pendingPoke, "SET_PAYMENT"), (.finish, "DO_FINISHPAYMENT")])
    func globalCollectFinishesThenAsksAgainAndNeverFinishesTwice(outcome: SandboxOutcome, action: String) throws {
        let f = try SandboxFixture()
        try f.sandbox.script("globalcollect", id: "GC-1", outcome: outcome)
        let gc = try f.processor("globalcollect")
        let r = row("globalcollect", "GC-1")
        let status = try gc.status(of: r)
        #expect(status.status == .pendingPoke)
        #expect(try gc.preview(.finish, for: r, current: status).contains("<ACTION>\(action)</ACTION>"))
        let done = try gc.finish(r, current: status)
        #expect(done.status == .complete)
        #expect(done.evidence.hasPrefix("\(action) OK, then STATUSID=1000"))
        let again = try gc.finish(r, current: status)
        #expect(again.status == .complete)
        #expect(again.evidence.contains("400120"))
        #expect(f.sandbox.captures.map(\.action) == [action])
    }
}

@Suite("Redaction")
struct RedactionTests {
    @Test func donorDataAndCredentialsAreMaskedWhateverPayPalCallsThem() {
        let fields = ["USER": "u", "PWD": "p", "SIGNATURE": "s", "EMAIL": "d@example.org", "FIRSTNAME": "Ada", "MIDDLENAME": "B",
                      "PAYMENTREQUEST_0_SHIPTONAME": "Ada L", "PAYMENTREQUEST_0_SHIPTOSTREET2": "Flat 1", "SHIPTOSTATE": "CA",
                      "PHONENUM": "555", "CHECKOUTSTATUS": "PaymentActionCompleted", "PAYERSTATUS": "verified", "TOKEN": "EC-1",
                      "PAYMENTINFO_0_PAYMENTSTATUS": "Completed", "CUSTOM": "the-secret-value"]
        let shown = NVP.redacted(fields, secrets: ["the-secret-value"])
        for hidden in ["=u&", "=p&", "=s&", "d@example.org", "Ada", "=B&", "Flat 1", "=CA", "555", "the-secret-value"] {
            #expect(!shown.contains(hidden), "\(hidden) shown in \(shown)")
        }
        for kept in ["CHECKOUTSTATUS=PaymentActionCompleted", "PAYERSTATUS=verified", "TOKEN=EC-1",
                     "PAYMENTINFO_0_PAYMENTSTATUS=Completed"] {
            #expect(shown.contains(kept), "\(kept) missing from \(shown)")
        }
    }
}

@Suite("Status tables")
struct StatusTableTests {
    @Test func globalCollectStatusIDsFollowTheDocumentedTable() {
        let table: [(ClosedRange<Int>, NormalizedStatus)] = [
            (0...10, .pending), (20...70, .pending), (300...300, .pending), (550...550, .pending), (625...650, .pending),
            (200...200, .pendingPoke), (525...525, .pendingPoke), (600...600, .pendingPoke),
            (15...15, .failed), (100...180, .failed), (220...280, .failed), (310...350, .failed), (1100...1520, .failed),
            (1810...2220, .failed),
            (400...400, .revised), (800...975, .complete), (1000...1050, .complete), (1800...1800, .refunded), (99999...99999, .cancelled),
        ]
        for (range, status) in table {
            for id in range { #expect(GlobalCollect.normalized(statusID: id) == status, "STATUSID \(id)") }
        }
        for id in [11, 14, 16, 19, 75, 190, 199, 290, 500, 700, 999, 1060, 1600, 1799, 3000, 99998] {
            #expect(GlobalCollect.normalized(statusID: id) == .unknown, "STATUSID \(id)")
        }
    }

    @Test func payPalStatusesFollowTheDocumentedTable() {
        for (text, status) in ["Active": NormalizedStatus.complete, "ActiveProfile": .complete,
                               "Pending": .pending, "PendingProfile": .pending,
                               "Cancelled": .cancelled, "Suspended": .onHold, "Expired": .timeout, "Other": .unknown] {
            #expect(PayPalRecurring.normalized(profileStatus: text) == status, "\(text)")
        }
        #expect(PayPalExpressCheckout.normalized(checkoutStatus: "PaymentActionCompleted", payerPresent: true) == .complete)
        #expect(PayPalExpressCheckout.normalized(checkoutStatus: "PaymentActionFailed", payerPresent: true) == .failed)
        #expect(PayPalExpressCheckout.normalized(checkoutStatus: "PaymentActionInProgress", payerPresent: false) == .pendingPoke)
        #expect(PayPalExpressCheckout.normalized(checkoutStatus: "PaymentActionNotInitiated", payerPresent: true) == .pendingPoke)
        #expect(PayPalExpressCheckout.normalized(checkoutStatus: "PaymentActionNotInitiated", payerPresent: false) == .timeout)
        #expect(PayPalExpressCheckout.normalized(checkoutStatus: "Something", payerPresent: true) == .unknown)
        let payments: [String: NormalizedStatus] = [
            "Completed": .complete, "Processed": .complete, "Canceled-Reversal": .complete, "Denied": .failed, "Failed": .failed,
            "Voided": .failed, "Pending": .pending, "In-Progress": .pending, "Expired": .timeout, "Refunded": .refunded,
            "Reversed": .reversed, "Completed_Funds_Held": .onHold, "": .unknown, "Partially-Refunded": .unknown,
        ]
        for (text, status) in payments { #expect(PayPalExpressCheckout.normalized(paymentStatus: text) == status, "\(text)") }
    }
}
