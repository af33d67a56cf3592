/// Why a processor call gave no usable answer. None of these is ever a
/// "failed" verdict: the caller leaves the payment and asks again later.
public struct ProcessorError: Error, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Kind: Sendable, Equatable {
        /// The request never got a complete answer (connection, timeout, reset, size).
        case transport(HTTPError.Kind)
        /// An HTTP status other than 200.
        case httpStatus(Int)
        /// A 200 answer that does not parse as the API's format.
        case malformedResponse(String)
        /// The processor answered with an error code it did not explain as a payment state.
        case processorError(code: String, message: String)
        /// The processor refused our credentials or signature (its own code, or
        /// HTTP 401/403): nothing about the payment was learnt.
        case authentication(code: String, message: String)
        /// An HTTP error status with the answer's body kept as evidence (masked).
        case httpError(status: Int, body: String)
        /// The adapter cannot do this.
        case unsupported(ProcessorCapability)
        /// Configuration or credentials are missing or wrong.
        case configuration(String)
        /// The answer cannot be trusted either way (a capture was attempted
        /// and the processor has since forgotten the payment): a person must look.
        case ambiguous(String)
    }

    /// What went wrong.
    public let kind: Kind
    /// The processor's name.
    public let processor: String
    /// What was being done ("GetExpressCheckoutDetails for EC-…").
    public let action: String

    /// An error.
    public init(_ kind: Kind, processor: String, action: String) {
        self.kind = kind
        self.processor = processor
        self.action = action
    }

    /// One line for an operator.
    public var description: String {
        let what: String
        switch kind {
        case .transport(let k): what = HTTPError(kind: k, url: "the \(processor) endpoint").description
        case .httpStatus(let code): what = "HTTP status \(code)"
        case .httpError(let code, let body): what = "HTTP status \(code): \(body)"
        case .authentication(let code, let message): what = "credentials refused (\(code)): \(message)"
        case .malformedResponse(let why): what = "malformed answer: \(why)"
        case .processorError(let code, let message): what = "error \(code): \(message)"
        case .unsupported(let capability): what = "\(processor) does not support \(capability.rawValue)"
        case .configuration(let why): what = why
        case .ambiguous(let why): what = "ambiguous answer: \(why)"
        }
        return "\(processor) \(action): \(what)"
    }

    /// This error with `mask` applied to every text it carries from or about
    /// the answer and `actionMask` (default `mask`) to the action, so that
    /// no credential, card number or donor data echoed by a processor is
    /// ever shown.
    public func masked(_ mask: (String) -> String, action actionMask: ((String) -> String)? = nil) -> ProcessorError {
        let kind: Kind
        switch self.kind {
        case .transport(let k): kind = .transport(Self.masked(k, mask))
        case .httpStatus, .unsupported: kind = self.kind
        case .malformedResponse(let why): kind = .malformedResponse(mask(why))
        case .processorError(let code, let message): kind = .processorError(code: mask(code), message: mask(message))
        case .authentication(let code, let message): kind = .authentication(code: mask(code), message: mask(message))
        case .httpError(let code, let body): kind = .httpError(status: code, body: mask(body))
        case .configuration(let why): kind = .configuration(mask(why))
        case .ambiguous(let why): kind = .ambiguous(mask(why))
        }
        return ProcessorError(kind, processor: processor, action: actionMask.map { $0(action) } ?? mask(action))
    }

    static func masked(_ kind: HTTPError.Kind, _ mask: (String) -> String) -> HTTPError.Kind {
        switch kind {
        case .invalidURL(let why): return .invalidURL(mask(why))
        case .connectionFailed(let why): return .connectionFailed(mask(why))
        case .tls(let why): return .tls(mask(why))
        case .transport(let why): return .transport(mask(why))
        case .insecureURL, .timedOut, .responseTooLarge: return kind
        }
    }

    /// Whether asking again later may help (everything but unsupported,
    /// configuration and ambiguous; refused credentials are fixed by an
    /// operator, and the payment is asked about again after that).
    public var isRetryable: Bool {
        switch kind {
        case .unsupported, .configuration, .ambiguous: return false
        default: return true
        }
    }
}
