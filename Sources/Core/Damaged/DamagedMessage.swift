import Crypto
public import Foundation

/// A message that could not be processed, kept with the reason: the
/// `damaged` table (`id, original_date, damaged_date, retry_date,
/// original_queue, gateway, order_id, gateway_txn_id, error, trace, message`).
public struct DamagedMessage: Sendable, Equatable {
    /// Row id.
    public var id: Int64
    /// When the message was first enqueued (`source_enqueued_time`), if known.
    public var originalDate: Date?
    /// When it was moved here.
    public var damagedDate: Date
    /// When the requeue job should put it back; `nil` = never automatically.
    public var retryDate: Date?
    /// The queue it came from and goes back to.
    public var originalQueue: String
    /// `gateway` of the message, if it had one.
    public var gateway: String?
    /// `order_id` of the message, if it had one.
    public var orderID: String?
    /// `gateway_txn_id` of the message, if it had one.
    public var gatewayTxnID: String?
    /// Why it was damaged.
    public var error: String
    /// Where and how: error type, consumer host and process, delivery count.
    public var trace: String?
    /// The message exactly as it was in the queue, or its first
    /// ``keptBytesOfOversizeMessage`` bytes when it was larger than
    /// ``maximumStoredBytes`` (see ``originalSize``).
    public var message: [UInt8]
    /// The original size in bytes when `message` holds only its beginning;
    /// nil when the message is kept whole.
    public var originalSize: Int?
    /// SHA-256 of the original message (hex) when it was cut; nil otherwise.
    public var originalSHA256: String?

    /// Largest message kept whole: 4 MiB, well inside MariaDB's default
    /// 16 MiB `max_allowed_packet`, so the damaged insert itself never fails
    /// on size. Larger ones are kept cut, with their size and digest.
    public static let maximumStoredBytes = 4 << 20
    /// How much of an oversize message is kept.
    public static let keptBytesOfOversizeMessage = 64 << 10
    /// Longest error or trace text kept (characters).
    static let maximumTextLength = 64 << 10

    /// Whether `message` is only the beginning of the original.
    public var isTruncated: Bool { originalSize != nil }

    /// A damaged-message record.
    public init(id: Int64 = 0, originalDate: Date?, damagedDate: Date, retryDate: Date?, originalQueue: String,
                gateway: String?, orderID: String?, gatewayTxnID: String?, error: String, trace: String?, message: [UInt8],
                originalSize: Int? = nil, originalSHA256: String? = nil) {
        self.id = id
        self.originalDate = originalDate
        self.damagedDate = damagedDate
        self.retryDate = retryDate
        self.originalQueue = originalQueue
        self.gateway = gateway
        self.orderID = orderID
        self.gatewayTxnID = gatewayTxnID
        self.error = error
        self.trace = trace
        self.message = message
        self.originalSize = originalSize
        self.originalSHA256 = originalSHA256
    }

    /// A record for `message` from `queue` that failed with `error`, with the
    /// identifying fields read from the message when it is a JSON object.
    public init(failed message: DeliveredMessage, error: String, trace: String?, retryDate: Date?, now: Date = Date()) {
        let members = try? message.members()
        // Index copies only (the whole message is kept): cut to the column
        // size, so a garbage id can never make the damaged insert fail.
        // (Cut by code points, as VARCHAR(255) counts them, not by characters.)
        func field(_ name: String) -> String? {
            members?[name]?.scalarText.map { String(String.UnicodeScalarView($0.unicodeScalars.prefix(255))) }
        }
        var kept = message.body, size: Int? = nil, digest: String? = nil, reason = String(error.prefix(Self.maximumTextLength))
        if message.body.count > Self.maximumStoredBytes {
            kept = Array(message.body.prefix(Self.keptBytesOfOversizeMessage))
            size = message.body.count
            digest = SHA256.hash(data: message.body).map { String(format: "%02x", $0) }.joined()
            reason += " (message of \(message.body.count) bytes kept cut to its first \(kept.count) bytes, sha256 \(digest ?? ""))"
        }
        self.init(originalDate: members?.enqueuedTime, damagedDate: now, retryDate: retryDate, originalQueue: message.queue,
                  gateway: field("gateway"), orderID: field("order_id"), gatewayTxnID: field("gateway_txn_id"),
                  error: reason, trace: trace.map { String($0.prefix(Self.maximumTextLength)) }, message: kept,
                  originalSize: size, originalSHA256: digest)
    }

    /// The message as text.
    public var messageText: String { String(decoding: message, as: UTF8.self) }
}

/// Where damaged messages are kept until someone requeues or deletes them.
public protocol DamagedStore: AnyObject {
    /// Stores `record` durably; returns its id.
    func insert(_ record: DamagedMessage) throws -> Int64
    /// Records, newest first, optionally only from `queue`.
    func list(queue: String?, limit: Int) throws -> [DamagedMessage]
    /// The record with `id`.
    func fetch(id: Int64) throws -> DamagedMessage?
    /// Deletes the record with `id`; `false` if there was none.
    func delete(id: Int64) throws -> Bool
    /// Records whose retry date is at or before `now`, oldest retry first.
    func due(at now: Date, limit: Int) throws -> [DamagedMessage]
    /// How many records there are, optionally only from `queue`.
    func count(queue: String?) throws -> Int
    /// How many records are due (retry date at or before `now`).
    func countDue(at now: Date) throws -> Int
    /// The queues that damaged messages came from, sorted.
    func queueNames() throws -> [String]
}
