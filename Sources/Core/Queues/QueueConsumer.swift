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
    /// Largest body handed to a handler; a larger one (written behind
    /// fundq's back: `push` refuses it) goes to the damaged store.
    public var maximumBodyBytes: Int
    /// What an error thrown by a batch handler says about its cause.
    public var classify: @Sendable (any Error) -> HandlingFailure

    /// Four times `push`'s default limit: anything a producer may be
    /// configured to send fits, and fits whole in the damaged store.
    public static let defaultMaximumBodyBytes = DamagedMessage.maximumStoredBytes

    /// A policy; the defaults suit the donation consumers.
    public init(lease: Duration = .seconds(60), maximumDeliveries: Int = 5, requiresJSONObject: Bool = true,
                acknowledgement: AcknowledgementTiming = .immediately,
                maximumBodyBytes: Int = ConsumerPolicy.defaultMaximumBodyBytes,
                classify: @escaping @Sendable (any Error) -> HandlingFailure = { HandlingFailure(classifying: $0) }) {
        self.lease = lease
        self.maximumDeliveries = maximumDeliveries
        self.requiresJSONObject = requiresJSONObject
        self.acknowledgement = acknowledgement
        self.maximumBodyBytes = maximumBodyBytes
        self.classify = classify
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
    /// Given back unjudged for immediate redelivery (the consumer stopped).
    public var released = 0
    /// Acknowledgements refused because the lease had expired and another
    /// consumer holds the message now (it was processed twice: at-least-once).
    public var leaseLost = 0
    /// Handled messages by the outcome their handler named ("inserted", "duplicate", …).
    public var outcomes: [String: Int] = [:]

    /// An empty summary.
    public init() {}

    /// Adds `other` to this summary.
    public mutating func add(_ other: PopSummary) {
        claimed += other.claimed
        acknowledged += other.acknowledged
        damaged += other.damaged
        released += other.released
        leaseLost += other.leaseLost
        outcomes.merge(other.outcomes, uniquingKeysWith: +)
    }
}

/// A batch handler's judgement of one message.
public enum MessageVerdict: Sendable, Equatable {
    /// Done: acknowledge it. The label counts it in ``PopSummary/outcomes``.
    case handled(String)
    /// Cannot be processed: move it to the damaged store with `reason`, to
    /// be requeued after `retryAfter` when given.
    case damaged(reason: String, errorType: String, retryAfter: Duration?)
    /// Not judged: give it back for immediate redelivery.
    case released
}

/// A batch handler returned the wrong number of verdicts (a programming
/// error in the handler); the whole batch is released.
public struct VerdictCountMismatch: Error, CustomStringConvertible {
    /// Messages in the batch.
    public let messages: Int
    /// Verdicts returned.
    public let verdicts: Int
    /// What went wrong.
    public var description: String { "batch handler returned \(verdicts) verdicts for \(messages) messages" }
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
    /// Claims each next batch on a second thread and queue connection while
    /// the current batch is handled (see ``ClaimAhead``); nil: claims in line.
    public var claimAhead: ClaimAhead?
    /// Acknowledgements waiting for the next claim, per queue.
    private var pending: [String: [DeliveryReceipt]] = [:]
    /// When the batch being handled was claimed (just before its claim was
    /// sent, possibly ahead, while the previous batch was handled).
    private var batchClaimedAt: ContinuousClock.Instant?
    /// How long after its claim a batch's messages may still be handed out: 80% of the lease.
    private var handOutWindow: Duration { policy.lease * 0.8 }
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
    /// at the end, in one round trip. A ``ConsumerStop`` from the handler
    /// releases that message and the rest, and is rethrown. Messages not yet
    /// handed out when 80% of the lease has passed are released unjudged.
    public func popAtomic(from queueName: String, maximum: Int, handler: (DeliveredMessage) throws -> Void) throws -> PopSummary {
        var stop: ConsumerStop? = nil
        let clock = ContinuousClock()
        let summary = try popAtomicBatch(from: queueName, maximum: maximum) { batch in
            // The whole batch was leased at once: a message whose lease is
            // nearly over is released rather than handled, so that it is
            // never handled here while another consumer has it too. The
            // lease runs from the claim (which may have been made ahead).
            let claimed = batchClaimedAt ?? clock.now
            let handOutUntil = handOutWindow
            return batch.map { message in
                guard stop == nil, clock.now - claimed < handOutUntil else { return .released }
                do {
                    try handler(message)
                    return .handled("acknowledged")
                } catch let request as ConsumerStop {
                    stop = request
                    return .released
                } catch {
                    return QueueConsumer.verdict(for: error)
                }
            }
        }
        if let stop { throw stop }
        return summary
    }

    /// The damaged verdict for a handler's error (with a retry date for a
    /// ``RetryableError``).
    public static func verdict(for error: any Error) -> MessageVerdict {
        .damaged(reason: String(describing: error), errorType: String(reflecting: type(of: error)),
                 retryAfter: (error as? any RetryableError)?.retryAfter)
    }

    /// Claims up to `maximum` messages and hands them to `handler` together
    /// (so it can write them in one transaction), which returns one verdict
    /// per message. Messages that exceeded the delivery limit, are too large
    /// or are not JSON objects are damaged before the handler sees the batch.
    ///
    /// If the handler throws, what happens depends on the error
    /// (``ConsumerPolicy/classify``): an outage (the database is down)
    /// releases every message unjudged and uncounted, and the error is
    /// rethrown for the caller to back off. Any other error splits the batch
    /// in halves, and each half is handed over again, down to single
    /// messages, so one message whose content the database refuses is
    /// damaged with the reason while every neighbour is stored. A message
    /// that fails alone with an error of unknown cause is damaged too when
    /// some neighbour succeeded; when nothing in the batch succeeded (a
    /// missing table, a full disk), the batch is released and the error
    /// rethrown — counted as a delivery when the batch was one message, so a
    /// poison message alone in the queue still reaches the delivery limit.
    public func popAtomicBatch(from queueName: String, maximum: Int,
                               handler: ([DeliveredMessage]) throws -> [MessageVerdict]) throws -> PopSummary {
        try QueueName.validate(queueName)
        var summary = PopSummary()
        let started = ContinuousClock.now
        defer { FundqMetrics.consumed(summary, queue: queueName, seconds: (ContinuousClock.now - started) / .seconds(1)) }
        let messages = try claimNext(from: queueName, maximum: maximum, summary: &summary)
        summary.claimed = messages.count
        guard !messages.isEmpty else { return summary }

        var settlements = messages.map(screen)
        let forHandler = settlements.indices.filter { settlements[$0] == nil }
        var failure: (any Error)? = nil
        if !forHandler.isEmpty {
            var judged = judge(forHandler.map { messages[$0] }, handler: handler)
            failure = judged.resolveUnattributed(counting: forHandler.count == 1)
            for (index, settlement) in zip(forHandler, judged.settlements) { settlements[index] = settlement }
        }
        let final = settlements.map { $0 ?? .release(counted: false) }
        do {
            try settle(messages, final, in: queueName, summary: &summary,
                       immediately: failure != nil || final.contains { if case .release = $0 { true } else { false } })
        } catch where failure != nil {
            logger.error("could not settle a batch after its handler failed", metadata: ["queue": "\(queueName)", "error": "\(error)"])
        }
        if let failure {
            // The next batch, claimed ahead, is not held through a back-off.
            dropClaimedAhead(summary: &summary)
            throw failure
        }
        return summary
    }

    /// What happens to one message of a batch.
    enum Settlement: Equatable {
        /// Acknowledge it, counted under `outcome`.
        case handled(String)
        /// Move it to the damaged store.
        case damaged(reason: String, errorType: String, retryAfter: Duration?)
        /// Give it back for redelivery, counting the delivery or not.
        case release(counted: Bool)
        /// Its handler failed on it alone with an error of unknown cause.
        case failedAlone(reason: String, errorType: String)

        init(_ verdict: MessageVerdict) {
            switch verdict {
            case .handled(let outcome): self = .handled(outcome)
            case .damaged(let reason, let errorType, let retryAfter):
                self = .damaged(reason: reason, errorType: errorType, retryAfter: retryAfter)
            case .released: self = .release(counted: false)
            }
        }
    }

    /// The settlements of a batch handed to the handler, and the first error
    /// that stopped it (an outage) or that nothing in the batch survived.
    struct Judgement {
        var settlements: [Settlement] = []
        var error: (any Error)? = nil
        var stopped = false

        /// Turns messages that failed alone into damaged ones when a
        /// neighbour succeeded; otherwise releases them (counted when asked)
        /// and returns the error to rethrow.
        mutating func resolveUnattributed(counting: Bool) -> (any Error)? {
            let anySucceeded = !stopped && settlements.contains { if case .handled = $0 { true } else { false } }
            settlements = settlements.map {
                guard case .failedAlone(let reason, let errorType) = $0 else { return $0 }
                if stopped { return .release(counted: true) }
                return anySucceeded ? .damaged(reason: reason, errorType: errorType, retryAfter: nil) : .release(counted: counting)
            }
            return anySucceeded ? nil : error
        }
    }

    /// Hands `batch` to `handler`; on an error that is not an outage, hands
    /// each half over again, down to single messages.
    func judge(_ batch: [DeliveredMessage], handler: ([DeliveredMessage]) throws -> [MessageVerdict]) -> Judgement {
        do {
            let verdicts = try handler(batch)
            guard verdicts.count == batch.count else { throw VerdictCountMismatch(messages: batch.count, verdicts: verdicts.count) }
            return Judgement(settlements: verdicts.map(Settlement.init))
        } catch {
            let kind = error is VerdictCountMismatch ? .outage : policy.classify(error)
            if kind == .outage {
                return Judgement(settlements: Array(repeating: .release(counted: false), count: batch.count), error: error, stopped: true)
            }
            if batch.count == 1 {
                let reason = String(describing: error), errorType = String(reflecting: type(of: error))
                let settlement: Settlement = kind == .content
                    ? .damaged(reason: reason, errorType: errorType, retryAfter: (error as? any RetryableError)?.retryAfter)
                    : .failedAlone(reason: reason, errorType: errorType)
                return Judgement(settlements: [settlement], error: kind == .content ? nil : error)
            }
            logger.debug("batch handler failed; splitting the batch to find the message that causes it",
                         metadata: ["messages": "\(batch.count)", "error": "\(String(describing: error).prefix(300))"])
            return bisect(batch, handler: handler)
        }
    }

    private func bisect(_ batch: [DeliveredMessage], handler: ([DeliveredMessage]) throws -> [MessageVerdict]) -> Judgement {
        let middle = batch.count / 2
        var result = judge(Array(batch[..<middle]), handler: handler)
        if result.stopped {
            result.settlements += Array(repeating: .release(counted: false), count: batch.count - middle)
            return result
        }
        let right = judge(Array(batch[middle...]), handler: handler)
        result.settlements += right.settlements
        result.error = result.error ?? right.error
        result.stopped = right.stopped
        return result
    }

    /// The damaged settlement for a message no handler should see, or nil.
    private func screen(_ message: DeliveredMessage) -> Settlement? {
        if message.deliveries > policy.maximumDeliveries {
            return .damaged(
                reason: "handed out \(message.deliveries) times without being acknowledged (limit \(policy.maximumDeliveries)); "
                    + "its consumer probably dies or fails while handling it",
                errorType: "DeliveryLimitExceeded", retryAfter: nil)
        }
        if message.body.count > policy.maximumBodyBytes {
            return .damaged(reason: "message is \(message.body.count) bytes, over the consumer's limit of \(policy.maximumBodyBytes)",
                            errorType: "MessageTooLarge", retryAfter: nil)
        }
        if policy.requiresJSONObject, let invalid = QueueConsumer.objectError(message) {
            return .damaged(reason: invalid.description, errorType: "MessageError", retryAfter: nil)
        }
        return nil
    }

    private static func objectError(_ message: DeliveredMessage) -> MessageError? {
        do {
            _ = try MessageValidator(maximumBytes: .max).keys(message.body)
            return nil
        } catch {
            return error
        }
    }

    /// Claims, sending any acknowledgements waiting from the last call with
    /// the claim.
    private func claimNext(from queueName: String, maximum: Int, summary: inout PopSummary) throws -> [DeliveredMessage] {
        if let claimAhead { return try claimNext(from: queueName, maximum: maximum, ahead: claimAhead, summary: &summary) }
        batchClaimedAt = ContinuousClock.now
        let carried = pending.removeValue(forKey: queueName) ?? []
        if carried.isEmpty {
            return try queue.claim(from: queueName, limit: maximum, lease: policy.lease)
        }
        do {
            let result = try queue.acknowledgeAndClaim(carried, in: queueName, limit: maximum, lease: policy.lease)
            noteLeaseLost(carried.count - result.acknowledged, queueName, &summary)
            return result.claimed
        } catch {
            pending[queueName] = carried  // not acknowledged: try again next time
            throw error
        }
    }

    /// Takes the batch claimed ahead (claiming now when none is on its way,
    /// or it is another queue's), gives back what exceeds `maximum`, and
    /// asks for the next batch before returning this one. The next claim
    /// carries the acknowledgements settled so far: the previous batch's.
    private func claimNext(from queueName: String, maximum: Int, ahead: ClaimAhead,
                           summary: inout PopSummary) throws -> [DeliveredMessage] {
        func request() -> ClaimAhead.Request {
            ClaimAhead.Request(queueName: queueName, acknowledging: pending.removeValue(forKey: queueName) ?? [],
                               limit: maximum, lease: policy.lease)
        }
        var claimed = ahead.take()
        // Another queue's batch, or one claimed so long ago that most of its lease is gone, is given back
        // (uncounted) and a fresh batch claimed: a batch is never handed out near the end of its lease.
        if let other = claimed, other.request.queueName != queueName || ContinuousClock.now - other.sentAt >= handOutWindow {
            try giveBack(other, summary: &summary)
            claimed = nil
        }
        if claimed == nil {
            ahead.start(request())
            claimed = ahead.take()
        }
        guard let claimed else { return [] }
        batchClaimedAt = claimed.sentAt
        var messages = try received(claimed, summary: &summary)
        if messages.count > maximum {
            try queue.release(messages[maximum...].map(\.receipt), in: queueName, countingDelivery: false)
            messages.removeLast(messages.count - maximum)
        }
        if !messages.isEmpty { ahead.start(request()) }
        return messages
    }

    /// The messages of a claim made ahead; when it failed, its
    /// acknowledgements wait for the next claim again and the error is thrown.
    private func received(_ claimed: ClaimAhead.Claimed, summary: inout PopSummary) throws -> [DeliveredMessage] {
        let r = claimed.request
        switch claimed.outcome {
        case .success(let result):
            noteLeaseLost(r.acknowledging.count - result.acknowledged, r.queueName, &summary)
            return result.messages
        case .failure(let error):
            pending[r.queueName, default: []] += r.acknowledging
            throw error
        }
    }

    /// Releases a batch claimed ahead, unjudged and uncounted.
    private func giveBack(_ claimed: ClaimAhead.Claimed, summary: inout PopSummary) throws {
        let messages = try received(claimed, summary: &summary)
        try queue.release(messages.map(\.receipt), in: claimed.request.queueName, countingDelivery: false)
    }

    /// Gives back the batch claimed ahead, if any (a failed claim's error is logged).
    private func dropClaimedAhead(summary: inout PopSummary) {
        guard let claimed = claimAhead?.take() else { return }
        do {
            try giveBack(claimed, summary: &summary)
        } catch {
            logger.error("could not give back the batch claimed ahead; it will be redelivered after its lease",
                         metadata: ["queue": "\(claimed.request.queueName)", "error": "\(error)"])
        }
    }

    /// Acts on the settlements: damaged messages are written to the damaged
    /// store, then handled and damaged ones are acknowledged (now, or with
    /// the next claim) and released ones given back. A message whose damaged
    /// record cannot be written is released instead, and the store's error
    /// is thrown once the rest is settled.
    private func settle(_ messages: [DeliveredMessage], _ settlements: [Settlement], in queueName: String,
                        summary: inout PopSummary, immediately: Bool) throws {
        var finished: [DeliveryReceipt] = []
        var released: [DeliveryReceipt] = []
        var releasedCounted: [DeliveryReceipt] = []
        var storeError: (any Error)? = nil
        for (message, settlement) in zip(messages, settlements) {
            switch settlement {
            case .handled(let outcome):
                finished.append(message.receipt)
                summary.acknowledged += 1
                summary.outcomes[outcome, default: 0] += 1
            case .damaged(let reason, let errorType, let retryAfter):
                if storeError == nil {
                    do {
                        try damage(message, error: reason, errorType: errorType,
                                   retryDate: retryAfter.map { Date().addingTimeInterval($0.seconds) })
                        finished.append(message.receipt)
                        summary.damaged += 1
                        continue
                    } catch {
                        storeError = error
                    }
                }
                // Not damaged: released counted, so the delivery limit
                // eventually stops the handler from running on it forever.
                releasedCounted.append(message.receipt)
                summary.released += 1
            case .failedAlone:
                // Resolved before settling; if one slips through, count it.
                releasedCounted.append(message.receipt)
                summary.released += 1
            case .release(let counted):
                if counted { releasedCounted.append(message.receipt) } else { released.append(message.receipt) }
                summary.released += 1
            }
        }
        if immediately || storeError != nil || policy.acknowledgement == .immediately {
            try sendNow(finished, released: released, releasedCounted: releasedCounted, in: queueName,
                        summary: &summary, storeError: storeError)
        } else {
            pending[queueName, default: []] += finished
        }
        if let storeError { throw storeError }
    }

    private func sendNow(_ finished: [DeliveryReceipt], released: [DeliveryReceipt], releasedCounted: [DeliveryReceipt],
                         in queueName: String, summary: inout PopSummary, storeError: (any Error)?) throws {
        var carried = pending.removeValue(forKey: queueName) ?? []
        carried += finished
        do {
            let removed = try queue.acknowledge(carried, in: queueName)
            noteLeaseLost(carried.count - removed, queueName, &summary)
        } catch {
            // Keep the receipts: the next claim or flush sends them again.
            pending[queueName, default: []] += carried
            logger.error("could not acknowledge handled messages; will retry with the next claim or flush",
                         metadata: ["queue": "\(queueName)", "error": "\(error)"])
            throw storeError ?? error
        }
        do {
            try queue.release(released, in: queueName, countingDelivery: false)
            try queue.release(releasedCounted, in: queueName, countingDelivery: true)
        } catch {
            logger.error("could not release messages; their leases will expire and they will be redelivered",
                         metadata: ["queue": "\(queueName)", "error": "\(error)"])
            throw storeError ?? error
        }
    }

    /// Gives back the batch claimed ahead, if any, and sends the
    /// acknowledgements still waiting for a next claim. Returns how many
    /// were refused because their lease had been taken over.
    @discardableResult
    public func flush() throws -> Int {
        var refused = 0
        var ahead = PopSummary()
        dropClaimedAhead(summary: &ahead)
        refused += ahead.leaseLost
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
        claimAhead?.stop()
    }

    private func noteLeaseLost(_ count: Int, _ queueName: String, _ summary: inout PopSummary) {
        guard count > 0 else { return }
        summary.leaseLost += count
        logger.warning("lease expired before acknowledgement; another consumer holds the message now",
                       metadata: ["queue": "\(queueName)", "count": "\(count)"])
    }

    private func damage(_ message: DeliveredMessage, error: String, errorType: String, retryDate: Date?) throws {
        let trace = "\(errorType) in consumer pid \(pid) on \(host), delivery \(message.deliveries) of message \(message.receipt.id)"
            + " from \(queue.location)"
        let record = DamagedMessage(failed: message, error: error, trace: trace, retryDate: retryDate)
        let id = try damaged.insert(record)
        // One line per message at debug; the batch's line at info counts them.
        logger.debug("message moved to the damaged store", metadata: [
            "queue": "\(message.queue)", "damaged_id": "\(id)", "error": "\(PersonalData.maskedText(error).prefix(300))",
            "retry": "\(retryDate.map { "\($0)" } ?? "no")",
        ])
    }
}
