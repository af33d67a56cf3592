public import Core
public import CurlHTTP
public import Foundation

/// PayPal Instant Payment Notifications: verification with PayPal
/// (`cmd=_notify-validate`) and the mapping of `txn_type` to fundq's
/// messages and queues (docs/processors/paypal-recurring.md).
public enum PayPalIPN {
    /// Where a notification goes and what it says.
    public struct Normalized: Sendable, Equatable {
        /// `recurring`, `donations` or `refund`.
        public var queue: String
        /// The message to push.
        public var message: [String: JSONValue]
    }

    /// A notification fundq does not know how to route.
    public struct UnknownType: Error, CustomStringConvertible {
        /// The `txn_type` (or payment status) that was not recognised.
        public let txnType: String
        /// What is wrong.
        public var description: String { "IPN with unknown txn_type '\(txnType)'" }
    }

    /// `txn_type` → the normalized `txn_type`, or nil when unknown.
    public static func normalizedType(_ txnType: String) -> String? {
        switch txnType {
        case "recurring_payment": return "subscr_payment"
        case "recurring_payment_profile_created": return "subscr_signup"
        case "recurring_payment_profile_cancel": return "subscr_cancel"
        case "recurring_payment_failed", "recurring_payment_skipped", "recurring_payment_suspended",
             "recurring_payment_suspended_due_to_max_failed_payment": return "subscr_failed"
        case "recurring_payment_expired": return "subscr_eot"
        case "subscr_signup", "subscr_payment", "subscr_cancel", "subscr_failed", "subscr_eot", "subscr_modify": return txnType
        case "web_accept", "express_checkout", "cart": return txnType
        case "adjustment", "new_case": return txnType
        default: return nil
        }
    }

    /// Maps a verified notification's fields to a queue and a message.
    public static func normalize(_ fields: [String: String], receivedAt now: Date = Date()) throws -> Normalized {
        let status = fields["payment_status"] ?? ""
        let rawType = fields["txn_type"] ?? ""
        let isRefund = ["Refunded", "Reversed", "Canceled_Reversal"].contains(status) || rawType == "adjustment" || rawType == "new_case"
        guard isRefund || normalizedType(rawType) != nil else { throw UnknownType(txnType: rawType.isEmpty ? "(none)" : rawType) }
        let oneOff = ["web_accept", "express_checkout", "cart"].contains(rawType)
        if oneOff && !isRefund && !["Completed", "Processed", "Pending"].contains(status) {
            throw UnknownType(txnType: "\(rawType) with payment_status '\(status)' (nothing to book)")
        }
        let type = normalizedType(rawType) ?? rawType
        let recurring = type.hasPrefix("subscr_")
        var m: [String: JSONValue] = [
            "gateway": .string(recurring ? "paypal-recurring" : "paypal"),
            "date": .number(String(Int(parseDate(fields["payment_date"]) ?? now.timeIntervalSince1970))),
        ]
        func copy(_ from: String, _ to: String) {
            if let v = fields[from], !v.isEmpty { m[to] = .string(v) }
        }
        if !type.isEmpty { m["txn_type"] = .string(type) }
        copy("rp_invoice_id", "contribution_tracking_id")
        copy("custom", "contribution_tracking_id")  // custom wins when both are sent
        copy("txn_id", "gateway_txn_id")
        copy("parent_txn_id", "gateway_parent_id")
        copy("mc_gross", "gross")
        copy("mc_fee", "fee")
        copy("mc_currency", "currency")
        copy("currency_code", "currency")
        copy("subscr_id", "subscr_id")
        copy("recurring_payment_id", "subscr_id")
        copy("payer_email", "email")
        copy("first_name", "first_name")
        copy("last_name", "last_name")
        copy("address_street", "street_address")
        copy("address_city", "city")
        copy("address_state", "state_province")
        copy("address_zip", "postal_code")
        copy("address_country_code", "country")
        copy("payment_status", "payment_status")
        copy("payment_date", "payment_date")
        if m["gross"] == nil { copy("amount", "gross") }
        if recurring { m["recurring"] = .string("1") }
        if isRefund {
            m["gross"] = m["gross"].flatMap { $0.scalarText }.map { .string($0.hasPrefix("-") ? String($0.dropFirst()) : $0) }
            return Normalized(queue: "refund", message: m)
        }
        if oneOff && status == "Pending" {
            // Not money yet (an eCheck, say): a payment in progress, for the pending database.
            return Normalized(queue: "pending", message: m)
        }
        return Normalized(queue: recurring ? "recurring" : "donations", message: m)
    }

    /// PayPal's `payment_date`, "08:00:00 Nov 28, 2026 PST", as unix seconds.
    static func parseDate(_ text: String?) -> Double? {
        guard let text else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "HH:mm:ss MMM dd, yyyy zzz"
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    /// Verifies `body` with PayPal: posts `cmd=_notify-validate&` + the
    /// exact body back to `endpoint`.
    public static func verify(_ body: [UInt8], endpoint: String, client: HTTPClient) -> Result<Bool, ProcessorError> {
        do {
            let answer = try client.send(HTTPRequest(url: endpoint, headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                     body: Array("cmd=_notify-validate&".utf8) + body))
            guard answer.status == 200 else {
                return .failure(ProcessorError(.httpStatus(answer.status), processor: "paypal-ipn", action: "verifying an IPN"))
            }
            switch answer.text.trimmingCharacters(in: .whitespacesAndNewlines) {
            case "VERIFIED": return .success(true)
            case "INVALID": return .success(false)
            default:
                let shown = PersonalData.maskedText(answer.text).prefix(40)
                return .failure(ProcessorError(.malformedResponse("verification answered \(shown)"), processor: "paypal-ipn",
                                               action: "verifying an IPN"))
            }
        } catch {
            return .failure(ProcessorError(.transport(error.kind), processor: "paypal-ipn", action: "verifying an IPN"))
        }
    }

    /// Handles one notification end to end: verify, map, then push it to its
    /// queue, or keep it in the damaged store when it cannot be booked.
    /// Answers PayPal 200 once the notification is safe, 403 when it could
    /// not be verified and 500 when it could not be stored (PayPal resends
    /// both).
    public static func handle(_ body: [UInt8], verifyEndpoint: String, receiverEmail: String? = nil, client: HTTPClient,
                              store: NotificationStore) -> NotificationReply {
        switch verify(body, endpoint: verifyEndpoint, client: client) {
        case .failure(let error):
            return reply(403, "could not verify", .unverified(error.description),
                         "IPN not verified, answered 403 so PayPal resends: \(error.description)")
        case .success(false):
            return reply(403, "INVALID", .invalid, "IPN answered INVALID by PayPal: not a genuine notification; answered 403")
        case .success(true): break
        }
        // Verified by PayPal: from here on it is kept whatever it looks like.
        guard let fields = NVP.decode(String(decoding: body, as: UTF8.self)) else {
            return keep(body, "verified IPN that is not a decodable form", in: store)
        }
        if let receiver = receiverEmail, let to = fields["receiver_email"], to.lowercased() != receiver.lowercased() {
            return keep(body, "IPN for another receiver (\(to.prefix(80)))", in: store)
        }
        do {
            let normalized = try normalize(fields)
            try store.push(normalized.queue, Array(JSONValue.object(normalized.message).serialized().utf8))
            return reply(200, "OK", .pushed(normalized.queue), "IPN pushed")
        } catch let unknown as UnknownType {
            return keep(body, unknown.description, in: store)
        } catch {
            return storeFailed(error)
        }
    }

    private static func keep(_ body: [UInt8], _ reason: String, in store: NotificationStore) -> NotificationReply {
        do {
            try store.keep(body, reason)
            return reply(200, "OK", .keptAsDamaged, "IPN kept in the damaged store (queue ipn): \(reason)")
        } catch {
            return storeFailed(error)
        }
    }

    private static func storeFailed(_ error: any Error) -> NotificationReply {
        reply(500, "could not store", .storeFailed("\(error)"), "IPN verified but not stored, answered 500 so PayPal resends: \(error)")
    }

    private static func reply(_ status: Int, _ text: String, _ outcome: NotificationOutcome, _ log: String) -> NotificationReply {
        NotificationReply(status: status, text: text + "\n", outcome: outcome, logLine: log)
    }

    /// `fundq ipn`'s handler for PayPal: verifies each notification with
    /// `verifyEndpoint` over a fresh client, books it for `receiverEmail`
    /// only (when set), files what it keeps under gateway `paypal`, queue `ipn`.
    public struct Handler: NotificationHandler {
        let verifyEndpoint: String
        let receiverEmail: String?
        let http: HTTPClientConfiguration

        public var damagedGateway: String { "paypal" }
        public var damagedQueue: String { "ipn" }

        public func handle(_ notification: InboundNotification, store: NotificationStore) -> NotificationReply {
            guard let client = try? HTTPClient(configuration: http) else {
                return reply(500, "no HTTP client", .unverified("no HTTP client"),
                             "IPN not verified (no HTTP client could be made), answered 500 so PayPal resends")
            }
            return PayPalIPN.handle(notification.body, verifyEndpoint: verifyEndpoint, receiverEmail: receiverEmail,
                                    client: client, store: store)
        }
    }
}

/// PayPal sends its IPNs for Express Checkout and recurring payments alike;
/// `fundq ipn` reads its settings from processors/paypal-recurring.yaml:
/// `settings.ipn_verify_endpoint` (required) and `settings.receiver_email`
/// (optional: notifications for any other PayPal account are kept aside, not booked).
extension PayPalRecurring: NotifyingProcessor {
    public static func notificationHandler(configuration: ProcessorConfiguration) throws -> any NotificationHandler {
        guard let verifyEndpoint = configuration.settings["ipn_verify_endpoint"] else {
            throw ConfigurationError("\(configuration.source): settings.ipn_verify_endpoint is required for fundq ipn")
        }
        try HTTPClient.check(verifyEndpoint)
        return PayPalIPN.Handler(verifyEndpoint: verifyEndpoint, receiverEmail: configuration.settings["receiver_email"],
                                 http: configuration.httpConfiguration)
    }
}
