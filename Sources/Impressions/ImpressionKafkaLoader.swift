public import Logging
import Core
import Foundation

/// Where and how the Kafka loader reads.
public struct KafkaLoaderOptions: Sendable {
    /// `HOST:PORT[,HOST:PORT…]`.
    public var brokers: String
    /// The impressions topic.
    public var topic: String
    /// The consumer group shared by every loader process.
    public var group: String
    /// Extra librdkafka properties (`session.timeout.ms`, …).
    public var settings: [String: String]
    /// Events per batch (one transaction).
    public var batchEvents: Int
    /// Seconds before a partial batch is written anyway.
    public var flushInterval: Double
    /// Without a daemon: stop after this many seconds without a message.
    public var idleExit: Double?

    /// Options; `idleExit` nil runs until told to stop.
    public init(brokers: String, topic: String, group: String, settings: [String: String] = [:], batchEvents: Int = 50_000,
                flushInterval: Double = 1, idleExit: Double? = nil) {
        self.brokers = brokers
        self.topic = topic
        self.group = group
        self.settings = settings
        self.batchEvents = batchEvents
        self.flushInterval = flushInterval
        self.idleExit = idleExit
    }
}

/// What a run did.
public struct KafkaLoaderSummary: Sendable {
    /// Messages read and aggregated.
    public var events = 0
    /// Messages in committed batches.
    public var committedEvents = 0
    /// Transactions committed.
    public var batches = 0
    /// Batches dropped because another consumer had moved the offsets.
    public var conflicts = 0
    /// Wall-clock seconds.
    public var seconds = 0.0
    /// Seconds from the first message read to the last batch committed
    /// (the rate without the time spent joining the group).
    public var activeSeconds = 0.0
    /// Seconds spent writing batches (inside ``ImpressionStore/commit(_:topic:progress:)``).
    public var commitSeconds = 0.0
}

/// Consumes the impression topic in a consumer group and writes each batch
/// with its offsets in one transaction (``ImpressionStore/commit(_:topic:progress:)``).
/// On every assignment each partition starts at its stored offset, so a
/// SIGKILL at any instant and a restart count every event once. Not
/// `Sendable`: one per process, on one thread.
public final class ImpressionKafkaLoader: RebalanceHandler {
    /// Where counts and offsets go.
    public let store: ImpressionStore
    /// How to read.
    public let options: KafkaLoaderOptions
    private let logger: Logger
    private var positions = PartitionPositions()
    private let batch = ImpressionBatch()
    private var consumer: KafkaConsumer?
    private var pendingAssignment: [Int32]?
    /// Set at each assignment: the quiet time before an idle exit counts from there.
    private var assignedAt: ContinuousClock.Instant?
    private var firstEventAt: ContinuousClock.Instant?
    /// What this run has done so far.
    public private(set) var summary = KafkaLoaderSummary()

    /// A loader writing to `store`.
    public init(store: ImpressionStore, options: KafkaLoaderOptions, logger: Logger) {
        self.store = store
        self.options = options
        self.logger = logger
    }

    /// Runs until `shouldStop` (then finishes the batch in hand, commits it
    /// and leaves the group) or, with ``KafkaLoaderOptions/idleExit``, until
    /// the topic has been quiet that long.
    public func run(shouldStop: () -> Bool) throws -> KafkaLoaderSummary {
        let clock = ContinuousClock()
        let started = clock.now
        let consumer = try KafkaConsumer(brokers: options.brokers, group: options.group, topic: options.topic,
                                         settings: options.settings, handler: self)
        self.consumer = consumer
        var lastFlush = clock.now
        var lastMessage = clock.now
        while !shouldStop() {
            try retryPendingAssignment()
            let got = try consumer.poll(timeoutMilliseconds: 100) { partition, offset, payload in
                if positions.accept(partition, offset) {
                    if firstEventAt == nil { firstEventAt = clock.now }
                    batch.add(payload)
                    summary.events += 1
                }
            }
            if got { lastMessage = clock.now }
            if let at = assignedAt, at > lastMessage { lastMessage = at }
            if batch.events >= options.batchEvents || (clock.now - lastFlush >= .seconds(options.flushInterval) && !batch.isEmpty) {
                try flush(shouldStop: shouldStop)
                lastFlush = clock.now
            }
            if let idle = options.idleExit, assignedAt != nil, batch.isEmpty, clock.now - lastMessage >= .seconds(idle) { break }
        }
        try flush(shouldStop: { false })
        consumer.close()
        self.consumer = nil
        summary.seconds = (clock.now - started).seconds
        return summary
    }

    /// Writes the batch in hand with its offsets, retrying while the
    /// database is unreachable (up to about five minutes).
    private func flush(shouldStop: () -> Bool) throws {
        var attempt = 0
        while true {
            do {
                try flushOnce(reseek: true)
                return
            } catch {
                attempt += 1
                guard attempt < 60 else { throw error }
                logger.error("impressions: cannot write a batch of \(batch.events) events (attempt \(attempt)), retrying: \(error)")
                Thread.sleep(forTimeInterval: min(5, 0.2 * Double(attempt)))
            }
        }
    }

    private func flushOnce(reseek: Bool) throws {
        let progress = positions.progress
        guard !progress.isEmpty else { return }
        let began = ContinuousClock().now
        let written = try store.commit(batch, topic: options.topic, progress: progress)
        summary.commitSeconds += (ContinuousClock().now - began).seconds
        if written {
            if let firstEventAt { summary.activeSeconds = (ContinuousClock().now - firstEventAt).seconds }
            summary.committedEvents += batch.events
            summary.batches += 1
            positions.committed()
            consumer?.commitInformational(Dictionary(uniqueKeysWithValues: progress.map { ($0.partition, $0.to) }))
            batch.clear()
            return
        }
        summary.conflicts += 1
        logger.warning("impressions: another consumer moved the offsets of \(progress.map(\.partition)); batch of \(batch.events) dropped, re-reading")
        batch.clear()
        let seek = positions.restart(from: try store.storedOffsets(topic: options.topic))
        if reseek { try consumer?.assign(seek) }
    }

    private func retryPendingAssignment() throws {
        guard let pending = pendingAssignment, let consumer else { return }
        do {
            let offsets = try offsetsForAssignment(pending)
            let assigned = Dictionary(uniqueKeysWithValues: pending.map { ($0, offsets[$0]) })
            try consumer.assign(assigned)
            partitionsAssigned(assigned)
            pendingAssignment = nil
        } catch {
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    func offsetsForAssignment(_ partitions: [Int32]) throws -> [Int32: Int64] {
        try store.storedOffsets(topic: options.topic).filter { partitions.contains($0.key) }
    }

    func partitionsAssigned(_ offsets: [Int32: Int64?]) {
        positions.assigned(offsets)
        assignedAt = ContinuousClock().now
        let text = offsets.sorted { $0.key < $1.key }.map { "\($0.key)@\($0.value.map(String.init) ?? "beginning")" }
        logger.info("impressions: assigned \(options.topic) partitions \(text.joined(separator: ", "))")
    }

    func partitionsRevoked(_ partitions: [Int32]) {
        // Write what was read before giving the partitions up (the offsets
        // check keeps this safe even if another consumer got there first).
        do { try flushOnce(reseek: false) } catch {
            logger.error("impressions: batch of \(batch.events) events dropped at revocation (it will be read again): \(error)")
        }
        batch.clear()
        positions.revoked(partitions)
        _ = positions.restart(from: positions.entries.compactMapValues(\.stored))
        pendingAssignment = nil
        logger.info("impressions: partitions \(partitions.sorted()) of \(options.topic) revoked")
    }

    func assignmentFailed(_ partitions: [Int32], _ error: any Error) {
        logger.error("impressions: cannot read stored offsets for partitions \(partitions.sorted()), will retry: \(error)")
        pendingAssignment = partitions
    }
}
