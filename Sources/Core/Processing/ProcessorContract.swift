public import Foundation

/// Which pending-row field names a payment at its processor: what an
/// adapter asks about, what the CLI, the demo, the benches and the tests
/// set when they make a row for an id.
public enum PaymentIdentity: String, Sendable, CaseIterable {
    /// Our order id (`order_id`), which the processor echoes.
    case orderID = "order_id"
    /// The processor's session or token (`gateway_session_id`), from a redirect flow.
    case sessionToken = "gateway_session_id"
    /// The processor's payment or transaction id (`gateway_txn_id`), from a REST API.
    case transactionID = "gateway_txn_id"

    /// The value `row` carries for this field (the message's copy when the column is empty).
    public func value(in row: PendingRecord) -> String? {
        let column: String?
        switch self {
        case .orderID: column = row.orderID
        case .sessionToken: column = row.gatewaySessionID
        case .transactionID: column = row.gatewayTxnID
        }
        let value = column ?? row.message[rawValue]?.scalarText
        return value?.isEmpty == false ? value : nil
    }

    /// A pending row for payment `id` at `gateway`, as a frontend would have
    /// stored it: `order_id` is `orderID` (default `id`), this field is `id`,
    /// and `message` holds both plus `extra`.
    public func row(gateway: String, id: String, orderID: String? = nil, date: Date = Date(),
                    extra: [String: JSONValue] = [:]) -> PendingRecord {
        let order = orderID ?? id
        var message = extra.merging(["gateway": .string(gateway), "order_id": .string(order)]) { $1 }
        message[rawValue] = .string(id)
        return PendingRecord(id: 0, date: date, gateway: gateway, gatewayAccount: nil, orderID: self == .orderID ? id : order,
                             gatewayTxnID: self == .transactionID ? id : nil, gatewaySessionID: self == .sessionToken ? id : nil,
                             contributionTrackingID: nil, paymentMethod: nil, message: message, attempts: 0,
                             lastAttemptDate: nil, nextAttemptDate: nil, resolution: nil, resolvedDate: nil)
    }

    /// The pending message's JSON members naming payment `id` (without braces,
    /// each preceded by a comma), for text-built messages: `,"order_id":"…"`
    /// is not included; e.g. `,"gateway_txn_id":"…"`.
    public func jsonMembers(_ id: String) -> String {
        self == .orderID ? "" : #","\#(rawValue)":\#(JSONValue.string(id).serialized())"#
    }
}

/// A call that moves money, and what makes a repeat of it harmless.
public struct MoneyMovingAction: Sendable, Equatable {
    /// The action.
    public let capability: ProcessorCapability
    /// How a repeated call is made harmless (the processor's duplicate
    /// answer, an idempotency key, a check before creating, …).
    public let idempotency: String

    /// An action and its idempotency.
    public init(_ capability: ProcessorCapability, idempotency: String) {
        self.capability = capability
        self.idempotency = idempotency
    }
}
