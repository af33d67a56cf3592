public import Processors

// Compiled into the Sandbox module (see Package.swift), never into the adapters'.

/// PayPal recurring profiles' registration with the sandbox: the same NVP
/// simulator as Express Checkout (one API, one ledger of tokens), without
/// the outcomes only a capture has (duplicate, short-capture).
extension PayPalRecurring: SimulatedProcessor {
    public static var simulator: any ProcessorSimulator.Type { PayPalSimulator.self }

    public static var simulatedOutcomes: Set<SandboxOutcome> {
        PayPalSimulator.outcomes.subtracting([.duplicate, .shortCapture]).union(SandboxOutcome.misbehaviours)
    }
}
