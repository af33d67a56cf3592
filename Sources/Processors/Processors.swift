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

    /// The processor whose notifications `fundq ipn` receives: `name`, or
    /// when nil the only one of `among` that declares notifications
    /// (``NotifyingProcessor``). Throws naming the choices when `name` is
    /// unknown or declares none, or when none or several declare them.
    public static func notifying(named name: String?,
                                 among registered: [any PaymentProcessor.Type] = all) throws -> any NotifyingProcessor.Type {
        let notifying = registered.compactMap { $0 as? any NotifyingProcessor.Type }
        let choices = notifying.isEmpty ? "none does" : "those that do: " + notifying.map { $0.name }.joined(separator: ", ")
        guard let name else {
            guard notifying.count == 1, let only = notifying.first else {
                throw ConfigurationError("name the processor whose notifications to receive (--processor NAME): "
                                         + (notifying.isEmpty ? "no registered processor declares notifications" : choices))
            }
            return only
        }
        guard let type = registered.first(where: { $0.name == name }) else {
            throw ConfigurationError("no processor called '\(name)'; registered: \(registered.map { $0.name }.joined(separator: ", "))")
        }
        guard let receiving = type as? any NotifyingProcessor.Type else {
            throw ConfigurationError("processor '\(name)' declares no notifications (\(choices))")
        }
        return receiving
    }
}
