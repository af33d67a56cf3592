public import Core
public import Foundation

/// The static registry of payment processor adapters. Adding a processor:
/// one folder here, one `processors/NAME.yaml`, one line below (see
/// docs/adding-a-processor.md).
public enum Processors {
    /// Every registered adapter type.
    public static let all: [any PaymentProcessor.Type] = [
        GlobalCollect.self,
        PayPalExpressCheckout.self,
        PayPalRecurring.self,
        IngenicoConnect.self,
    ]

    /// An adapter for processor `name`, configured from `directory/NAME.yaml`
    /// and `environment` (overrides and credential values).
    public static func make(_ name: String, directory: String,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any PaymentProcessor {
        guard let type = named(name) else {
            throw ConfigurationError("no processor called '\(name)'; registered: \(all.map { $0.name }.joined(separator: ", "))")
        }
        let configuration = try ProcessorConfiguration.load(name: name, directory: directory, environment: environment)
        return try type.init(configuration: configuration, credentials: try Credentials(for: configuration, environment: environment))
    }

    /// The adapter type called `name`.
    public static func named(_ name: String) -> (any PaymentProcessor.Type)? {
        all.first { $0.name == name }
    }
}
