import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
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
