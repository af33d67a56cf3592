public import Core
public import Foundation

/// Decided rows waiting to be written together, and when they must be: the
/// executor adds each decision as it is taken and writes the batch when
/// ``isDue(now:)`` says so. Pure: no I/O, no clock of its own.
///
/// Writing a batch (``Rectifier``) pushes its donations first — one push per
/// queue, in ``DecisionBatchWrite/pushes`` — then commits every row's write
/// and decision log row in one transaction (the push joins that transaction
/// when the queues live in the same SQLite file as the pending rows). A crash
/// between the push and the commit leaves those rows claimed and unresolved:
/// a later run asks the processor again (never capturing twice: the intent
/// recorded before each capture says it was tried) and pushes their
/// donations again, at most one batch of them, which the donations sink
/// stores once (unique `gateway`, `gateway_txn_id`). A recurring sign-up
/// (queue `recurring`) has no such sink in fundq: it may then arrive twice,
/// as it already may from the processor's own notification, and its
/// consumer must treat its subscription id as the key.
public struct DecisionBatch<Entry> {
    /// Decisions written per transaction, at most.
    public let capacity: Int
    /// How long after its row was claimed a decision may wait (half the
    /// lease: written while the claim is still surely this worker's).
    public let maximumWait: Duration
    private var entries: [(entry: Entry, write: RowWrite)] = []
    private var oldestClaim: Date?

    /// A batch of up to `capacity` decisions, none waiting longer than
    /// `maximumWait` after its row's claim.
    public init(capacity: Int, maximumWait: Duration) {
        self.capacity = max(1, capacity)
        self.maximumWait = maximumWait
    }

    /// Decisions waiting.
    public var count: Int { entries.count }

    /// Whether none is waiting.
    public var isEmpty: Bool { entries.isEmpty }

    /// Adds a decision whose final write is `write`, on a row claimed at `claimedAt`.
    public mutating func add(_ entry: Entry, write: RowWrite, claimedAt: Date) {
        entries.append((entry, write))
        oldestClaim = min(oldestClaim ?? claimedAt, claimedAt)
    }

    /// Whether the batch must be written now: it is full, or its oldest
    /// row's claim is `maximumWait` old.
    public func isDue(now: Date) -> Bool {
        guard let oldestClaim else { return false }
        return entries.count >= capacity || now.timeIntervalSince(oldestClaim) >= maximumWait.seconds
    }

    /// Empties the batch; returns what to write, in order.
    public mutating func take() -> DecisionBatchWrite<Entry> {
        defer {
            entries = []
            oldestClaim = nil
        }
        var pushes: [(queue: String, messages: [[String: JSONValue]])] = []
        for case .complete(let queue, let message) in entries.map(\.write) {
            if let i = pushes.firstIndex(where: { $0.queue == queue }) {
                pushes[i].messages.append(message)
            } else {
                pushes.append((queue, [message]))
            }
        }
        return DecisionBatchWrite(pushes: pushes, entries: entries.map(\.entry))
    }
}

/// A batch to write: the donations to push (one push per queue, before the
/// rows' commit), then each entry's write, in the order decided.
public struct DecisionBatchWrite<Entry> {
    /// Each queue with its messages, in the order the decisions were taken.
    public let pushes: [(queue: String, messages: [[String: JSONValue]])]
    /// The decisions, in the order they were taken.
    public let entries: [Entry]
}
