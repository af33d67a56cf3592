public import Core
import Processors

/// A request a simulator answers: a method and a path prefix.
public struct SandboxRoute: Sendable, Hashable {
    /// `GET` or `POST`.
    public let method: String
    /// The paths it covers ("/nvp", "/v1/").
    public let pathPrefix: String

    /// A route.
    public init(_ method: String, _ pathPrefix: String) {
        self.method = method
        self.pathPrefix = pathPrefix
    }
}

/// A simulator of one processor's wire API: how it plays each normalized
/// scripted outcome (``SandboxOutcome``) in its own wire format. It lives in
/// the processor's folder (`Sources/Processors/NAME/Simulator/`, compiled
/// into this module, never into the adapters') and is registered there by
/// making the adapter a ``SimulatedProcessor``.
public protocol ProcessorSimulator: Sendable {
    /// The namespace of scripted ids: adapters over one API share one
    /// (one API serving one-off payments and recurring profiles).
    static var ledger: String { get }
    /// The requests it answers.
    static var routes: [SandboxRoute] { get }
    /// The outcomes it plays besides the misbehaviours every simulator
    /// plays (``SandboxOutcome/misbehaviours``).
    static var outcomes: Set<SandboxOutcome> { get }
    /// Its wire state for a newly scripted `outcome` (a status code or
    /// name, as its API spells it), kept with the scripted id.
    static func initialState(for outcome: SandboxOutcome) -> String
    /// The environment that points its adapters at `baseURL` with the
    /// credentials it accepts.
    static func environment(baseURL: String) -> [String: String]
    /// Answers one request routed to it.
    static func answer(_ request: HTTPServerRequest, sandbox: Sandbox) -> HTTPServerReply
}

/// What a simulator keeps besides its scripted payments (recurring
/// profiles, the notifications it issued): declared in the simulator's own
/// folder, one value per type in each ``Sandbox``, created empty on first use
/// and read or changed under the lock of the simulators' states (`withSimulatorState`).
public protocol SimulatorState: Sendable {
    /// The state of a sandbox that has served nothing yet.
    init()
}

/// An adapter with a simulator: the registration, declared in the
/// processor's own folder (`extension NAME: SimulatedProcessor`).
public protocol SimulatedProcessor: PaymentProcessor {
    /// Its simulator.
    static var simulator: any ProcessorSimulator.Type { get }
    /// The outcomes this adapter can be scripted with (default: all its simulator plays).
    static var simulatedOutcomes: Set<SandboxOutcome> { get }
}

extension SimulatedProcessor {
    /// Every outcome its simulator plays, misbehaviours included.
    public static var simulatedOutcomes: Set<SandboxOutcome> { simulator.outcomes.union(SandboxOutcome.misbehaviours) }
}

/// The registered processors' simulators, in registry order.
public enum Simulators {
    /// Every registered adapter with a simulator.
    public static var all: [any SimulatedProcessor.Type] {
        Processors.all.compactMap { $0 as? any SimulatedProcessor.Type }
    }

    /// The simulated adapter called `name`; throws when no processor has
    /// that name or it has no simulator (never a fallback to another's).
    public static func named(_ name: String) throws -> any SimulatedProcessor.Type {
        guard let type = Processors.named(name) else {
            throw ConfigurationError("the sandbox has no processor called '\(name)'; registered: "
                                     + Processors.all.map { $0.name }.joined(separator: ", "))
        }
        guard let simulated = type as? any SimulatedProcessor.Type else {
            throw ConfigurationError("processor '\(name)' registers no simulator (Sources/Processors/…/Simulator)")
        }
        return simulated
    }

    /// Each simulator once (adapters may share one), in registry order.
    static var distinct: [any ProcessorSimulator.Type] {
        var seen: Set<String> = []
        return all.map { $0.simulator }.filter { seen.insert($0.ledger).inserted }
    }
}
