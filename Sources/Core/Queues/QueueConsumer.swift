import Foundation
public import Logging

/// How a consumer leases and gives up on messages.
public struct ConsumerPolicy: Sendable {
    /// How long a claimed message stays invisible to other consumers. A
    /// consumer that dies holding a message delays it by at most this long.
    public var lease: Duration
    /// Deliveries after which a message that is never acknowledged (its
    /// consumer keeps dying on it) goes to the damaged store instead of
    /// being handed out again.
    public var maximumDeliveries: Int
    /// Whether a body that is not a JSON object goes straight to the damaged
    /// store with the parse error, without reaching the handler.
    public var requiresJSONObject: Bool
    /// When acknowledgements are sent.
    public var acknowledgement: AcknowledgementTiming

    /// A policy; the defaults suit the donation consumers.
    public init(lease: Duration = .seconds(60), maximumDeliveries: Int = 5, requiresJSONObject: Bool = true,
                acknowledgement: AcknowledgementTiming = .immediately) {
        self.lease = lease
        self.maximumDeliveries = maximumDeliveries
        self.requiresJSONObject = requiresJSONObject
        self.acknowledgement = acknowledgement
    }
}

/// When a consumer tells the backend that messages are done.
public enum AcknowledgementTiming: Sendable {
    /// At the end of each `popAtomic` call: one extra round trip per call.
    case immediately
    /// Together with the next claim (one round trip per message in a
    /// consumer loop), or at ``QueueConsumer/flush()``. The message is still
    /// removed only after its handler succeeded; if the process dies before
    /// the next claim, the message is redelivered after its lease (at least
    /// once, as always). For tight loops that call `flush()` when they stop.
    case withNextClaim
}

/// An error a handler throws when the failure is temporary: the message
/// goes to the damaged store with a retry date, and the requeue job puts it
/// back when that date passes.
public protocol RetryableError: Error {
    /// How long to wait before retrying.
    var retryAfter: Duration { get }
}

/// Thrown by a handler to stop consuming without judging the message (the
/// consumer is shutting down, its output broke): the message is released
/// for immediate redelivery instead of being damaged, and the error is
/// rethrown to the caller of `popAtomic`.
public struct ConsumerStop: Error, Sendable, CustomStringConvertible {
    /// Why consumption stopped.
    public let reason: String

    /// A stop for `reason`.
    public init(_ reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { reason }
}

/// What one `popAtomic` call did.
public struct PopSummary: Sendable, Equatable {
    /// Messages handed to the handler or judged (0 when the queue was empty).
    public var claimed = 0
    /// Handled successfully (removed from the queue at once, or with the
    /// next claim under ``AcknowledgementTiming/withNextClaim``).
    public var acknowledged = 0
    /// Moved to the damaged store (handler threw, bad body, too many deliveries).
    public var damaged = 0
    /// Acknowledgements refused because the lease had expired and another
    /// consumer holds the message now (it was processed twice: at-least-once).
    public var leaseLost = 0

    /// An empty summary.
    public init() {}

    /// Adds `other` to this summary.
    public mutating func add(_ other: PopSummary) {
        claimed += other.claimed
        acknowledged += other.acknowledged
        damaged += other.damaged
        leaseLost += other.leaseLost
    }
}

/// The `popAtomic` side of the contract.
///
/// A message leaves the queue only when its handler returns normally. If
/// the handler throws, the message is written to the damaged store (with a
/// retry date for a ``RetryableError``) before it is removed, and the queue
/// moves on. If the process dies mid-handler, the lease expires and the
/// message is handed out again. If the damaged store cannot be written, the
/// message stays in the queue and the store's error is thrown.
public final class QueueConsumer {
    /// The backend consumed from.
    public let queue: any MessageQueue
    /// Where failed messages go.
    public let damaged: any DamagedStore
    /// Lease and delivery limits.
    public var policy: ConsumerPolicy
    /// Where decisions are logged.
    public var logger: Logger
    /// Acknowledgements waiting for the next claim, per queue.
    private var pending: [String: [DeliveryReceipt]] = [:]
    private let host = ProcessInfo.processInfo.hostName
    private let pid = ProcessInfo.processInfo.processIdentifier

    /// A consumer reading `queue` and damaging into `damaged`.
    public init(queue: any MessageQueue, damaged: any DamagedStore, policy: ConsumerPolicy = ConsumerPolicy(),
                logger: Logger = Logger(label: "fundq.consumer")) {
        self.queue = queue
        self.damaged = damaged
        self.policy = policy
        self.logger = logger
    }

    /// Hands the oldest message of `queueName` to `handler`. Returns `nil`
    /// when the queue had nothing available.
    @discardableResult
    public func popAtomic(from queueName: String, handler: (DeliveredMessage) throws -> Void) throws -> PopSummary? {
        let summary = try popAtomic(from: queueName, maximum: 1, handler: handler)
        return summary.claimed == 0 ? nil : summary
    }

    /// Claims up to `maximum` messages of `queueName` at once and hands them
    /// to `handler` one by one, oldest first. Each message is judged on its
    /// own (acknowledged or damaged); the acknowledgements are sent together
    /// at the end, in one round trip.
    public func popAtomic(from queueName: String, maximum: Int, handler: (DeliveredMessage) throws -> Void) throws -> PopSummary {
        try QueueName.validate(queueName)
        var summary = PopSummary()
        let carried = pending.removeValue(forKey: queueName) ?? []
        let messages: [DeliveredMessage]
        if carried.isEmpty {
            messages = try queue.claim(from: queueName, limit: maximum, lease: policy.lease)
        } else {
            do {
                let result = try queue.acknowledgeAndClaim(carried, in: queueName, limit: maximum, lease: policy.lease)
                noteLeaseLost(carried.count - result.acknowledged, queueName, &summary)
                messages = result.claimed
            } catch {
                pending[queueName] = carried  // not acknowledged: try again next time
                throw error
            }
        }
        summary.claimed = messages.count
        guard !messages.isEmpty else { return summary }
        var finished: [DeliveryReceipt] = []
        finished.reserveCapacity(messages.count)

        func stop(at index: Int, because error: any Error) throws -> Never {
            // Keep what was judged; hand the rest back for immediate redelivery.
            let remaining = messages[index...].map(\.receipt)
            do {
                let removed = try queue.acknowledge(finished, in: queueName)
                summary.leaseLost += finished.count - removed
                try queue.release(remaining, in: queueName)
            } catch {
                logger.error("could not settle messages while stopping; their leases will expire and they will be redelivered",
                             metadata: ["queue": "\(queueName)", "error": "\(error)"])
            }
            throw error
        }

        for (index, message) in messages.enumerated() {
            if message.deliveries > policy.maximumDeliveries {
                do {
                    try damage(message, error: "handed out \(message.deliveries) times without being acknowledged (limit \(policy.maximumDeliveries)); its consumer probably dies while handling it",
                               errorType: "DeliveryLimitExceeded", retryDate: nil)
                } catch { try stop(at: index, because: error) }
                finished.append(message.receipt)
                summary.damaged += 1
                continue
            }
            if policy.requiresJSONObject {
                do {
                    _ = try MessageValidator(maximumBytes: .max).keys(message.body)
                } catch let invalid {
                    do {
                        try damage(message, error: invalid.description, errorType: "MessageError", retryDate: nil)
                    } catch { try stop(at: index, because: error) }
                    finished.append(message.receipt)
                    summary.damaged += 1
                    continue
                }
            }
            do {
                try handler(message)
                finished.append(message.receipt)
                summary.acknowledged += 1
            } catch let stopRequest as ConsumerStop {
                try stop(at: index, because: stopRequest)
            } catch {
                let retryDate = (error as? any RetryableError).map { Date().addingTimeInterval($0.retryAfter.seconds) }
                do {
                    try damage(message, error: String(describing: error), errorType: String(reflecting: type(of: error)), retryDate: retryDate)
                } catch let storeError { try stop(at: index, because: storeError) }
                finished.append(message.receipt)
                summary.damaged += 1
            }
        }
        switch policy.acknowledgement {
        case .immediately:
            let removed = try queue.acknowledge(finished, in: queueName)
            noteLeaseLost(finished.count - removed, queueName, &summary)
        case .withNextClaim:
            pending[queueName] = finished
        }
        return summary
    }

    /// Sends the acknowledgements still waiting for a next claim. Returns
    /// how many were refused because their lease had been taken over.
    @discardableResult
    public func flush() throws -> Int {
        var refused = 0
        for (queueName, receipts) in pending {
            let removed = try queue.acknowledge(receipts, in: queueName)
            pending[queueName] = nil
            var summary = PopSummary()
            noteLeaseLost(receipts.count - removed, queueName, &summary)
            refused += summary.leaseLost
        }
        return refused
    }

    deinit {
        do { try flush() } catch {
            logger.error("could not send the last acknowledgements; those messages will be redelivered after their lease",
                         metadata: ["error": "\(error)"])
        }
    }

    private func noteLeaseLost(_ count: Int, _ queueName: String, _ summary: inout PopSummary) {
        guard count > 0 else { return }
        summary.leaseLost += count
        logger.warning("lease expired before acknowledgement; another consumer holds the message now",
                       metadata: ["queue": "\(queueName)", "count": "\(count)"])
    }

    private func damage(_ message: DeliveredMessage, error: String, errorType: String, retryDate: Date?) throws {
        let trace = "\(errorType) in consumer pid \(pid) on \(host), delivery \(message.deliveries) of message \(message.receipt.id) from \(queue.location)"
        let record = DamagedMessage(failed: message, error: error, trace: trace, retryDate: retryDate)
        let id = try damaged.insert(record)
        logger.warning("message moved to the damaged store", metadata: [
            "queue": "\(message.queue)", "damaged_id": "\(id)", "error": "\(error.prefix(300))",
            "retry": "\(retryDate.map { "\($0)" } ?? "no")",
        ])
    }
}
