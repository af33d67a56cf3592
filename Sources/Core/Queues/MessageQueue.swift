public import Foundation

/// A queue backend: durable FIFO lists of messages with leased delivery.
///
/// Backends implement the primitives; ``QueueProducer`` (validated `push`)
/// and ``QueueConsumer`` (`popAtomic`) build the contract on top of them.
/// Implementations are classes owning one connection, used by one task at a
/// time.
public protocol MessageQueue: AnyObject {
    /// Where the queues live, with any password masked.
    var location: String { get }

    /// Appends `bodies` to the tail of `queue` as one atomic step, durably:
    /// when this returns, every body is stored; when it throws, none is.
    func append(_ bodies: [[UInt8]], to queue: String) throws

    /// Hands out up to `limit` of the oldest available messages of `queue`,
    /// each leased for `lease`: until the lease expires nobody else receives
    /// it. Messages whose lease expired (their consumer died) are handed out
    /// again, first, with an incremented delivery count. Claim and lease are
    /// one atomic step. Returns an empty array when nothing is available.
    func claim(from queue: String, limit: Int, lease: Duration) throws -> [DeliveredMessage]

    /// Removes the messages behind `receipts` from `queue`. Returns how many
    /// were removed; a receipt whose lease was taken over by another
    /// consumer after it expired is not removed.
    func acknowledge(_ receipts: [DeliveryReceipt], in queue: String) throws -> Int

    /// Acknowledges `receipts`, then claims, in one round trip where the
    /// backend allows (a consumer loop sends each message's acknowledgement
    /// together with the next claim).
    func acknowledgeAndClaim(_ receipts: [DeliveryReceipt], in queue: String, limit: Int, lease: Duration) throws
        -> (acknowledged: Int, claimed: [DeliveredMessage])

    /// Gives leased messages back for immediate redelivery. Uncounted (a
    /// graceful shutdown, an outage: the message was never judged), the next
    /// delivery has the same number; counted (its handler failed on it and
    /// nobody can tell why), it moves the message towards the delivery limit.
    func release(_ receipts: [DeliveryReceipt], in queue: String, countingDelivery: Bool) throws

    /// The message the next claim would hand out, without claiming it.
    func peek(_ queue: String) throws -> [UInt8]?

    /// Counts and ages for `queue`.
    func stats(_ queue: String) throws -> QueueStats

    /// Names of the queues that hold messages (waiting or in flight).
    func queueNames() throws -> [String]

    /// Deletes `queue` and its bookkeeping, messages included. For
    /// benchmarks and tests on scratch queues; no command exposes it.
    func removeAll(_ queue: String) throws
}

extension MessageQueue {
    /// Gives leased messages back for immediate redelivery without counting
    /// the delivery (used on graceful shutdown).
    public func release(_ receipts: [DeliveryReceipt], in queue: String) throws {
        try release(receipts, in: queue, countingDelivery: false)
    }

    /// Acknowledges, then claims: two steps. Backends with a cheaper way
    /// (one script on Redis) provide their own.
    public func acknowledgeAndClaim(_ receipts: [DeliveryReceipt], in queue: String, limit: Int, lease: Duration) throws
        -> (acknowledged: Int, claimed: [DeliveredMessage]) {
        let acknowledged = try acknowledge(receipts, in: queue)
        return (acknowledged, try claim(from: queue, limit: limit, lease: lease))
    }
}

/// Counts for one queue.
public struct QueueStats: Sendable, Codable, Equatable {
    /// The queue's name.
    public var queue: String
    /// Messages ready to be handed out (including expired leases).
    public var waiting: Int
    /// Messages handed out whose lease is still running.
    public var inFlight: Int
    /// `source_enqueued_time` of the oldest message, when known.
    public var oldestEnqueuedAt: Date?

    /// Counts for `queue`.
    public init(queue: String, waiting: Int, inFlight: Int, oldestEnqueuedAt: Date?) {
        self.queue = queue
        self.waiting = waiting
        self.inFlight = inFlight
        self.oldestEnqueuedAt = oldestEnqueuedAt
    }

    /// Seconds since the oldest message was enqueued, at `now`.
    public func oldestAge(at now: Date = Date()) -> TimeInterval? {
        oldestEnqueuedAt.map { max(0, now.timeIntervalSince($0)) }
    }
}

extension Duration {
    /// This duration in whole milliseconds (at least 1).
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// This duration in seconds.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// The queue backend, damaged store and database one process has opened
/// (`Storage` in Backends opens them from the configuration).
public protocol OpenedStores: AnyObject {
    /// The queue backend.
    var queue: any MessageQueue { get }
    /// The damaged store.
    var damaged: any DamagedStore { get }
    /// The database holding the stores.
    var database: any SQLConnection { get }
}
