public import Core
import Foundation

/// PayPal Express Checkout over the NVP API: GetExpressCheckoutDetails to
/// ask, DoExpressCheckoutPayment to collect. Wire facts (fields,
/// CHECKOUTSTATUS and PAYMENTSTATUS tables, error codes):
/// docs/processors/paypal.md.
public final class PayPalExpressCheckout: PaymentProcessor {
    public static let name = "paypal"
    public static let gateway = "paypal"
    public static let capabilities: Set<ProcessorCapability> = [.status, .finish]
    /// The pending row's `gateway_session_id` is the EC-… checkout token.
    public static let paymentIdentity = PaymentIdentity.sessionToken
    public static let moneyMovingActions = [
        MoneyMovingAction(.finish, idempotency: "DoExpressCheckoutPayment carries MSGSUBID (the order id): a repeat is answered "
                          + "11607 (or 10415) and reported as already paid, never paid again"),
    ]

    /// Error codes that mean our API user, password or signature was refused.
    static let authenticationCodes: Set<String> = ["10002", "10008"]

    /// A Failure's first error: refused credentials are their own kind.
    static func error(_ errors: [(code: String, message: String)], action: String, processor: String = name) -> ProcessorError {
        let first = errors.first ?? (code: "?", message: "Failure without an error code")
        let kind: ProcessorError.Kind = authenticationCodes.contains(first.code)
            ? .authentication(code: first.code, message: first.message) : .processorError(code: first.code, message: first.message)
        return ProcessorError(kind, processor: processor, action: action)
    }

    public let configuration: ProcessorConfiguration
    let credentials: Credentials
    let http: ProcessorHTTP

    public init(configuration: ProcessorConfiguration, credentials: Credentials) throws {
        self.configuration = configuration
        self.credentials = credentials
        http = try ProcessorHTTP(processor: Self.name, configuration: configuration, credentials: credentials)
    }

    /// The fields of a call, credentials first, as PayPal wants them.
    func fields(_ method: String, _ parameters: [(String, String)]) -> [(String, String)] {
        [("USER", credentials["user"]), ("PWD", credentials["password"]), ("SIGNATURE", credentials["signature"]),
         ("VERSION", configuration.settings["version"] ?? "204"), ("METHOD", method)] + parameters
    }

    /// Calls `method`; returns the decoded answer (Success or Failure alike).
    func call(_ method: String, _ parameters: [(String, String)], action: String,
              idempotent: Bool) throws(ProcessorError) -> [String: String] {
        let request = fields(method, parameters)
        let text = try http.post(NVP.encode(request), contentType: "application/x-www-form-urlencoded", action: action,
                                 shown: NVP.redacted(Dictionary(request, uniquingKeysWith: { $1 }), secrets: credentials.secrets),
                                 idempotent: idempotent)
        guard let reply = NVP.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            // Masked before it is cut: a cut could leave half a credential that no longer matches.
            throw ProcessorError(.malformedResponse("not a name-value pair answer: \(http.answerText(text).prefix(80))"),
                                 processor: Self.name, action: action)
        }
        guard let ack = reply["ACK"] else {
            throw ProcessorError(.malformedResponse("no ACK in the answer"), processor: Self.name, action: action)
        }
        guard ["Success", "SuccessWithWarning", "Failure", "FailureWithWarning"].contains(ack) else {
            throw ProcessorError(.malformedResponse("unknown ACK=\(http.answerText(ack).prefix(40))"), processor: Self.name, action: action)
        }
        // Every PayPal answer carries these; without them it was cut short
        // (NVP has no closing mark), and a cut answer is not evidence.
        for field in ["CORRELATIONID", "TIMESTAMP"] where reply[field] == nil {
            throw ProcessorError(.malformedResponse("incomplete answer: no \(field)"), processor: Self.name, action: action)
        }
        return reply
    }

    /// The `L_ERRORCODEn` / `L_LONGMESSAGEn` pairs of an answer.
    static func errors(_ reply: [String: String]) -> [(code: String, message: String)] {
        var out: [(String, String)] = []
        var n = 0
        while let code = reply["L_ERRORCODE\(n)"] {
            out.append((code, reply["L_LONGMESSAGE\(n)"] ?? reply["L_SHORTMESSAGE\(n)"] ?? ""))
            n += 1
        }
        return out
    }

    func raw(_ reply: [String: String]) -> String { NVP.redacted(reply, secrets: credentials.secrets) }

    func token(of row: PendingRecord, action: String) throws(ProcessorError) -> String {
        guard let token = row.gatewaySessionID ?? row.message["token"]?.scalarText, !token.isEmpty else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(row.orderID ?? "?") "
                                                    + "has no gateway_session_id (the EC token)"),
                                 processor: Self.name, action: action)
        }
        return token
    }

    /// GetExpressCheckoutDetails, mapped as docs/processors/paypal.md says: NotInitiated
    /// is pending-poke when the donor approved (PAYERID present) and timeout
    /// when not — the distinction the old rectifier got wrong for years.
    public func status(of row: PendingRecord) throws -> ProcessorStatus {
        try http.masking { try unmaskedStatus(of: row) }
    }

    func unmaskedStatus(of row: PendingRecord) throws -> ProcessorStatus {
        let token = try token(of: row, action: "GetExpressCheckoutDetails")
        let action = "GetExpressCheckoutDetails for \(token)"
        let reply = try call("GetExpressCheckoutDetails", [("TOKEN", token)], action: action, idempotent: true)
        let errors = Self.errors(reply)
        if reply["ACK"]!.hasPrefix("Failure") {
            if errors.contains(where: { $0.code == "10411" }) {
                // Tokens expire after 3 hours whatever happened: only a token nobody tried to capture means
                // "never paid" — the rectifier, which records its intents, sends the others to review.
                return ProcessorStatus(status: .timeout, evidence: "L_ERRORCODE0=10411 (the checkout token expired)", raw: raw(reply))
            }
            throw Self.error(errors, action: action)
        }
        // PayPal sends TIMESTAMP and CORRELATIONID near the start and the amounts after PAYERID: an answer cut
        // before its amounts may have lost the PAYERID, and would read as "never approved" (docs/processors/paypal.md).
        guard reply["PAYMENTREQUEST_0_AMT"] != nil || reply["AMT"] != nil else {
            throw ProcessorError(.malformedResponse("incomplete answer: no PAYMENTREQUEST_0_AMT or AMT"), processor: Self.name,
                                 action: action)
        }
        let checkout = reply["CHECKOUTSTATUS"] ?? ""
        let payer = reply["PAYERID"].flatMap { $0.isEmpty ? nil : $0 }
        var details = ["TOKEN": token]
        details["PAYERID"] = payer
        let status = Self.normalized(checkoutStatus: checkout, payerPresent: payer != nil)
        let evidence = "CHECKOUTSTATUS=\(checkout.isEmpty ? "(missing)" : checkout), PAYERID \(payer == nil ? "absent" : "present")"
        return ProcessorStatus(status: status, evidence: evidence, raw: raw(reply),
                               transactionID: reply["PAYMENTREQUEST_0_TRANSACTIONID"].flatMap { $0.isEmpty ? nil : $0 }, details: details)
    }

    func captureFields(_ row: PendingRecord, current: ProcessorStatus) throws(ProcessorError) -> [(String, String)] {
        let token = try token(of: row, action: "DoExpressCheckoutPayment")
        guard let payer = current.details["PAYERID"] else {
            throw ProcessorError(.configuration("cannot capture \(token): the donor has not approved (no PAYERID)"), processor: Self.name,
                                 action: "DoExpressCheckoutPayment")
        }
        // The amount comes from our own record of what the donor chose, never from the processor's answer.
        guard let grossText = row.message["gross"]?.scalarText, let gross = DonationAmount(grossText), gross.isPositive,
              let currency = row.message["currency"]?.scalarText else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(row.orderID ?? "?") "
                                                    + "has no valid gross and currency to capture"),
                                 processor: Self.name, action: "DoExpressCheckoutPayment")
        }
        guard let amount = PayPalExpressCheckout.amount(gross, currency: currency) else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(row.orderID ?? "?") has gross \(grossText) \(currency), "
                                                    + "which PayPal cannot take without rounding"),
                                 processor: Self.name, action: "DoExpressCheckoutPayment")
        }
        var fields = [("TOKEN", token), ("PAYERID", payer), ("PAYMENTREQUEST_0_AMT", amount),
                      ("PAYMENTREQUEST_0_CURRENCYCODE", currency), ("PAYMENTREQUEST_0_PAYMENTACTION", "Sale")]
        if let order = row.orderID { fields.append(("PAYMENTREQUEST_0_INVNUM", order)) }
        // PayPal's idempotency key: a repeated capture is answered 11607, never paid twice.
        fields.append(("MSGSUBID", row.orderID ?? token))
        return fields
    }

    /// Currencies PayPal takes without decimals.
    static let zeroDecimalCurrencies: Set<String> = ["HUF", "JPY", "TWD"]

    /// The amount as PayPal wants it (two decimals, none for HUF, JPY,
    /// TWD), or nil when that would round it.
    static func amount(_ a: DonationAmount, currency: String) -> String? {
        let text = a.description  // four decimals
        let decimals = zeroDecimalCurrencies.contains(currency) ? 0 : 2
        let cut = text.suffix(4 - decimals)
        guard cut.allSatisfy({ $0 == "0" }) else { return nil }
        return String(text.dropLast(decimals == 0 ? 5 : 2))
    }

    /// DoExpressCheckoutPayment. PayPal's 11607 (duplicate request) means it
    /// was already paid: reported complete, never paid again.
    public func finish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        try http.masking { try unmaskedFinish(row, current: current) }
    }

    func unmaskedFinish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        let fields = try captureFields(row, current: current)
        let action = "DoExpressCheckoutPayment for \(fields[0].1)"
        let reply = try call("DoExpressCheckoutPayment", fields, action: action, idempotent: false)
        let errors = Self.errors(reply)
        let transaction = reply["PAYMENTINFO_0_TRANSACTIONID"].flatMap { $0.isEmpty ? nil : $0 }
        if let code = errors.first(where: { $0.code == "11607" || $0.code == "10415" })?.code {
            return ProcessorStatus(status: .complete,
                                   evidence: "L_ERRORCODE=\(code) ("
                                       + "\(code == "11607" ? "duplicate request" : "already completed for this token")"
                                       + ": already paid, not paid again)",
                                   raw: raw(reply), transactionID: transaction, fee: reply["PAYMENTINFO_0_FEEAMT"],
                                   details: current.details.merging([ProcessorStatus.alreadyDone: code]) { $1 })
        }
        if reply["ACK"]!.hasPrefix("Failure") {
            if errors.contains(where: { $0.code == "10486" }) {
                return ProcessorStatus(status: .failed,
                                       evidence: "L_ERRORCODE=10486 (the donor's funding failed; they would have to go back to PayPal)",
                                       raw: raw(reply), details: current.details)
            }
            throw Self.error(errors, action: action)
        }
        let paymentStatus = reply["PAYMENTINFO_0_PAYMENTSTATUS"] ?? ""
        let status = Self.normalized(paymentStatus: paymentStatus)
        let asked = fields.first { $0.0 == "PAYMENTREQUEST_0_AMT" }?.1
        if let paid = reply["PAYMENTINFO_0_AMT"], let asked, DonationAmount(paid) != DonationAmount(asked) {
            throw ProcessorError(.ambiguous("PayPal captured \(paid) where \(asked) was asked "
                                                + "(transaction \(transaction ?? "?")); book it by hand"),
                                 processor: Self.name, action: action)
        }
        return ProcessorStatus(status: status,
                               evidence: "PAYMENTINFO_0_PAYMENTSTATUS=\(paymentStatus.isEmpty ? "(missing)" : paymentStatus)",
                               raw: raw(reply), transactionID: transaction, fee: reply["PAYMENTINFO_0_FEEAMT"], details: current.details)
    }

    /// CHECKOUTSTATUS → normalized status. NotInitiated is pending-poke when
    /// the donor approved (PAYERID present), timeout when not.
    public static func normalized(checkoutStatus: String, payerPresent: Bool) -> NormalizedStatus {
        switch checkoutStatus {
        case "PaymentActionCompleted": return .complete
        case "PaymentActionFailed": return .failed
        case "PaymentActionInProgress": return .pendingPoke
        case "PaymentActionNotInitiated": return payerPresent ? .pendingPoke : .timeout
        default: return .unknown
        }
    }

    /// PAYMENTINFO_0_PAYMENTSTATUS → normalized status.
    public static func normalized(paymentStatus: String) -> NormalizedStatus {
        switch paymentStatus {
        case "Completed", "Processed", "Canceled-Reversal": return .complete
        case "Denied", "Failed", "Voided": return .failed
        case "Pending", "In-Progress": return .pending
        case "Expired": return .timeout
        case "Refunded": return .refunded
        case "Reversed": return .reversed
        case "Completed_Funds_Held": return .onHold
        default: return .unknown
        }
    }

    public func preview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        try http.maskingPreview { try unmaskedPreview(action, for: row, current: current) }
    }

    /// The request `action` would send for `row`, built but not rendered
    /// (the capture's amount checked: an amount PayPal would round throws).
    public func validate(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws {
        _ = try http.maskingErrors { try previewFields(action, for: row, current: current) }
    }

    func unmaskedPreview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        let request = try previewFields(action, for: row, current: current)
        return "POST \(configuration.endpoint)\n"
            + NVP.redacted(Dictionary(request, uniquingKeysWith: { $1 }), secrets: credentials.secrets)
    }

    func previewFields(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> [(String, String)] {
        let request: [(String, String)]
        switch action {
        case .status: request = fields("GetExpressCheckoutDetails", [("TOKEN", try token(of: row, action: "preview"))])
        case .finish:
            guard let current else {
                throw ProcessorError(.configuration("a capture needs the current status"), processor: Self.name, action: "preview")
            }
            request = fields("DoExpressCheckoutPayment", try captureFields(row, current: current))
        default: throw ProcessorError(.unsupported(action), processor: Self.name, action: "preview")
        }
        return request
    }
}
