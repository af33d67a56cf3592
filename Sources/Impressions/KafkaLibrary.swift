internal import CRdKafka

/// The librdkafka fundq's Kafka consumer and producer run on.
public enum KafkaLibrary {
    /// librdkafka's version (`rd_kafka_version_str`).
    public static var version: String { String(cString: rd_kafka_version_str()) }
}
