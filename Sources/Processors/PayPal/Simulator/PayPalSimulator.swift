import Core
import Foundation
public import Processors

// Compiled into the Sandbox module (see Package.swift), never into the adapters'.

/// PayPal Express Checkout's registration with the sandbox.
extension PayPalExpressCheckout: SimulatedProcessor {
    public static var simulator: any ProcessorSimulator.Type { PayPalSimulator.self }
}

extension Sandbox {
    /// The API user the PayPal simulator accepts.
    public static let paypalUser = "sandbox-user"
    /// The PayPal password it accepts.
    public static let paypalPassword = "sandbox-password-0000"
    /// The PayPal signature it accepts.
    public static let paypalSignature = "sandbox-signature-0000"
}

/// PayPal's NVP API on `POST /nvp` (docs/processors/paypal.md), for Express
/// Checkout and recurring profiles alike. Outcomes on the wire:
/// complete → PaymentActionCompleted; pending-poke → NotInitiated with
/// PAYERID; failed → PaymentActionFailed; abandoned → NotInitiated without
/// PAYERID; expired → 10411; duplicate → NotInitiated with PAYERID whose
/// capture answers 11607; short-capture → a capture of 1.00; no-ack → an
/// answer without ACK; slow → complete, 2 s late.
enum PayPalSimulator: ProcessorSimulator {
    static let ledger = "paypal"
    static let routes = [SandboxRoute("POST", "/nvp"), SandboxRoute("POST", "/cgi-bin/webscr")]
    static let outcomes: Set<SandboxOutcome> = [.complete, .slow, .pendingPoke, .failed, .abandoned, .expired, .duplicate,
                                                 .shortCapture, .noAck]

    static func initialState(for outcome: SandboxOutcome) -> String { outcome.rawValue }

    static func environment(baseURL: String) -> [String: String] {
        [
            "FUNDQ_PAYPAL_ENDPOINT": baseURL + "/nvp", "FUNDQ_PAYPAL_USER": Sandbox.paypalUser,
            "FUNDQ_PAYPAL_PASSWORD": Sandbox.paypalPassword, "FUNDQ_PAYPAL_SIGNATURE": Sandbox.paypalSignature,
            "FUNDQ_PAYPAL_RECURRING_ENDPOINT": baseURL + "/nvp",
            "FUNDQ_PAYPAL_RECURRING_SETTINGS_IPN_VERIFY_ENDPOINT": baseURL + "/cgi-bin/webscr",
        ]
    }

    static func answer(_ request: HTTPServerRequest, sandbox: Sandbox) -> HTTPServerReply {
        request.path == "/cgi-bin/webscr" ? sandbox.verifyIPN(request) : sandbox.paypal(request)
    }
}

extension Sandbox {
    /// PayPal's NVP API: GetExpressCheckoutDetails, DoExpressCheckoutPayment.
    func paypal(_ request: HTTPServerRequest) -> HTTPServerReply {
        let common = [("TIMESTAMP", "2026-11-28T00:00:00Z"), ("CORRELATIONID", "c0ffee"), ("VERSION", "204"), ("BUILD", "1")]
        func answer(_ fields: [(String, String)], delay: Duration = .zero) -> HTTPServerReply {
            .ok(NVP.encode(fields + common), contentType: "text/plain", delay: delay)
        }
        func failure(_ code: String, _ message: String) -> HTTPServerReply {
            answer([("ACK", "Failure"), ("L_ERRORCODE0", code), ("L_SHORTMESSAGE0", message), ("L_LONGMESSAGE0", message),
                    ("L_SEVERITYCODE0", "Error")])
        }
        guard let f = NVP.decode(request.text) else { return failure("81002", "Unspecified Method") }
        guard f["USER"] == Sandbox.paypalUser, f["PWD"] == Sandbox.paypalPassword, f["SIGNATURE"] == Sandbox.paypalSignature else {
            return failure("10002", "Security header is not valid")
        }
        if let profileID = f["PROFILEID"] { return recurring(f, profileID: profileID, answer: { answer($0) }, failure: failure) }
        guard let token = f["TOKEN"] else { return failure("81115", "TOKEN: Required parameter missing") }
        guard let order = order(PayPalSimulator.ledger, token) else { return failure("10410", "Invalid token.") }
        let payer = "PAYER\(abs(token.hashValue) % 100_000)"
        if order.outcome == .noAck { return .ok("TIMESTAMP=2026-11-28T00%3A00%3A00Z&CORRELATIONID=c0ffee", contentType: "text/plain") }
        let sample = "ACK=Success&CHECKOUTSTATUS=PaymentActionCompleted&PAYERID=\(payer)"
        if let bad = misbehaviour(order.outcome, contentType: "text/plain", truncatedOf: sample) {
            return bad
        }
        let delay: Duration = order.outcome == .slow ? .seconds(2) : .zero
        switch f["METHOD"] {
        case "GetExpressCheckoutDetails":
            if order.outcome == .expired { return failure("10411", "This Express Checkout session has expired.") }
            let checkout: String
            switch order.outcome {
            case .complete, .slow, .duplicate:
                checkout = order.captures > 0 || order.outcome != .duplicate ? "PaymentActionCompleted" : "PaymentActionNotInitiated"
            case .failed: checkout = "PaymentActionFailed"
            case .pendingPoke, .shortCapture: checkout = order.captures > 0 ? "PaymentActionCompleted" : "PaymentActionNotInitiated"
            default: checkout = "PaymentActionNotInitiated"
            }
            // In PayPal's own order: the envelope first, then the payer, then the amounts.
            var fields = [("TOKEN", token), ("CHECKOUTSTATUS", checkout), ("ACK", "Success")] + common + [("EMAIL", "donor@example.org")]
            if order.outcome != .abandoned && order.outcome != .cancelled { fields.append(("PAYERID", payer)) }
            fields += [("FIRSTNAME", "Ada"), ("LASTNAME", "Lovelace"), ("COUNTRYCODE", "GB"), ("CURRENCYCODE", order.currency),
                       ("AMT", order.amount), ("PAYMENTREQUEST_0_CURRENCYCODE", order.currency), ("PAYMENTREQUEST_0_AMT", order.amount)]
            if checkout == "PaymentActionCompleted" { fields.append(("PAYMENTREQUEST_0_TRANSACTIONID", "TX-\(token)")) }
            return .ok(NVP.encode(fields), contentType: "text/plain", delay: delay)
        case "DoExpressCheckoutPayment":
            guard f["PAYERID"] == payer, order.outcome != .abandoned else {
                return failure("10419", "Express Checkout PayerID is missing.")
            }
            guard f["PAYMENTREQUEST_0_AMT"] == order.amount, f["PAYMENTREQUEST_0_CURRENCYCODE"] == order.currency else {
                return failure("10413", "The totals of the cart item amounts do not match order amounts.")
            }
            let already = order.captures > 0 || order.outcome == .duplicate || order.outcome == .complete
            recordCapture(PayPalSimulator.ledger, id: token, action: "DoExpressCheckoutPayment",
                          amount: "\(order.amount) \(order.currency)", counts: !already)
            var fields = [("ACK", already ? "SuccessWithWarning" : "Success"), ("TOKEN", token),
                          ("PAYMENTINFO_0_TRANSACTIONID", "TX-\(token)"), ("PAYMENTINFO_0_PAYMENTSTATUS", "Completed"),
                          ("PAYMENTINFO_0_AMT", order.outcome == .shortCapture ? "1.00" : order.amount), ("PAYMENTINFO_0_FEEAMT", "0.59"),
                          ("PAYMENTINFO_0_CURRENCYCODE", order.currency)]
            if already {
                fields += [("L_ERRORCODE0", "11607"), ("L_SHORTMESSAGE0", "Duplicate Request"),
                           ("L_LONGMESSAGE0", "A successful transaction has already been completed for this token."),
                           ("L_SEVERITYCODE0", "Warning")]
            }
            return answer(fields, delay: delay)
        case "CreateRecurringPaymentsProfile":
            return createRecurringProfile(f, token: token, order: order, answer: { answer($0, delay: delay) }, failure: failure)
        default:
            return failure("81002", "Unspecified Method")
        }
    }
}
