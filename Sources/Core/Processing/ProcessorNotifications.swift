/// A notification a processor sent us (an IPN, a webhook call), as
/// `fundq ipn` received it.
public struct InboundNotification: Sendable {
    /// The request path.
    public let path: String
    /// Header fields, names lowercased (repeated fields joined with ", ").
    public let headers: [String: String]
    /// The body, exactly as received (a verification may need its bytes).
    public let body: [UInt8]

    /// A notification received on `path`.
    public init(path: String, headers: [String: String], body: [UInt8]) {
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// What became of one notification; the listener logs it at the level its
/// kind deserves.
public enum NotificationOutcome: Sendable, Equatable {
    /// Verified and pushed to this queue.
    case pushed(String)
    /// Verified, but not bookable (an unknown type, another receiver, not a
    /// form): kept in the damaged store.
    case keptAsDamaged
    /// The processor says it did not send it: not a genuine notification.
    case invalid
    /// It could not be verified (answered so that the processor resends).
    case unverified(String)
    /// The body is not what the processor sends.
    case malformed
    /// Verified, but it could not be stored (answered so that the processor resends).
    case storeFailed(String)
}

/// The answer to the processor, and what became of the notification.
public struct NotificationReply: Sendable, Equatable {
    /// HTTP status: 2xx only once the notification is safe (stored or kept).
    public let status: Int
    /// Plain-text body.
    public let text: String
    /// What became of it.
    public let outcome: NotificationOutcome
    /// One line for the listener's log; never donor data.
    public let logLine: String

    /// A reply.
    public init(status: Int, text: String, outcome: NotificationOutcome, logLine: String) {
        self.status = status
        self.text = text
        self.outcome = outcome
        self.logLine = logLine
    }
}

/// Where a handler puts a notification: the listener's queues and damaged
/// store, opened per notification.
public struct NotificationStore {
    /// Pushes a message (JSON bytes) to a queue.
    public let push: (_ queue: String, _ message: [UInt8]) throws -> Void
    /// Keeps a genuine notification that cannot be booked, with the reason,
    /// in the damaged store (under the handler's `damagedGateway` and `damagedQueue`).
    public let keep: (_ body: [UInt8], _ reason: String) throws -> Void

    /// A store pushing with `push` and keeping with `keep`.
    public init(push: @escaping (String, [UInt8]) throws -> Void, keep: @escaping ([UInt8], String) throws -> Void) {
        self.push = push
        self.keep = keep
    }
}

/// A processor's receiver of inbound notifications: how one is verified,
/// what it becomes and which queue it goes to. Made once from the
/// processor's configuration when `fundq ipn` starts; called from several
/// threads at once.
public protocol NotificationHandler: Sendable {
    /// The `gateway` a kept notification is filed under in the damaged store.
    var damagedGateway: String { get }
    /// The `original_queue` a kept notification is filed under.
    var damagedQueue: String { get }
    /// Verifies, maps and stores one notification; returns the answer.
    func handle(_ notification: InboundNotification, store: NotificationStore) -> NotificationReply
}

/// An adapter whose processor sends notifications, declared in its own
/// folder (`extension NAME: NotifyingProcessor`): `fundq ipn` serves it.
public protocol NotifyingProcessor: PaymentProcessor {
    /// The handler for its notifications, from its configuration; throws
    /// when a setting it needs is missing or wrong.
    static func notificationHandler(configuration: ProcessorConfiguration) throws -> any NotificationHandler
}
