internal import CRdKafka
import Foundation

/// What a consumer does when the group coordinator hands it partitions or
/// takes them away. Called from inside ``KafkaConsumer/poll(timeoutMilliseconds:_:)``.
protocol RebalanceHandler: AnyObject {
    /// Where to start reading each newly assigned partition (nil: from the
    /// beginning). Throwing leaves the partitions unassigned for now.
    func offsetsForAssignment(_ partitions: [Int32]) throws -> [Int32: Int64]
    /// Called before `partitions` are taken away.
    func partitionsRevoked(_ partitions: [Int32])
    /// Called once partitions were assigned at those offsets.
    func partitionsAssigned(_ offsets: [Int32: Int64?])
    /// Called when offsets could not be read for a new assignment.
    func assignmentFailed(_ partitions: [Int32], _ error: any Error)
}

/// The rebalance callback's state, reached through librdkafka's opaque
/// pointer (C callbacks cannot capture). Owned by the ``KafkaConsumer``.
final class RebalanceContext {
    weak var handler: (any RebalanceHandler)?
    let topic: String

    init(topic: String) {
        self.topic = topic
    }
}

/// A Kafka consumer in a group (classic protocol, eager assignment), on
/// librdkafka. Owns the `rd_kafka_t*`, freed in `deinit`; not `Sendable`:
/// use it from one thread. Offsets are not committed automatically: the
/// caller decides where each assigned partition starts.
final class KafkaConsumer {
    private let handle: OpaquePointer
    /// The consumer queue (messages and rebalance events), for batch reads.
    private let queue: OpaquePointer
    /// Room for the messages of one batch read.
    private let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    /// Most messages taken per batch read.
    static let batchMessages = 1_000
    private let context: RebalanceContext
    /// The subscribed topic.
    let topic: String
    private var closed = false

    /// Properties set where the linked librdkafka knows them (Debian 12's 2.0
    /// does not; the tests and benches link 2.16). `fetch.queue.backoff.ms`:
    /// once its local queue is over `queued.min.messages`, librdkafka waits
    /// this long before fetching again (1 s by default), so a reader that
    /// drained the queue sat up to a second without a message (reading
    /// 300,000 events took 1.04 and 1.67 s instead of about 0.6 s in 2 of 36
    /// benchmark rounds; 0.53–0.75 s in 27 rounds with 20 ms).
    static let tuning = ["fetch.queue.backoff.ms": "20"]

    /// librdkafka's special offset "from the beginning".
    static let offsetBeginning: Int64 = -2

    /// Joins `group` on `brokers` and subscribes to `topic`; `settings` are
    /// extra librdkafka properties (they win over the defaults).
    init(brokers: String, group: String, topic: String, settings: [String: String], handler: any RebalanceHandler) throws {
        self.topic = topic
        context = RebalanceContext(topic: topic)
        context.handler = handler
        let conf = rd_kafka_conf_new()
        var properties = [
            "bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": "false",
            "enable.auto.offset.store": "false", "auto.offset.reset": "earliest", "partition.assignment.strategy": "roundrobin",
            "client.id": "fundq-impressions-\(getpid())", "enable.partition.eof": "false",
        ]
        for (k, v) in settings { properties[k] = v }
        try KafkaConfiguration.apply(properties, whereKnown: Self.tuning, to: conf)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
            guard let rk, let partitions, let opaque else { return }
            let context = Unmanaged<RebalanceContext>.fromOpaque(opaque).takeUnretainedValue()
            KafkaConsumer.rebalance(rk, err, partitions, context)
        }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw ImpressionsError("cannot create a Kafka consumer: \(String(cString: errstr))")
        }
        rd_kafka_poll_set_consumer(rk)
        guard let queue = rd_kafka_queue_get_consumer(rk) else {
            rd_kafka_destroy(rk)
            throw ImpressionsError("cannot get the consumer queue of a Kafka consumer")
        }
        handle = rk
        self.queue = queue
        messages = .allocate(capacity: KafkaConsumer.batchMessages)
        let list = rd_kafka_topic_partition_list_new(1)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, -1)
        let err = rd_kafka_subscribe(rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_queue_destroy(queue)
            messages.deallocate()
            rd_kafka_destroy(rk)
            throw ImpressionsError("cannot subscribe to \(topic): \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
        messages.deallocate()
        rd_kafka_destroy(handle)
    }

    private static func rebalance(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t,
                                  _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, _ context: RebalanceContext) {
        let numbers = (0..<Int(partitions.pointee.cnt)).map { partitions.pointee.elems[$0].partition }
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            do {
                let stored = try context.handler?.offsetsForAssignment(numbers) ?? [:]
                var assigned: [Int32: Int64?] = [:]
                for i in 0..<Int(partitions.pointee.cnt) {
                    let p = partitions.pointee.elems[i].partition
                    partitions.pointee.elems[i].offset = stored[p] ?? offsetBeginning
                    assigned[p] = stored[p]
                }
                rd_kafka_assign(rk, partitions)
                context.handler?.partitionsAssigned(assigned)
            } catch {
                rd_kafka_assign(rk, nil)
                context.handler?.assignmentFailed(numbers, error)
            }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            context.handler?.partitionsRevoked(numbers)
            rd_kafka_assign(rk, nil)
        default:
            rd_kafka_assign(rk, nil)
        }
    }

    /// Starts (again) reading `offsets` (nil: from the beginning) — for an
    /// assignment whose offsets could not be read in the callback, or after
    /// another consumer moved the stored offsets.
    func assign(_ offsets: [Int32: Int64?]) throws {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (p, o) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(list, topic, p)?.pointee.offset = o ?? KafkaConsumer.offsetBeginning
        }
        let err = rd_kafka_assign(handle, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw ImpressionsError("cannot assign partitions of \(topic): \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    /// Waits up to `timeoutMilliseconds` for one message and hands it to
    /// `body` (partition, offset, payload borrowed for the call); serves
    /// rebalance callbacks meanwhile. Returns whether a message came.
    @discardableResult
    func poll(timeoutMilliseconds: Int32, _ body: (Int32, Int64, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard let message = rd_kafka_consumer_poll(handle, timeoutMilliseconds) else { return false }
        defer { rd_kafka_message_destroy(message) }
        let m = message.pointee
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { return false }
            if m.err == RD_KAFKA_RESP_ERR__FATAL {
                throw ImpressionsError("Kafka consumer failed: \(String(cString: rd_kafka_err2str(m.err)))")
            }
            return false  // transient (broker down, rebalancing): librdkafka retries by itself
        }
        try body(m.partition, m.offset, UnsafeRawBufferPointer(start: m.payload, count: m.len))
        return true
    }

    /// Hands every message already fetched (up to ``batchMessages``) to
    /// `body` in order, in one call into librdkafka instead of one per
    /// message; only when none is waiting, waits up to `timeoutMilliseconds`
    /// for one. Rebalance callbacks are served meanwhile, possibly between
    /// messages taken in the same call (the caller's offset bookkeeping must
    /// drop messages of a partition it no longer holds, or has seen).
    /// Returns how many messages came.
    @discardableResult
    func pollBatch(timeoutMilliseconds: Int32, _ body: (Int32, Int64, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let taken = rd_kafka_consume_batch_queue(queue, 0, messages, KafkaConsumer.batchMessages)
        guard taken > 0 else { return try poll(timeoutMilliseconds: timeoutMilliseconds, body) ? 1 : 0 }
        defer { for i in 0..<taken { rd_kafka_message_destroy(messages[i]) } }
        var delivered = 0
        for i in 0..<taken {
            guard let m = messages[i]?.pointee else { continue }
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__FATAL {
                    throw ImpressionsError("Kafka consumer failed: \(String(cString: rd_kafka_err2str(m.err)))")
                }
                continue  // transient or end of partition: librdkafka retries by itself
            }
            try body(m.partition, m.offset, UnsafeRawBufferPointer(start: m.payload, count: m.len))
            delivered += 1
        }
        return delivered
    }

    /// Whether the broker holds messages of `topic` at or after `offsets`
    /// (partition: next offset to read) on any of those partitions, as of
    /// the last fetch (librdkafka's cached high watermarks: no request).
    func hasMessagesBeyond(_ offsets: [Int32: Int64]) -> Bool {
        for (partition, next) in offsets {
            var low: Int64 = 0
            var high: Int64 = 0
            if rd_kafka_get_watermark_offsets(handle, topic, partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high > next {
                return true
            }
        }
        return false
    }

    /// Tells the group coordinator how far each partition is (informational:
    /// the database's stored offsets are what a consumer starts from).
    func commitInformational(_ offsets: [Int32: Int64]) {
        guard !offsets.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (p, o) in offsets { rd_kafka_topic_partition_list_add(list, topic, p)?.pointee.offset = o }
        _ = rd_kafka_commit(handle, list, 1)
    }

    /// Leaves the group (revoking this consumer's partitions first, so the
    /// others take them over without waiting for the session to time out).
    func close() {
        guard !closed else { return }
        closed = true
        rd_kafka_consumer_close(handle)
    }
}

/// Setting librdkafka properties with their errors reported.
enum KafkaConfiguration {
    /// Sets `properties`, and those of `optional` this librdkafka knows (one
    /// it does not is left out; a value it refuses is an error like any other).
    static func apply(_ properties: [String: String], whereKnown optional: [String: String] = [:], to conf: OpaquePointer?) throws {
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.merging(optional, uniquingKeysWith: { given, _ in given }).sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if result == RD_KAFKA_CONF_UNKNOWN && properties[key] == nil { continue }
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                throw ImpressionsError("Kafka setting \(key): \(String(cString: errstr))")
            }
        }
    }
}
