public import Foundation

/// Identifies one delivery of one message: acknowledging or releasing a
/// message needs it, and a stale receipt (the lease expired and the message
/// was handed to someone else) is refused.
public struct DeliveryReceipt: Sendable, Hashable, CustomStringConvertible {
    /// The message's id inside the backend.
    public let id: String
    /// Which delivery of the message this is, from 1.
    public let delivery: Int

    /// A receipt for delivery `delivery` of message `id`.
    public init(id: String, delivery: Int) {
        self.id = id
        self.delivery = delivery
    }

    /// "17#2": message 17, second delivery.
    public var description: String { "\(id)#\(delivery)" }
}

/// A message handed out by ``MessageQueue/claim(from:limit:lease:)``.
public struct DeliveredMessage: Sendable {
    /// The queue it came from.
    public let queue: String
    /// The message exactly as stored.
    public let body: [UInt8]
    /// The receipt for acknowledging it.
    public let receipt: DeliveryReceipt

    /// A delivered message.
    public init(queue: String, body: [UInt8], receipt: DeliveryReceipt) {
        self.queue = queue
        self.body = body
        self.receipt = receipt
    }

    /// How many times this message has been handed out, this time included.
    public var deliveries: Int { receipt.delivery }

    /// The body as text (invalid UTF-8 shown as U+FFFD).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The top-level members, or why the body is not a JSON object.
    public func members(parser: JSONParser = JSONParser()) throws(MessageError) -> [String: JSONValue] {
        try MessageValidator(maximumBytes: Int.max, parser: parser).validate(body)
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// `source_enqueued_time` as a date, when present, numeric and
    /// plausible (see ``UnixTime/plausibleRange(now:)``); nil otherwise, so
    /// a garbage envelope ("nan", milliseconds) is never taken for a date.
    public var enqueuedTime: Date? {
        guard let text = self["source_enqueued_time"]?.scalarText, let seconds = UnixTime.seconds(text),
              UnixTime.plausibleRange().contains(seconds) else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// `source_enqueued_time` as seconds for ordering messages (any finite
    /// number, plausible or not: only its order against another message's
    /// matters); nil when absent or not a number.
    public var enqueuedOrder: Double? {
        self["source_enqueued_time"]?.scalarText.flatMap(UnixTime.seconds)
    }
}
