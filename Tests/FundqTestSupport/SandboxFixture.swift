public import Core
import Foundation
import Processors
public import Sandbox

/// The repository's own folders, for tests that read its files.
public enum RepositoryPaths {
    /// The repository root.
    public static var root: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// `processors/`, the processors' configuration files.
    public static var processors: String { root + "/processors" }
}

/// A running sandbox and adapters pointed at it over real HTTP.
public final class SandboxFixture {
    /// The simulators.
    public let sandbox = Sandbox()

    /// Starts the sandbox on a free loopback port.
    public init() throws {
        try sandbox.start()
    }

    deinit { sandbox.stop() }

    /// The environment for adapters: the sandbox's endpoints and
    /// credentials, plus `extra` overrides (e.g. a short timeout).
    public func environment(_ extra: [String: String] = [:]) -> [String: String] {
        sandbox.environment.merging(extra) { $1 }
    }

    /// An adapter for processor `name`, configured from the repository's
    /// `processors/NAME.yaml` with the sandbox's environment.
    public func processor(_ name: String, _ extra: [String: String] = [:]) throws -> any PaymentProcessor {
        try Processors.make(name, directory: RepositoryPaths.processors, environment: environment(extra))
    }
}

/// A pending row for adapter tests; `token`, when given, is the session
/// token (PayPal's EC-… token).
public func pendingRecord(gateway: String, orderID: String, token: String? = nil, gross: String = "10.00",
                          currency: String = "EUR") -> PendingRecord {
    var message: [String: JSONValue] = ["gateway": .string(gateway), "order_id": .string(orderID), "gross": .string(gross),
                                        "currency": .string(currency), "date": .number("1764000000")]
    if let token { message["gateway_session_id"] = .string(token) }
    return PendingRecord(id: 1, date: Date(timeIntervalSince1970: 1_764_000_000), gateway: gateway, gatewayAccount: nil, orderID: orderID,
                         gatewayTxnID: nil, gatewaySessionID: token, contributionTrackingID: nil, paymentMethod: nil, message: message,
                         attempts: 0, lastAttemptDate: nil, nextAttemptDate: nil, resolution: nil, resolvedDate: nil)
}

/// A pending row at registered processor `processor` for payment `id`, in the
/// field its adapter names payments by (``PaymentProcessor/paymentIdentity``),
/// with `order_id` "o-ID" unless the order id is what names it.
public func pendingRecord(processor: String, id: String, gross: String = "10.00", currency: String = "EUR") -> PendingRecord {
    let adapter = Processors.named(processor)!
    var row = adapter.paymentIdentity.row(gateway: adapter.gateway, id: id, orderID: "o-\(id)",
                                          date: Date(timeIntervalSince1970: 1_764_000_000),
                                          extra: ["gross": .string(gross), "currency": .string(currency), "date": .number("1764000000")])
    row.id = 1
    return row
}

/// The text of a pending message for payment `id` at registered processor
/// `processor` (its gateway, `order_id` `id`, and `id` in the field the
/// adapter names payments by), started at unix time `date`, plus `extra`
/// members (`,"email":"…"`).
public func pendingMessageText(processor: String, id: String, date: Int, gross: String = "10.00", currency: String = "EUR",
                               extra: String = "") -> String {
    let adapter = Processors.named(processor)!
    return #"{"gateway":"\#(adapter.gateway)","order_id":"\#(id)","date":\#(date),"gross":"\#(gross)","currency":"\#(currency)""#
        + adapter.paymentIdentity.jsonMembers(id) + extra + "}"
}

/// `FUNDQ_<NAME>_<KEY>` = value for every registered processor and every
/// `settings` entry (`["RETRY_ATTEMPTS": "1"]`): overrides that hold
/// whatever processors are registered.
public func everyProcessor(_ settings: [String: String]) -> [String: String] {
    var environment: [String: String] = [:]
    for type in Processors.all {
        let prefix = "FUNDQ_" + type.name.uppercased().replacingOccurrences(of: "-", with: "_") + "_"
        for (key, value) in settings { environment[prefix + key] = value }
    }
    return environment
}

/// The names of every registered processor, in registry order.
public var registeredProcessorNames: [String] { Processors.all.map { $0.name } }
