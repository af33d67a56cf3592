public import Core
import Foundation
import Processors
import Synchronization

/// How a scripted order or token behaves at the sandbox.
public enum SandboxOutcome: String, Sendable, CaseIterable {
    /// Paid.
    case complete
    /// Still in progress at the processor.
    case pending
    /// Authorized: waiting for us to capture. Each processor's simulator
    /// documents its own wire form of each outcome.
    case pendingPoke = "pending-poke"
    /// 3-D Secure done: the payment needs a finish call.
    case finish
    /// Refused by the processor.
    case failed
    /// Cancelled.
    case cancelled
    /// The session or token expired at the processor.
    case expired
    /// The donor never approved.
    case abandoned
    /// The capture answers "already paid": the payment was captured before.
    case duplicate
    /// Answers as `complete`, but 2 seconds late.
    case slow
    /// HTTP 503 with an HTML page.
    case serverError = "5xx"
    /// HTTP 200 with a body in no known format.
    case malformed
    /// HTTP 200 with an HTML error page.
    case html
    /// HTTP 200 with the answer cut in the middle.
    case truncated
    /// A name-value answer without its acknowledgement field.
    case noAck = "no-ack"
    /// The connection is reset.
    case reset
    /// Nothing is answered for 30 seconds.
    case stall
    /// A 10 MB answer.
    case huge
    /// Approved, but the capture takes less than was asked.
    case shortCapture = "short-capture"

    /// What every simulator plays the same way, whatever its wire format.
    public static let misbehaviours: Set<SandboxOutcome> = [.serverError, .malformed, .html, .truncated, .reset, .stall, .huge]

    /// The status a simulator's adapter must read for this outcome on an
    /// orphan (after its ``PaymentProcessor/orphanStatus(_:)``): the
    /// contract every simulator plays its wire format to. Nil: no status
    /// (a misbehaviour, or an outcome whose reading is the processor's own).
    public var normalized: NormalizedStatus? {
        switch self {
        case .complete, .slow: return .complete
        case .pending: return .pending
        case .pendingPoke, .finish, .shortCapture: return .pendingPoke
        case .failed: return .failed
        case .cancelled: return .cancelled
        case .expired, .abandoned: return .timeout
        default: return nil
        }
    }
}

/// A capture (or finish, or profile creation) the sandbox performed: the
/// money-moving log the tests check for doubles.
public struct SandboxCapture: Sendable, Equatable {
    /// The simulator's ledger (its processor's name, or the API it shares).
    public let processor: String
    /// Token or order id.
    public let id: String
    /// The API call.
    public let action: String
    /// Amount and currency, as sent.
    public let amount: String
}

/// Local simulators of the registered processors' real wire APIs, each
/// routed by its own ``ProcessorSimulator/routes`` (``Simulators``), with
/// outcomes scripted per payment id, and a log of every capture.
/// `fundq sandbox` serves it; tests and the demo start it in-process.
public final class Sandbox: Sendable {
    /// One scripted payment.
    struct Order: Sendable {
        var outcome: SandboxOutcome
        var amount: String
        var currency: String
        var captures = 0
        /// The simulator's wire state (``ProcessorSimulator/initialState(for:)``).
        var state: String
    }

    /// One simulator's scripted payments, under their own lock: a
    /// simulator's requests never wait for another's.
    final class Ledger: Sendable {
        /// Payment id → order.
        let orders = Mutex<[String: Order]>([:])
    }

    /// The registered simulators, each once.
    private let simulators: [any ProcessorSimulator.Type]
    /// Ledger name → its orders.
    private let ledgers: [String: Ledger]
    private let captureLog = Mutex<[SandboxCapture]>([])
    /// Each simulator's own state (``SimulatorState``), by its type.
    private let simulatorStates = Mutex<[ObjectIdentifier: any SimulatorState]>([:])
    private let requests = Atomic<Int>(0)
    private let server = Mutex<LoopbackHTTPServer?>(nil)

    /// A sandbox, not yet listening.
    public init() {
        simulators = Simulators.distinct
        ledgers = Dictionary(uniqueKeysWithValues: simulators.map { ($0.ledger, Ledger()) })
    }

    /// Starts listening on 127.0.0.1:`port` (0 picks a free one); returns the port.
    @discardableResult
    public func start(port: Int = 0) throws -> Int {
        let http = try LoopbackHTTPServer(port: port) { [self] request in handle(request) }
        server.withLock { $0 = http }
        return http.port
    }

    /// Stops listening.
    public func stop() {
        server.withLock { $0?.stop(); $0 = nil }
    }

    /// The base URL, once started.
    public var baseURL: String {
        "http://127.0.0.1:\(server.withLock { $0?.port ?? 0 })"
    }

    /// The environment that points every registered adapter at this
    /// sandbox, with the credentials its simulator accepts.
    public var environment: [String: String] {
        Simulators.distinct.reduce(into: [:]) { $0.merge($1.environment(baseURL: baseURL)) { $1 } }
    }

    /// Scripts how payment `id` (in the field its adapter names payments
    /// by) behaves at `processor`'s simulator. Throws for a processor that
    /// is not registered or has no simulator, and for an outcome its
    /// simulator does not play: never a silent fallback to another's.
    public func script(_ processor: String, id: String, outcome: SandboxOutcome, amount: String = "10.00",
                       currency: String = "EUR") throws {
        let adapter = try Simulators.named(processor)
        guard adapter.simulatedOutcomes.contains(outcome) else {
            throw ConfigurationError("the \(processor) simulator does not play '\(outcome.rawValue)'; it plays "
                                     + adapter.simulatedOutcomes.map(\.rawValue).sorted().joined(separator: ", "))
        }
        let simulator = adapter.simulator
        let order = Order(outcome: outcome, amount: amount, currency: currency, state: simulator.initialState(for: outcome))
        ledgers[simulator.ledger]?.orders.withLock { $0[id] = order }
    }

    /// The scripted payment `id` in `ledger`.
    func order(_ ledger: String, _ id: String) -> Order? {
        ledgers[ledger]?.orders.withLock { $0[id] }
    }

    /// Changes the scripted payment `id` in `ledger`.
    func update(_ ledger: String, _ id: String, _ change: (inout Order) -> Void) {
        ledgers[ledger]?.orders.withLock { orders in
            if var order = orders[id] {
                change(&order)
                orders[id] = order
            }
        }
    }

    /// Records a money-moving call on `id`; `counts` false for an answered
    /// duplicate (logged as an attempt on the order, not as a capture).
    func recordCapture(_ ledger: String, id: String, action: String, amount: String, counts: Bool) {
        // Under the ledger's lock (then the log's), so that the log and the order's count never disagree.
        ledgers[ledger]?.orders.withLock { orders in
            if counts { captureLog.withLock { $0.append(SandboxCapture(processor: ledger, id: id, action: action, amount: amount)) } }
            orders[id]?.captures += 1
        }
    }

    /// Reads or changes a simulator's own state of type `S` (created empty
    /// on first use), under the lock of the simulators' states.
    func withSimulatorState<S: SimulatorState, T>(_ type: S.Type, _ body: (inout S) -> T) -> T {
        simulatorStates.withLock { states in
            let key = ObjectIdentifier(type)
            // Taken out of the table while it changes, so that its storage is not copied on every change.
            var value = states.removeValue(forKey: key) as? S ?? S()
            let result = body(&value)
            states[key] = value
            return result
        }
    }

    /// Every capture performed so far.
    public var captures: [SandboxCapture] { captureLog.withLock { $0 } }

    /// Requests served so far.
    public var requestCount: Int { requests.load(ordering: .relaxed) }

    /// Answers one request: the sandbox's own endpoints, else the
    /// registered simulator whose route matches.
    public func handle(_ request: HTTPServerRequest) -> HTTPServerReply {
        requests.add(1, ordering: .relaxed)
        switch (request.method, request.path) {
        case ("POST", "/_sandbox/orders"): return control(request)
        case ("GET", "/_sandbox/captures"):
            let list = JSONValue.array(captures.map {
                .object(["processor": .string($0.processor), "id": .string($0.id), "action": .string($0.action),
                         "amount": .string($0.amount)])
            })
            return .ok(list.serialized(), contentType: "application/json")
        case ("GET", "/health"): return .ok("ok\n", contentType: "text/plain")
        default:
            let simulator = simulators.first { simulator in
                simulator.routes.contains { $0.method == request.method && request.path.hasPrefix($0.pathPrefix) }
            }
            if let simulator { return simulator.answer(request, sandbox: self) }
            return .response(status: 404, contentType: "text/plain", body: Array("no such sandbox endpoint\n".utf8), delay: .zero)
        }
    }

    /// `POST /_sandbox/orders` with `{"processor","id","outcome","amount","currency"}`;
    /// 400 for an unknown processor or outcome.
    func control(_ request: HTTPServerRequest) -> HTTPServerReply {
        func refuse(_ why: String) -> HTTPServerReply {
            .response(status: 400, contentType: "text/plain", body: Array((why + "\n").utf8), delay: .zero)
        }
        guard let o = (try? JSONParser().parse(request.body))?.objectValue, let processor = o["processor"]?.scalarText,
              let id = o["id"]?.scalarText, let outcome = o["outcome"]?.scalarText.flatMap(SandboxOutcome.init(rawValue:)) else {
            return refuse("expected {\"processor\",\"id\",\"outcome\"} with outcome one of \(SandboxOutcome.allCases.map(\.rawValue))")
        }
        do {
            try script(processor, id: id, outcome: outcome, amount: o["amount"]?.scalarText ?? "10.00",
                       currency: o["currency"]?.scalarText ?? "EUR")
        } catch {
            return refuse("\(error)")
        }
        return .ok("scripted\n", contentType: "text/plain")
    }

    /// The answer for an outcome that misbehaves whatever was asked, if any.
    func misbehaviour(_ outcome: SandboxOutcome, contentType: String, truncatedOf full: String) -> HTTPServerReply? {
        switch outcome {
        case .serverError:
            let page = "<html><body><h1>503 Service Unavailable</h1></body></html>"
            return .response(status: 503, contentType: "text/html", body: Array(page.utf8), delay: .zero)
        case .malformed: return .ok("\u{1}\u{2}garbage{{{", contentType: contentType)
        case .html: return .ok("<!DOCTYPE html><html><body>We are down for maintenance</body></html>", contentType: "text/html")
        case .truncated: return .ok(String(full.prefix(full.count / 2)), contentType: contentType)
        case .reset: return .reset
        case .stall: return .stall(.seconds(30))
        case .huge:
            let body = [UInt8](repeating: UInt8(ascii: "A"), count: 10 << 20)
            return .response(status: 200, contentType: contentType, body: body, delay: .zero)
        default: return nil
        }
    }
}
