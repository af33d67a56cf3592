public import Foundation

/// A completed donation from the `donations` queue, validated as
/// the donations table requires: `gateway`, `gateway_txn_id`, a three-letter
/// `currency` and `gross > 0`.
public struct DonationMessage: Sendable, Equatable {
    /// The processor's code.
    public var gateway: String
    /// The processor's transaction id (unique per gateway).
    public var gatewayTxnID: String
    /// Our order id, if any.
    public var orderID: String?
    /// The contribution tracking id, if any.
    public var contributionTrackingID: String?
    /// ISO 4217 code.
    public var currency: String
    /// Amount given.
    public var gross: DonationAmount
    /// Processor fee, if known.
    public var fee: DonationAmount?
    /// When the donation was made.
    public var date: Date?
    /// `completion_message_id`: "GATEWAY-ORDER_ID" of the pending row this
    /// donation completes.
    public var completionMessageID: String?
    /// Every field of the message.
    public var members: [String: JSONValue]

    /// Validates `members`; the error names the field and the reason.
    public init(members: [String: JSONValue]) throws(DonationFieldError) {
        let f = MessageFields(members: members)
        gateway = try f.requiredIdentifier("gateway")
        gatewayTxnID = try f.requiredIdentifier("gateway_txn_id")
        orderID = try f.identifier("order_id")
        contributionTrackingID = try f.identifier("contribution_tracking_id")
        guard let currency = try f.text("currency") else { throw DonationFieldError("currency", "is missing") }
        guard currency.count == 3, currency.allSatisfy({ ("A"..."Z").contains($0) }) else {
            throw DonationFieldError("currency", "must be a three-letter ISO 4217 code (got \"\(currency.prefix(20))\")")
        }
        self.currency = currency
        guard let grossText = try f.text("gross") else { throw DonationFieldError("gross", "is missing") }
        guard let gross = DonationAmount(grossText) else {
            throw DonationFieldError("gross", "must be a decimal amount with at most 16 integer digits and 4 decimals "
                + "(got \"\(grossText.prefix(40))\")")
        }
        guard gross.isPositive else { throw DonationFieldError("gross", "must be greater than 0 (got \"\(grossText)\")") }
        self.gross = gross
        if let feeText = try f.text("fee") {
            guard let fee = DonationAmount(feeText) else {
                throw DonationFieldError("fee", "must be a decimal amount with at most 16 integer digits and 4 decimals "
                    + "(got \"\(feeText.prefix(40))\")")
            }
            self.fee = fee
        } else {
            fee = nil
        }
        date = try f.unixDate("date").map(Date.init(timeIntervalSince1970:))
        completionMessageID = try f.identifier("completion_message_id")
        self.members = members
    }

    /// Roughly how many bytes the row takes in an INSERT statement.
    var approximateBytes: Int {
        members.reduce(256) { total, member in total + member.key.utf8.count + member.value.approximateBytes }
    }

    /// The order id named by `completion_message_id` ("GATEWAY-ORDER_ID").
    public func completedOrderID() throws(DonationFieldError) -> String? {
        guard let id = completionMessageID else { return nil }
        let prefix = gateway + "-"
        guard id.hasPrefix(prefix), id.count > prefix.count else {
            throw DonationFieldError("completion_message_id", "must be \"\(gateway)-ORDER_ID\" (got \"\(id.prefix(60))\")")
        }
        return String(id.dropFirst(prefix.count))
    }
}

/// A message for the `pending` queue: a payment in progress. Needs
/// `gateway`, `date` and one of `order_id` / `gateway_txn_id`.
public struct PendingMessage: Sendable, Equatable {
    /// The processor's code.
    public var gateway: String
    /// When the payment started.
    public var date: Date
    /// Our order id.
    public var orderID: String?
    /// The processor's transaction id.
    public var gatewayTxnID: String?
    /// Every field of the message.
    public var members: [String: JSONValue]

    /// Validates `members`; the error names the field and the reason.
    public init(members: [String: JSONValue]) throws(DonationFieldError) {
        let f = MessageFields(members: members)
        gateway = try f.requiredIdentifier("gateway")
        guard let seconds = try f.unixDate("date") else { throw DonationFieldError("date", "is missing") }
        date = Date(timeIntervalSince1970: seconds)
        orderID = try f.identifier("order_id")
        gatewayTxnID = try f.identifier("gateway_txn_id")
        guard orderID != nil || gatewayTxnID != nil else {
            throw DonationFieldError("order_id", "is missing, and so is gateway_txn_id: a pending message needs one of them")
        }
        for name in ["gateway_account", "gateway_session_id", "contribution_tracking_id", "payment_method"] {
            _ = try f.identifier(name)
        }
        self.members = members
    }

    /// Identifier columns of the row (validated lengths).
    func column(_ name: String) -> String? {
        try? MessageFields(members: members).identifier(name)
    }
}
