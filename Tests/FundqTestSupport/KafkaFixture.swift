import Foundation

/// The Kafka-compatible broker started by scripts/test.sh (Tansu), and
/// topics made for one test.
public struct KafkaFixture {
    /// `HOST:PORT`.
    public let brokers: String
    /// The Tansu binary (topics are made with it).
    public let tansu: String

    /// The broker scripts/test.sh started; throws when it started none.
    public init() throws {
        let env = ProcessInfo.processInfo.environment
        guard let brokers = env["FUNDQ_TEST_KAFKA_BROKERS"], !brokers.isEmpty, let tansu = env["FUNDQ_TEST_TANSU"], !tansu.isEmpty else {
            throw TestSetupError("FUNDQ_TEST_KAFKA_BROKERS / FUNDQ_TEST_TANSU are not set: "
                                 + "run the tests with scripts/test.sh, which starts the broker")
        }
        self.brokers = brokers
        self.tansu = tansu
    }

    /// Creates `name` with `partitions` partitions.
    public func createTopic(_ name: String, partitions: Int) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tansu)
        p.arguments = ["topic", "create", name, "--partitions", String(partitions), "--broker", "tcp://\(brokers)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestSetupError("tansu topic create \(name) failed") }
    }
}
