internal import CRdKafka
import Foundation

/// Delivery failures counted by the delivery-report callback (reached
/// through librdkafka's opaque pointer).
final class DeliveryReports {
    var delivered = 0
    var failed = 0
    var lastError = ""
}

/// A Kafka producer for the benchmark and the tests: sends events to a
/// topic and waits until each is acknowledged. Owns the `rd_kafka_t*`,
/// freed in `deinit`; not `Sendable`.
public final class KafkaProducer {
    private let handle: OpaquePointer
    private let topicHandle: OpaquePointer
    private let reports = DeliveryReports()
    /// The topic.
    public let topic: String

    /// A producer to `topic` on `brokers`.
    public init(brokers: String, topic: String) throws {
        self.topic = topic
        let conf = rd_kafka_conf_new()
        try KafkaConfiguration.apply(["bootstrap.servers": brokers, "linger.ms": "20", "acks": "all",
                                      "queue.buffering.max.messages": "500000"], to: conf)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(reports).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
            guard let message, let opaque else { return }
            let reports = Unmanaged<DeliveryReports>.fromOpaque(opaque).takeUnretainedValue()
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                reports.delivered += 1
            } else {
                reports.failed += 1
                reports.lastError = String(cString: rd_kafka_err2str(message.pointee.err))
            }
        }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw ImpressionsError("cannot create a Kafka producer: \(String(cString: errstr))")
        }
        guard let rkt = rd_kafka_topic_new(rk, topic, nil) else {
            rd_kafka_destroy(rk)
            throw ImpressionsError("cannot open topic \(topic)")
        }
        handle = rk
        topicHandle = rkt
    }

    deinit {
        rd_kafka_topic_destroy(topicHandle)
        rd_kafka_destroy(handle)
    }

    /// Queues one event (key: spreads events over partitions).
    public func send(_ payload: [UInt8], key: String) throws {
        while true {
            let rc = payload.withUnsafeBytes { p in
                key.withCString { k in
                    rd_kafka_produce(topicHandle, -1 /* RD_KAFKA_PARTITION_UA */, 0x2 /* RD_KAFKA_MSG_F_COPY */,
                                     UnsafeMutableRawPointer(mutating: p.baseAddress), p.count, k, strlen(k), nil)
                }
            }
            if rc == 0 { return }
            let err = rd_kafka_last_error()
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw ImpressionsError("cannot produce to \(topic): \(String(cString: rd_kafka_err2str(err)))")
            }
            rd_kafka_poll(handle, 50)
        }
    }

    /// Waits until every queued event is acknowledged; throws if any failed.
    /// Returns the events delivered so far.
    @discardableResult
    public func flush(timeoutSeconds: Double = 60) throws -> Int {
        let err = rd_kafka_flush(handle, Int32(timeoutSeconds * 1000))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw ImpressionsError("events to \(topic) not acknowledged in \(timeoutSeconds) s: \(String(cString: rd_kafka_err2str(err)))")
        }
        guard reports.failed == 0 else { throw ImpressionsError("\(reports.failed) events to \(topic) failed: \(reports.lastError)") }
        return reports.delivered
    }
}
