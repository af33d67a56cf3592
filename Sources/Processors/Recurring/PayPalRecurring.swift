public import Core
import Foundation

/// PayPal recurring donations: an Express Checkout with a billing agreement,
/// turned into a recurring payments profile once the donor has approved.
/// Status: GetRecurringPaymentsProfileDetails when the row already names its
/// profile (`subscr_id`), else GetExpressCheckoutDetails. Finish:
/// CreateRecurringPaymentsProfile — but first, if the row names a profile,
/// GetRecurringPaymentsProfileDetails, so that one checkout never gets two
/// profiles. Cancel: ManageRecurringPaymentsProfileStatus. Wire facts:
/// docs/processors/paypal-recurring.md.
public final class PayPalRecurring: PaymentProcessor {
    public static let name = "paypal-recurring"
    public static let gateway = "paypal-recurring"
    public static let capabilities: Set<ProcessorCapability> = [.status, .createRecurringProfile, .cancel]
    /// The pending row's `gateway_session_id` is the EC-… checkout token.
    public static let paymentIdentity = PaymentIdentity.sessionToken
    public static let moneyMovingActions = [
        MoneyMovingAction(.createRecurringProfile, idempotency: "the rectifier records its intent first; a row that names its "
                          + "profile (subscr_id) is checked with GetRecurringPaymentsProfileDetails instead of creating another, "
                          + "and an intent without a known outcome goes to review (look for PROFILEREFERENCE = the order id)"),
        MoneyMovingAction(.cancel, idempotency: "ManageRecurringPaymentsProfileStatus ACTION=Cancel of a cancelled profile "
                          + "changes nothing"),
    ]

    public let configuration: ProcessorConfiguration
    let checkout: PayPalExpressCheckout

    public init(configuration: ProcessorConfiguration, credentials: Credentials) throws {
        self.configuration = configuration
        checkout = try PayPalExpressCheckout(configuration: configuration, credentials: credentials)
    }

    static func profileID(_ row: PendingRecord) -> String? {
        (row.message["subscr_id"] ?? row.message["recurring_payment_id"])?.scalarText.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Profile STATUS → normalized status.
    public static func normalized(profileStatus: String) -> NormalizedStatus {
        switch profileStatus {
        case "Active", "ActiveProfile": return .complete
        case "Pending", "PendingProfile": return .pending
        case "Cancelled": return .cancelled
        case "Suspended": return .onHold
        case "Expired": return .timeout
        default: return .unknown
        }
    }

    func profileStatus(_ profile: String) throws -> ProcessorStatus {
        let action = "GetRecurringPaymentsProfileDetails for \(profile)"
        let reply = try checkout.call("GetRecurringPaymentsProfileDetails", [("PROFILEID", profile)], action: action, idempotent: true)
        if reply["ACK"]!.hasPrefix("Failure") {
            throw PayPalExpressCheckout.error(PayPalExpressCheckout.errors(reply), action: action, processor: Self.name)
        }
        let status = reply["STATUS"] ?? ""
        return ProcessorStatus(status: Self.normalized(profileStatus: status),
                               evidence: "profile \(profile) STATUS=\(status.isEmpty ? "(missing)" : status)",
                               raw: checkout.raw(reply), transactionID: profile,
                               details: ["PROFILEID": profile, ProcessorStatus.recurringProfile: profile])
    }

    public func status(of row: PendingRecord) throws -> ProcessorStatus {
        try checkout.http.masking { try unmaskedStatus(of: row) }
    }

    func unmaskedStatus(of row: PendingRecord) throws -> ProcessorStatus {
        if let profile = Self.profileID(row) { return try profileStatus(profile) }
        return try checkout.status(of: row)
    }

    func createFields(_ row: PendingRecord, current: ProcessorStatus) throws -> [(String, String)] {
        let capture = try checkout.captureFields(row, current: current).filter { $0.0 != "MSGSUBID" }
        let token = capture[0].1
        let amount = capture.first { $0.0 == "PAYMENTREQUEST_0_AMT" }!.1
        let currency = capture.first { $0.0 == "PAYMENTREQUEST_0_CURRENCYCODE" }!.1
        let start = Date().addingTimeInterval(60).formatted(.iso8601)
        return [("TOKEN", token), ("PROFILESTARTDATE", start), ("DESC", configuration.settings["description"] ?? "Monthly donation"),
                ("PROFILEREFERENCE", row.orderID ?? token), ("BILLINGPERIOD", "Month"), ("BILLINGFREQUENCY", "1"),
                ("TOTALBILLINGCYCLES", "0"), ("MAXFAILEDPAYMENTS", configuration.settings["max_failed_payments"] ?? "3"),
                ("AUTOBILLOUTAMT", "NoAutoBill"), ("AMT", amount), ("CURRENCYCODE", currency)]
    }

    /// Creates the profile, unless the row already names one (then its
    /// status is returned and nothing is created).
    public func finish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        try checkout.http.masking { try unmaskedFinish(row, current: current) }
    }

    func unmaskedFinish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        if let profile = Self.profileID(row) {
            var existing = try profileStatus(profile)
            existing.evidence = "profile \(profile) already exists (not created again): " + existing.evidence
            return existing
        }
        let fields = try createFields(row, current: current)
        let action = "CreateRecurringPaymentsProfile for \(fields[0].1)"
        let reply = try checkout.call("CreateRecurringPaymentsProfile", fields, action: action, idempotent: false)
        if reply["ACK"]!.hasPrefix("Failure") {
            throw PayPalExpressCheckout.error(PayPalExpressCheckout.errors(reply), action: action, processor: Self.name)
        }
        guard let profile = reply["PROFILEID"], !profile.isEmpty else {
            throw ProcessorError(.malformedResponse("no PROFILEID in a successful answer"), processor: Self.name, action: action)
        }
        let profileState = reply["PROFILESTATUS"] ?? ""
        var details = current.details
        details["PROFILEID"] = profile
        details[ProcessorStatus.recurringProfile] = profile  // the rectifier records it in the row's subscr_id
        return ProcessorStatus(status: Self.normalized(profileStatus: profileState),
                               evidence: "created profile \(profile), PROFILESTATUS=\(profileState)",
                               raw: checkout.raw(reply), transactionID: profile, details: details)
    }

    public func cancel(_ row: PendingRecord) throws -> ProcessorStatus {
        try checkout.http.masking { try unmaskedCancel(row) }
    }

    func unmaskedCancel(_ row: PendingRecord) throws -> ProcessorStatus {
        guard let profile = Self.profileID(row) else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(row.orderID ?? "?") names no recurring profile (subscr_id)"),
                                 processor: Self.name, action: "ManageRecurringPaymentsProfileStatus")
        }
        let action = "ManageRecurringPaymentsProfileStatus Cancel for \(profile)"
        let reply = try checkout.call("ManageRecurringPaymentsProfileStatus", [("PROFILEID", profile), ("ACTION", "Cancel")],
                                      action: action, idempotent: false)
        if reply["ACK"]!.hasPrefix("Failure") {
            throw PayPalExpressCheckout.error(PayPalExpressCheckout.errors(reply), action: action, processor: Self.name)
        }
        return try profileStatus(profile)
    }

    public func preview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        try checkout.http.maskingPreview { try unmaskedPreview(action, for: row, current: current) }
    }

    /// The request `action` would send for `row`, built but not rendered.
    public func validate(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws {
        _ = try checkout.http.maskingErrors { try previewFields(action, for: row, current: current) }
    }

    func unmaskedPreview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        let request = try previewFields(action, for: row, current: current)
        return "POST \(configuration.endpoint)\n"
            + NVP.redacted(Dictionary(request, uniquingKeysWith: { $1 }), secrets: checkout.credentials.secrets)
    }

    func previewFields(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> [(String, String)] {
        let request: [(String, String)]
        switch action {
        case .status:
            if let profile = Self.profileID(row) {
                request = checkout.fields("GetRecurringPaymentsProfileDetails", [("PROFILEID", profile)])
            } else {
                request = checkout.fields("GetExpressCheckoutDetails", [("TOKEN", try checkout.token(of: row, action: "preview"))])
            }
        case .createRecurringProfile, .finish:
            guard let current else {
                throw ProcessorError(.configuration("creating a profile needs the current status"), processor: Self.name, action: "preview")
            }
            request = checkout.fields("CreateRecurringPaymentsProfile", try createFields(row, current: current))
        case .cancel:
            request = checkout.fields("ManageRecurringPaymentsProfileStatus",
                                      [("PROFILEID", Self.profileID(row) ?? "?"), ("ACTION", "Cancel")])
        }
        return request
    }
}
