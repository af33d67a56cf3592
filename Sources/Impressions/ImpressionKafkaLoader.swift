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
    /// Most events per batch (one transaction). A batch goes to the writer
    /// once it holds a whole minute of the stream, or, on a stream read as it
    /// comes, as soon as the writer is free (a batch under 1,000 events at
    /// most every 0.1 s), so it is usually smaller.
    public var batchEvents: Int
    /// Seconds before a partial batch is queued even while the writer is busy.
    public var flushInterval: Double
    /// Without a daemon: stop after this many seconds without a message.
    public var idleExit: Double?

    /// Options; `idleExit` nil runs until told to stop.
    public init(brokers: String, topic: String, group: String, settings: [String: String] = [:], batchEvents: Int = 200_000,
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
    /// Batches committed (several may share a transaction when commits are slow).
    public var batches = 0
    /// Rows of counts those batches added to or created (a key counted
    /// in two batches is two rows).
    public var rows = 0
    /// Batches dropped because another consumer had moved the offsets.
    public var conflicts = 0
    /// Wall-clock seconds.
    public var seconds = 0.0
    /// Seconds from the first message read to the last batch committed
    /// (the rate without the time spent joining the group).
    public var activeSeconds = 0.0
    /// Seconds from the first message read to the last (reading alone).
    public var readSeconds = 0.0
    /// Seconds spent writing batches (inside ``ImpressionStore/commit(_:topic:progress:)``).
    public var commitSeconds = 0.0
    /// Seconds the consumer waited for the writer (``BatchWriter/maximumWaiting`` batches already waiting).
    public var waitSeconds = 0.0
    /// Seconds spent sealing batches (copying the counts out, in key order).
    public var sealSeconds = 0.0
}

/// Consumes the impression topic in a consumer group and writes each batch
/// with its offsets in one transaction (``ImpressionStore/commit(_:topic:progress:)``),
/// on a writer thread so that reading goes on meanwhile. On every assignment
/// each partition starts at its stored offset, so a SIGKILL at any instant
/// and a restart count every event once. Not `Sendable`: one per process.
public final class ImpressionKafkaLoader: RebalanceHandler {
    /// Reads stored offsets (on the consumer's thread).
    public let store: ImpressionStore
    /// How to read.
    public let options: KafkaLoaderOptions
    private let openWriterStore: @Sendable () throws -> ImpressionStore
    private let logger: Logger
    private var positions = PartitionPositions()
    /// The batches in hand, the oldest minute's first (a partition that
    /// reached a later minute adds to a later one; see ``PartitionPositions``).
    private var batches: [ImpressionBatch]
    /// The oldest batch in hand, the next to go to the writer.
    private var batch: ImpressionBatch { batches[0] }
    private var inHandEmpty: Bool { batches.allSatisfy(\.isEmpty) }
    private var consumer: KafkaConsumer?
    private var writer: BatchWriter?
    private var generation = 0
    private var pendingAssignment: [Int32]?
    /// Set at each assignment: the quiet time before an idle exit counts from there.
    private var assignedAt: ContinuousClock.Instant?
    private var firstEventAt: ContinuousClock.Instant?
    private var lastEventAt: ContinuousClock.Instant?
    /// Reading a stream as it comes, the writer never idles while events
    /// wait: once it is free, the batch in hand goes at once, so a batch's
    /// size follows the database's speed; one under `smallBatch` events goes
    /// at most every `smallBatchSpacing`, so that a thin stream is not one
    /// transaction per message. Reading a backlog, a batch waits for the end
    /// of its minute instead (see `sealIfDue`).
    static let smallBatch = 1_000
    static let smallBatchSpacing = Duration.milliseconds(100)
    /// How long a poll waits for messages with nothing in hand, and with a
    /// batch in hand or being written.
    static let idlePollMilliseconds: Int32 = 100
    static let busyPollMilliseconds: Int32 = 2
    /// Seconds after a minute's start when it is over on the clock: events of
    /// an older minute are a backlog (a minute's own events arrive in it,
    /// late ones a few seconds after).
    static let minuteOverAfter: Int64 = 90
    /// What this run has done so far.
    public private(set) var summary = KafkaLoaderSummary()

    /// A loader reading offsets through `store`; batches are written through
    /// a second store that `openWriterStore` opens on the writer thread.
    public init(store: ImpressionStore, options: KafkaLoaderOptions, logger: Logger,
                openWriterStore: @escaping @Sendable () throws -> ImpressionStore) {
        self.store = store
        self.options = options
        self.logger = logger
        self.openWriterStore = openWriterStore
        let scanner = ImpressionScanner()
        batches = (0..<PartitionPositions.batchesInHand).map { _ in ImpressionBatch(scanner: scanner) }
    }

    /// Runs until `shouldStop` (then finishes the batch in hand, commits it
    /// and leaves the group) or, with ``KafkaLoaderOptions/idleExit``, until
    /// the topic has been quiet that long.
    public func run(shouldStop: () -> Bool) throws -> KafkaLoaderSummary {
        let clock = ContinuousClock()
        let started = clock.now
        let writer = BatchWriter(topic: options.topic, logger: logger, open: openWriterStore)
        self.writer = writer
        defer { writer.stop() }
        let consumer = try KafkaConsumer(brokers: options.brokers, group: options.group, topic: options.topic,
                                         settings: options.settings, handler: self)
        self.consumer = consumer
        var lastSeal = clock.now
        var lastMessage = clock.now
        while !shouldStop() {
            try retryPendingAssignment()
            let before = summary.events
            // While a batch waits for the writer or is being written, look again
            // soon: a quiet topic must not hold it (or its result) for a full poll.
            let wait: Int32 = inHandEmpty && writer.isIdle ? Self.idlePollMilliseconds : Self.busyPollMilliseconds
            let got = try consumer.pollBatch(timeoutMilliseconds: wait) { partition, offset, payload in
                // Scanned first: the minute decides which batch takes it (a
                // message of a partition not held, or seen before, is dropped).
                let scanned = batch.scan(payload)
                let minute: Int64? = if case .counted(let fields) = scanned { fields.minute } else { nil }
                guard let destination = positions.accept(partition, offset, minute: minute) else { return }
                if firstEventAt == nil { firstEventAt = clock.now }
                batches[destination].add(scanned, payload)
                summary.events += 1
            }
            let now = clock.now
            if got > 0 { lastMessage = now }
            if summary.events > before { lastEventAt = now }
            if let at = assignedAt, at > lastMessage { lastMessage = at }
            try handle(writer.takeResults(), reseek: true)
            if sealIfDue(now: now, lastSeal: lastSeal) { lastSeal = clock.now }
            if let idle = options.idleExit, assignedAt != nil, inHandEmpty, writer.isIdle,
               now - lastMessage >= .seconds(idle) { break }
        }
        sealAll()
        try handle(writer.drain(), reseek: false)
        consumer.close()
        self.consumer = nil
        summary.seconds = (clock.now - started).seconds
        if let firstEventAt, let lastEventAt { summary.readSeconds = (lastEventAt - firstEventAt).seconds }
        return summary
    }

    /// Seals what is due after a poll; returns whether it sealed. A batch
    /// holding its whole minute goes at once (waiting only while
    /// ``BatchWriter/maximumWaiting`` batches wait for the writer). Otherwise everything in hand
    /// goes at the size or age limit, or as soon as the writer is free —
    /// except while reading a backlog (the batch's minute is over on the
    /// clock and the broker has more messages for a partition the minute
    /// waits on), when the batch waits for the end of its minute in the
    /// stream, so that the minute's keys are written once instead of once
    /// per batch that cut through it.
    private func sealIfDue(now: ContinuousClock.Instant, lastSeal: ContinuousClock.Instant) -> Bool {
        guard let writer, !inHandEmpty else { return false }
        // (Not for a handful of events: in a stream whose minutes are mixed
        // up, every partition soon holds a later minute.)
        if positions.minuteComplete && (batch.events >= Self.smallBatch || batch.isEmpty) {
            seal()
            return true
        }
        let events = batches.reduce(0) { $0 + $1.events }
        let over = positions.batchMinute.map { $0 + Self.minuteOverAfter < Int64(Date().timeIntervalSince1970) } ?? false
        let waitForMinute = over && consumer?.hasMessagesBeyond(positions.awaited) == true
        guard events >= options.batchEvents || now - lastSeal >= .seconds(options.flushInterval)
            || (writer.isIdle && !waitForMinute && (events >= Self.smallBatch || now - lastSeal >= Self.smallBatchSpacing))
        else { return false }
        sealAll()
        return true
    }

    /// Hands the oldest batch in hand to the writer; the next minute's is
    /// the oldest now.
    private func seal() {
        let progress = positions.progress
        guard let writer else { return }
        if !progress.isEmpty {
            let t0 = ContinuousClock().now
            let sealed = batch.sealed()
            let t1 = ContinuousClock().now
            writer.submit(PendingWrite(batch: sealed, progress: progress, generation: generation))
            summary.sealSeconds += (t1 - t0).seconds
            summary.waitSeconds += (ContinuousClock().now - t1).seconds
        }
        positions.committed()
        batch.clear()
        batches.append(batches.removeFirst())
    }

    /// Hands everything in hand to the writer, one batch per minute in hand.
    private func sealAll() {
        for _ in 0..<PartitionPositions.batchesInHand where !inHandEmpty { seal() }
    }

    /// Takes note of written batches; after a conflict every partition held
    /// restarts from its stored offset (`reseek`: tell Kafka too).
    private func handle(_ results: [WriteResult], reseek: Bool) throws {
        for result in results {
            switch result {
            case .committed(let write, let seconds, let at):
                summary.committedEvents += write.batch.events
                summary.batches += 1
                summary.rows += write.batch.keys
                summary.commitSeconds += seconds
                if let firstEventAt { summary.activeSeconds = (at - firstEventAt).seconds }
                consumer?.commitInformational(Dictionary(uniqueKeysWithValues: write.progress.map { ($0.partition, $0.to) }))
            case .conflict(let g):
                summary.conflicts += 1
                guard g == generation else { continue }  // already restarted for an earlier conflict
                generation += 1
                logger.warning("impressions: another consumer moved the offsets; batches in flight dropped, re-reading stored offsets")
                for b in batches { b.clear() }
                let seek = positions.restart(from: try store.storedOffsets(topic: options.topic))
                if reseek { try consumer?.assign(seek) }
            case .failed(let message):
                throw ImpressionsError("cannot write impressions to the database: \(message)")
            }
        }
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
        sealAll()
        do {
            try handle(writer?.drain() ?? [], reseek: false)
        } catch {
            logger.error("impressions: batches dropped at revocation (they will be read again): \(error)")
        }
        for b in batches { b.clear() }
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
