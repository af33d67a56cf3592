public import Foundation

/// The `push` side of the contract: validates each message (a JSON object
/// within the size limit), stamps the envelope and appends it durably. A
/// message that fails validation is refused with a ``MessageError`` and
/// nothing is enqueued; a backend failure throws and nothing half-written
/// remains (a batch is one atomic append).
public struct QueueProducer {
    /// The backend pushed to.
    public let queue: any MessageQueue
    /// The provenance stamped on each message.
    public var envelope: MessageEnvelope
    /// The validation applied to each message.
    public var validator: MessageValidator

    /// A producer pushing to `queue`.
    public init(queue: any MessageQueue, envelope: MessageEnvelope = MessageEnvelope(), validator: MessageValidator = MessageValidator()) {
        self.queue = queue
        self.envelope = envelope
        self.validator = validator
    }

    /// Validates and stamps one message without pushing it.
    public func prepare(_ body: [UInt8], now: Date = Date()) throws(MessageError) -> [UInt8] {
        let keys = try validator.keys(body)
        return envelope.stamp(body, existingKeys: keys, enqueuedAt: now)
    }

    /// Pushes one message to `queueName`. Returns once it is durable.
    public func push(_ body: [UInt8], to queueName: String) throws {
        try QueueName.validate(queueName)
        try queue.append([prepare(body)], to: queueName)
        FundqMetrics.pushed(1, queue: queueName)
    }

    /// Pushes one message given as text.
    public func push(_ text: String, to queueName: String) throws {
        try push(Array(text.utf8), to: queueName)
    }

    /// Pushes several messages as one atomic append: every message is
    /// validated first, and if any is refused none is pushed.
    public func push(contentsOf bodies: [[UInt8]], to queueName: String) throws {
        try QueueName.validate(queueName)
        let now = Date()
        var prepared: [[UInt8]] = []
        prepared.reserveCapacity(bodies.count)
        for (index, body) in bodies.enumerated() {
            do {
                prepared.append(try prepare(body, now: now))
            } catch {
                throw error.at("message \(index + 1)")
            }
        }
        try queue.append(prepared, to: queueName)
        FundqMetrics.pushed(prepared.count, queue: queueName)
    }
}
