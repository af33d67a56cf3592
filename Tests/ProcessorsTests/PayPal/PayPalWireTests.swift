import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Synchronization
import Testing

/// PayPal Express Checkout's own wire facts (docs/processors/paypal.md):
/// the capture and its 11607, amounts, the status tables, what the NVP
/// redaction hides. (Its statuses, errors and orphans are covered by the
/// shared conformance and rectifier suites.)
@Suite("PayPal wire")
struct PayPalWireTests {
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

    /// PayPal's answer puts TIMESTAMP and CORRELATIONID before the payer and
    /// the amounts last. Cut after its envelope, it has no PAYERID: that is
    /// not "never approved" (a timeout) but a malformed answer, asked again.
    @Test func anAnswerCutBeforeItsAmountsIsNotANeverApproved() throws {
        let envelope = "TOKEN=EC-CUT&CHECKOUTSTATUS=PaymentActionNotInitiated&TIMESTAMP=2026%2d12%2d03T08%3a00%3a00Z"
            + "&CORRELATIONID=c0ffee&ACK=Success&VERSION=204&BUILD=1"
        let whole = envelope + "&EMAIL=ada%40example.org&PAYERID=P123&FIRSTNAME=Ada&CURRENCYCODE=EUR&AMT=10.00"
            + "&PAYMENTREQUEST_0_CURRENCYCODE=EUR&PAYMENTREQUEST_0_AMT=10.00"
        let abandoned = envelope + "&CURRENCYCODE=EUR&AMT=10.00&PAYMENTREQUEST_0_CURRENCYCODE=EUR&PAYMENTREQUEST_0_AMT=10.00"
        let answers = Mutex([envelope, whole, abandoned])
        let server = try LoopbackHTTPServer { _ in .ok(answers.withLock { $0.removeFirst() }, contentType: "text/plain") }
        defer { server.stop() }
        let f = try SandboxFixture()
        let paypal = try f.processor("paypal", ["FUNDQ_PAYPAL_ENDPOINT": "http://127.0.0.1:\(server.port)/nvp"])
        let r = pendingRecord(gateway: "paypal", orderID: "o1", token: "EC-CUT")
        #expect { try paypal.status(of: r) } throws: { error in
            guard case .malformedResponse(let why)? = (error as? ProcessorError)?.kind else { return false }
            return why.contains("no PAYMENTREQUEST_0_AMT")
        }
        #expect(try paypal.status(of: r).status == .pendingPoke, "the whole answer: approved")
        #expect(try paypal.status(of: r).status == .timeout, "the whole answer without a payer: never approved")
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

    @Test func payPalCheckoutAndPaymentStatusesFollowTheDocumentedTable() {
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
