import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// The row each processor's tests use for a scripted id.
func row(_ processor: String, _ id: String) -> PendingRecord {
    processor.hasPrefix("paypal") ? pendingRecord(gateway: processor, orderID: "o-\(id)", token: id) : pendingRecord(gateway: processor, orderID: id)
}

/// The shared conformance suite: every registered processor, against the
/// sandbox over real HTTP.
@Suite("Processor conformance")
struct ConformanceTests {
    static let names = Processors.all.map { $0.name }

    @Test(arguments: names)
    func everyRegisteredProcessorHasAConfigurationAndAStatusCall(name: String) throws {
        let f = try SandboxFixture()
        let processor = try f.processor(name)
        #expect(type(of: processor).capabilities.contains(.status))
        #expect(processor.configuration.source.hasSuffix("processors/\(name).yaml"))
        #expect(processor.configuration.endpoint == f.sandbox.baseURL + (name.hasPrefix("paypal") ? "/nvp" : "/wdl"))
    }

    @Test(arguments: [
        (SandboxOutcome.complete, NormalizedStatus.complete), (.pending, .pending), (.pendingPoke, .pendingPoke), (.failed, .failed),
        (.cancelled, .cancelled), (.expired, .timeout), (.abandoned, .timeout), (.slow, .complete),
    ])
    func scriptedOutcomesMapToTheirNormalizedStatus(outcome: SandboxOutcome, expected: NormalizedStatus) throws {
        let f = try SandboxFixture()
        for name in Self.names {
            f.sandbox.script(name, id: "ID-\(outcome.rawValue)", outcome: outcome)
            let status = try f.processor(name).status(of: row(name, "ID-\(outcome.rawValue)"))
            // GlobalCollect's STATUSID 20 is "pending" in its table; the rectifier treats it as abandoned for orphans.
            let want = (name == "globalcollect" && outcome == .abandoned) ? NormalizedStatus.pending
                : (name.hasPrefix("paypal") && outcome == .cancelled) ? .timeout  // NotInitiated without PAYERID
                : (name.hasPrefix("paypal") && outcome == .pending) ? .pendingPoke
                : expected
            #expect(status.status == want, "\(name) \(outcome): \(status.evidence)")
            #expect(!status.evidence.isEmpty)
            #expect(!status.raw.contains(Sandbox.paypalPassword) && !status.raw.contains(Sandbox.paypalSignature))
        }
    }

    @Test(arguments: [SandboxOutcome.serverError, .malformed, .html, .truncated, .reset, .huge, .noAck])
    func badAnswersAreTypedErrorsNeverAVerdict(outcome: SandboxOutcome) throws {
        let f = try SandboxFixture()
        for name in Self.names {
            f.sandbox.script(name, id: "BAD", outcome: outcome)
            let processor = try f.processor(name, ["FUNDQ_\(name.uppercased().replacingOccurrences(of: "-", with: "_"))_RETRY_BACKOFF_SECONDS": "0"])
            do {
                let status = try processor.status(of: row(name, "BAD"))
                // GlobalCollect has no ACK field: no-ack is an ordinary answer there.
                #expect(name == "globalcollect" && outcome == .noAck, "\(name) \(outcome) gave a verdict: \(status.status)")
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
            f.sandbox.script(name, id: "STALL", outcome: .stall)
            let upper = name.uppercased().replacingOccurrences(of: "-", with: "_")
            let processor = try f.processor(name, ["FUNDQ_\(upper)_TIMEOUTS_TOTAL_SECONDS": "0.5", "FUNDQ_\(upper)_RETRY_ATTEMPTS": "1"])
            #expect {
                _ = try processor.status(of: row(name, "STALL"))
            } throws: { error in
                (error as? ProcessorError)?.kind == .transport(.timedOut)
            }
        }
    }

    @Test func readOnlyCallsAreRetriedOnServerErrorsAndCapturesAreNot() throws {
        let f = try SandboxFixture()
        f.sandbox.script("paypal", id: "EC-503", outcome: .serverError)
        let processor = try f.processor("paypal", ["FUNDQ_PAYPAL_RETRY_ATTEMPTS": "3", "FUNDQ_PAYPAL_RETRY_BACKOFF_SECONDS": "0"])
        let before = f.sandbox.requestCount
        #expect(throws: ProcessorError.self) { try processor.status(of: row("paypal", "EC-503")) }
        #expect(f.sandbox.requestCount - before == 3)
        let approved = ProcessorStatus(status: .pendingPoke, evidence: "", raw: "", details: ["PAYERID": "P1"])
        let beforeCapture = f.sandbox.requestCount
        #expect(throws: ProcessorError.self) { try processor.finish(row("paypal", "EC-503"), current: approved) }
        #expect(f.sandbox.requestCount - beforeCapture == 1)
    }

    @Test func unknownIdsAndBadCredentialsAreProcessorErrors() throws {
        let f = try SandboxFixture()
        for name in Self.names {
            #expect {
                _ = try f.processor(name).status(of: row(name, "NEVER-SCRIPTED"))
            } throws: { error in
                if case .processorError = (error as? ProcessorError)?.kind { return true }
                return false
            }
        }
        f.sandbox.script("paypal", id: "EC-1", outcome: .complete)
        #expect {
            _ = try f.processor("paypal", ["FUNDQ_PAYPAL_PASSWORD": "wrong-password"]).status(of: row("paypal", "EC-1"))
        } throws: { error in
            (error as? ProcessorError)?.kind == .processorError(code: "10002", message: "Security header is not valid")
        }
    }
}

@Suite("Finishing payments")
struct FinishTests {
    @Test func payPalCapturesAnApprovedCheckoutOnceAndTreats11607AsAlreadyPaid() throws {
        let f = try SandboxFixture()
        f.sandbox.script("paypal", id: "EC-POKE", outcome: .pendingPoke, amount: "25.00", currency: "USD")
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
        f.sandbox.script("paypal", id: "EC-SHORT", outcome: .shortCapture)
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
        f.sandbox.script("paypal", id: "EC-A", outcome: .abandoned)
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
        f.sandbox.script("paypal-recurring", id: "EC-R", outcome: .pendingPoke, amount: "5.00", currency: "EUR")
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
        f.sandbox.script("globalcollect", id: "GC-1", outcome: outcome)
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
        for kept in ["CHECKOUTSTATUS=PaymentActionCompleted", "PAYERSTATUS=verified", "TOKEN=EC-1", "PAYMENTINFO_0_PAYMENTSTATUS=Completed"] {
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
            (15...15, .failed), (100...180, .failed), (220...280, .failed), (310...350, .failed), (1100...1520, .failed), (1810...2220, .failed),
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
        for (text, status) in ["Active": NormalizedStatus.complete, "ActiveProfile": .complete, "Pending": .pending, "PendingProfile": .pending,
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
