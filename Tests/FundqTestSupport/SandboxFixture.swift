public import Core
import Foundation
public import Processors
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

/// A pending row for adapter tests.
public func pendingRecord(gateway: String, orderID: String, token: String? = nil, gross: String = "10.00", currency: String = "EUR") -> PendingRecord {
    var message: [String: JSONValue] = ["gateway": .string(gateway), "order_id": .string(orderID), "gross": .string(gross),
                                        "currency": .string(currency), "date": .number("1764000000")]
    if let token { message["gateway_session_id"] = .string(token) }
    return PendingRecord(id: 1, date: Date(timeIntervalSince1970: 1_764_000_000), gateway: gateway, gatewayAccount: nil, orderID: orderID,
                         gatewayTxnID: nil, gatewaySessionID: token, contributionTrackingID: nil, paymentMethod: nil, message: message,
                         attempts: 0, lastAttemptDate: nil, nextAttemptDate: nil, resolution: nil, resolvedDate: nil)
}
