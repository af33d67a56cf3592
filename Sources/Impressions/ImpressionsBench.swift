import Foundation
import Core
import Logging

/// The measurements behind `fundq bench impressions`.
public enum ImpressionsBench {
    /// One measured run.
    public struct Run: Sendable {
        /// Events handled.
        public var events: Int
        /// Wall-clock seconds.
        public var seconds: Double
        /// CPU seconds of this process (user + system) during the run.
        public var cpuSeconds: Double
        /// Distinct keys aggregated (batches for the Kafka loader; 0 where not applicable).
        public var keys: Int
        /// Seconds spent writing to the database (Kafka loader).
        public var writeSeconds = 0.0
        /// Events per wall-clock second.
        public var perSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
        /// Events per CPU second (per core).
        public var perCPUSecond: Double { cpuSeconds > 0 ? Double(events) / cpuSeconds : 0 }
    }

    /// CPU seconds used by this process so far.
    public static func cpuSeconds() -> Double { LatencySamples.processCPUSeconds() }

    /// Times `body`, which returns (events, keys).
    public static func measure(_ body: () throws -> (Int, Int)) rethrows -> Run {
        let cpu0 = cpuSeconds()
        let clock = ContinuousClock()
        let t0 = clock.now
        let (events, keys) = try body()
        let elapsed = clock.now - t0
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Run(events: events, seconds: seconds, cpuSeconds: cpuSeconds() - cpu0, keys: keys)
    }

    /// Events per minute of the generated stream (about 330 a second, time moving forward).
    public static let eventsPerMinute = 20_000

    /// Writes `count` synthetic events (10% poison), time-ordered like the stream, as JSON lines to `path`.
    public static func writeEvents(count: Int, to path: String, seed: UInt64 = 42) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw ImpressionsError("cannot create \(path)")
        }
        defer { try? out.close() }
        var generator = SyntheticImpressions(seed: seed, eventsPerMinute: eventsPerMinute)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 21)
        for _ in 0..<count {
            buffer.append(contentsOf: generator.event().bytes)
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 {
                try out.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try out.write(contentsOf: buffer)
    }

    /// Reads `path` and scans and aggregates every event in memory.
    public static func scanFile(_ path: String) throws -> Run {
        let batch = ImpressionBatch()
        return try measure {
            let reader = try EventFileReader(path: path)
            try reader.forEachLine(oversize: { batch.addOversize($0) }) { line in
                batch.add(line)
                return true
            }
            return (batch.events, batch.keyCount)
        }
    }

    /// The baseline: Foundation's JSONDecoder on the first `limit` events of `path`.
    public static func decodeWithJSONDecoder(_ path: String, limit: Int) throws -> Run {
        let reader = try EventFileReader(path: path)
        var lines: [Data] = []
        try reader.forEachLine(oversize: { _ in }) { line in
            lines.append(Data(line))
            return lines.count < limit
        }
        let decoder = JSONDecoder()
        var counts: [String: Int64] = [:]
        return measure {
            for line in lines {
                guard let event = try? decoder.decode(DecodableImpression.self, from: line) else { continue }
                counts[event.event.banner ?? "", default: 0] += 1
            }
            return (lines.count, counts.count)
        }
    }

    struct DecodableImpression: Decodable {
        struct UserAgent: Decodable { var is_bot: Bool? }
        struct Event: Decodable {
            var banner: String?
            var campaign: String?
            var country: String?
            var uselang: String?
            var project: String?
            var device: String?
            var result: String?
            var impressionEventSampleRate: Double?
        }
        var dt: String
        var userAgent: UserAgent?
        var event: Event
    }
}

/// The Kafka half of `fundq bench impressions`.
extension ImpressionsBench {
    /// Produces `count` synthetic events to `topic`; returns the run (events/s produced).
    public static func produce(count: Int, brokers: String, topic: String) throws -> Run {
        let producer = try KafkaProducer(brokers: brokers, topic: topic)
        var generator = SyntheticImpressions(seed: 7, eventsPerMinute: eventsPerMinute)
        return try measure {
            for i in 0..<count { try producer.send(generator.event().bytes, key: String(i)) }
            try producer.flush(timeoutSeconds: 300)
            return (count, 0)
        }
    }

    /// The broker's ceiling: a librdkafka consumer in a group of its own
    /// (`round` tells one round's from another's) that only reads `count`
    /// messages (touching each payload), timed from the first message to the last.
    public static func consumeOnly(count: Int, brokers: String, topic: String, settings: [String: String], round: Int = 1) throws -> Run {
        let handler = FromTheBeginning()
        let consumer = try KafkaConsumer(brokers: brokers, group: "fundq-bench-raw-\(getpid())-\(round)", topic: topic,
                                         settings: settings, handler: handler)
        defer { consumer.close() }
        let clock = ContinuousClock()
        var first: ContinuousClock.Instant?
        var received = 0
        var bytes = 0
        let cpu0 = cpuSeconds()
        let deadline = clock.now + .seconds(600)
        while received < count, clock.now < deadline {
            try consumer.pollBatch(timeoutMilliseconds: 100) { _, _, payload in
                if first == nil { first = clock.now }
                received += 1
                bytes &+= payload.count
            }
        }
        guard received == count, let first else { throw ImpressionsError("consume-only loop read \(received) of \(count) messages") }
        return Run(events: received, seconds: (clock.now - first).seconds, cpuSeconds: cpuSeconds() - cpu0, keys: bytes)
    }

    /// The loader on `count` messages into `store`, timed from its first
    /// message to its last commit.
    public static func loadFromKafka(count: Int, options: KafkaLoaderOptions,
                                     openStore: @escaping @Sendable () throws -> ImpressionStore) throws -> Run {
        let loader = ImpressionKafkaLoader(store: try openStore(), options: options, logger: Logger(label: "fundq.bench.impressions"),
                                           openWriterStore: openStore)
        let cpu0 = cpuSeconds()
        let deadline = ContinuousClock().now + .seconds(600)
        let summary = try loader.run(shouldStop: { loader.summary.committedEvents >= count || ContinuousClock().now > deadline })
        Logger(label: "fundq.bench.impressions").info("""
            loader: \(String(format: "%.2f", summary.readSeconds)) s reading, \(summary.batches) batches of \(summary.rows) rows, \
            \(String(format: "%.2f", summary.commitSeconds)) s writing, \
            \(String(format: "%.2f", summary.waitSeconds)) s waiting for the writer, \
            \(String(format: "%.2f", summary.sealSeconds)) s sealing
            """)
        guard summary.committedEvents == count else {
            throw ImpressionsError("the loader committed \(summary.committedEvents) of \(count) messages")
        }
        return Run(events: count, seconds: summary.activeSeconds, cpuSeconds: cpuSeconds() - cpu0, keys: summary.batches,
                   writeSeconds: summary.commitSeconds)
    }

    /// Loads `path` with the file loader into `store` (scan, aggregate, stage, merge).
    public static func loadFile(_ path: String, store: ImpressionStore) throws -> Run {
        let loader = ImpressionFileLoader(store: store)
        return try measure {
            guard case .loaded(let events, _) = try loader.load(path: path) else { throw ImpressionsError("\(path) was loaded before") }
            return (events, 0)
        }
    }
}

/// Every partition from the beginning (the consume-only loop keeps no offsets).
final class FromTheBeginning: RebalanceHandler {
    func offsetsForAssignment(_ partitions: [Int32]) throws -> [Int32: Int64] { [:] }
    func partitionsRevoked(_ partitions: [Int32]) {}
    func partitionsAssigned(_ offsets: [Int32: Int64?]) {}
    func assignmentFailed(_ partitions: [Int32], _ error: any Error) {}
}
