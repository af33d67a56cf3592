public import Backends
public import Core
public import Foundation
public import RedisDriver
public import SQLiteDriver

/// Hands out contribution tracking ids without touching the database.
public protocol TrackingIDSource: AnyObject {
    /// A new id, never handed out before by this source.
    func nextID() throws -> Int64
}

/// Ids from Redis: `INCR` on one key, the same key the PHP producers
/// increment, so both hand out ids from one sequence.
public final class RedisTrackingIDSource: TrackingIDSource {
    /// The connection used.
    public let connection: RedisConnection
    /// The counter's key.
    public let key: String

    /// A source incrementing `key` on `connection`.
    public init(connection: RedisConnection, key: String = ContributionTracker.defaultSequenceKey) {
        self.connection = connection
        self.key = key
    }

    public func nextID() throws -> Int64 {
        let reply = try connection.command([Array("INCR".utf8), Array(key.utf8)], context: "taking a contribution tracking id from \(key)")
        guard let id = reply.integer else {
            throw ConfigurationError("INCR \(key) did not answer an integer: \(reply.shape)")
        }
        return id
    }
}

/// Ids from the embedded SQLite file: a counter row incremented in a write
/// transaction.
public final class SQLiteTrackingIDSource: TrackingIDSource {
    /// The embedded database (migrated).
    public let database: SQLiteDatabase
    /// The counter's name.
    public let name: String

    /// A source counting in `database` under `name`.
    public init(database: SQLiteDatabase, name: String = ContributionTracker.defaultSequenceKey) {
        self.database = database
        self.name = name
    }

    public func nextID() throws -> Int64 {
        try database.transaction {
            if try database.execute("UPDATE contribution_tracking_sequence SET value = value + 1 WHERE name = ?", [.text(name)]) == 0 {
                try database.execute("INSERT INTO contribution_tracking_sequence (name, value) VALUES (?, 1)", [.text(name)])
            }
            let rows = try database.query("SELECT value FROM contribution_tracking_sequence WHERE name = ?", [.text(name)])
            guard let id = rows.first?.first?.int64 else {
                throw ConfigurationError("the contribution tracking sequence \(name) is missing")
            }
            return id
        }
    }
}

/// The frontend's side of contribution tracking: ids, and events pushed to
/// the `contribution-tracking` queue, never a database write.
///
/// `track(id:fields:)` is one validated push of
/// `{id, ts (UTC microseconds since 1970), …fields}`; the tracking consumer
/// merges events into `contribution_tracking` in `ts` order. Not
/// `Sendable`: one tracker per thread (it owns connections).
public final class ContributionTracker {
    /// The queue name shared with the PHP producers.
    public static let queueName = "contribution-tracking"
    /// The default id counter (Redis key, or row of the embedded file);
    /// `FUNDQ_TRACKING_SEQUENCE_KEY` names another.
    public static let defaultSequenceKey = "contribution-tracking-sequence"

    /// Where ids come from.
    public let ids: any TrackingIDSource
    /// Pushes the events.
    public let producer: QueueProducer
    /// The queue pushed to: ``queueName`` unless a benchmark or test names a scratch one.
    public var queueName = ContributionTracker.queueName
    private var lastTimestamp: Int64 = 0

    /// A tracker pushing to `queue`, with ids from `ids`.
    public init(queue: any MessageQueue, ids: any TrackingIDSource,
                envelope: MessageEnvelope = MessageEnvelope(sourceName: "fundq-tracking", sourceType: "frontend")) {
        self.ids = ids
        producer = QueueProducer(queue: queue, envelope: envelope)
    }

    /// A tracker on the configured stores: ids from Redis when the queues
    /// are there (`INCR sequenceKey`), else from the embedded file.
    public convenience init(storage: Storage, configuration: StorageConfiguration, sequenceKey: String? = nil,
                            envelope: MessageEnvelope = MessageEnvelope(sourceName: "fundq-tracking", sourceType: "frontend")) throws {
        let key = sequenceKey ?? ProcessInfo.processInfo.environment["FUNDQ_TRACKING_SEQUENCE_KEY"] ?? Self.defaultSequenceKey
        let ids: any TrackingIDSource
        if let url = try configuration.redisURL() {
            ids = RedisTrackingIDSource(connection: RedisConnection(url: url), key: key)
        } else {
            ids = SQLiteTrackingIDSource(database: try storage.sqlite ?? Storage.openEmbedded(configuration), name: key)
        }
        self.init(queue: storage.queue, ids: ids, envelope: envelope)
    }

    /// A new contribution tracking id.
    public func nextID() throws -> Int64 {
        try ids.nextID()
    }

    /// Pushes one event for `id`: `fields` with `id` and `ts` added (`ts`
    /// is `date`, or now; successive events of this tracker get strictly
    /// increasing `ts`). An event the consumer would refuse (a value longer
    /// than its column, say) is refused here with the same reason; nothing
    /// is pushed then.
    public func track(id: String, fields: [String: JSONValue], at date: Date? = nil) throws {
        try producer.push(try event(id: id, fields: fields, at: date), to: queueName)
    }

    /// The event `track` would push, validated.
    public func event(id: String, fields: [String: JSONValue], at date: Date? = nil) throws -> [UInt8] {
        for reserved in ["id", "ts"] where fields[reserved] != nil {
            throw TrackingEventError(reserved, "is set by track(id:fields:); leave it out of the fields")
        }
        var micros = TrackingEvent.micros(date ?? Date())
        if date == nil {
            micros = max(micros, lastTimestamp + 1)
            lastTimestamp = micros
        }
        var members = fields
        members["id"] = .string(id)
        members["ts"] = .number(String(micros))
        _ = try TrackingEvent(members: members)
        return Array(JSONValue.object(members).serialized().utf8)
    }
}
