public import Core
import Foundation
public import Logging

/// How long and how much a consumer or job runs.
public struct RunLimits: Sendable {
    /// Stop after this many messages.
    public var limit: Int?
    /// Stop after this long.
    public var timeLimit: Duration?
    /// Keep waiting for messages until told to stop (SIGTERM/SIGINT).
    public var daemon: Bool
    /// Messages claimed (and written) per batch.
    public var batchSize: Int

    /// Limits; by default one pass over what is queued, 100 per batch.
    public init(limit: Int? = nil, timeLimit: Duration? = nil, daemon: Bool = false, batchSize: Int = 100) {
        self.limit = limit
        self.timeLimit = timeLimit
        self.daemon = daemon
        self.batchSize = batchSize
    }
}

/// What a run did, for the summary line.
public struct RunSummary: Sendable {
    /// Totals over every batch.
    public var pops = PopSummary()
    /// Outages met (each backed off and retried).
    public var outages = 0
    /// Wall time.
    public var seconds = 0.0

    /// "1000 messages in 2.1 s: 950 inserted, 30 duplicate, 20 damaged".
    public func line(for name: String) -> String {
        var parts = pops.outcomes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        parts.append("\(pops.damaged) damaged")
        if pops.released > 0 { parts.append("\(pops.released) released") }
        if pops.leaseLost > 0 { parts.append("\(pops.leaseLost) lost their lease") }
        if outages > 0 { parts.append("\(outages) outage retries") }
        return "\(name): \(pops.claimed) message\(pops.claimed == 1 ? "" : "s") in \(String(format: "%.1f", seconds)) s: "
            + parts.joined(separator: ", ")
    }
}

/// Runs a batch handler over a queue: claims, hands batches over, settles
/// them, and keeps going within the limits. An outage (see
/// ``OutagePolicy``) is logged, backed off (0.5 s doubling to 30 s) and
/// retried: the batch in hand was released, so nothing is lost.
public struct ConsumerRunner {
    /// The consumer doing the claiming and settling.
    public let consumer: QueueConsumer
    /// The queue read.
    public let queueName: String
    /// Limits.
    public var limits: RunLimits
    /// Where outages are reported.
    public var logger: Logger
    /// The process's registry entry, told what the loop does and counts (nil: not registered).
    public var heartbeat: Heartbeat?
    /// Called after each batch with the totals so far (progress lines).
    public var onBatch: ((RunSummary) -> Void)? = nil

    /// A runner of `consumer` over `queueName`.
    public init(consumer: QueueConsumer, queueName: String, limits: RunLimits, logger: Logger) {
        self.consumer = consumer
        self.queueName = queueName
        self.limits = limits
        self.logger = logger
    }

    /// Runs until the queue is empty (or, as a daemon, until `shouldStop`),
    /// the limit or the time limit. Rethrows errors that are not outages.
    public func run(shouldStop: () -> Bool = { false }, handler: ([DeliveredMessage]) throws -> [MessageVerdict]) throws -> RunSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = RunSummary()
        var backoff = 0.5
        var idle = 0.05
        func timeIsUp() -> Bool { limits.timeLimit.map { clock.now - start >= $0 } ?? false }
        while !shouldStop() && !timeIsUp() {
            let want = limits.limit.map { min(limits.batchSize, $0 - summary.pops.claimed) } ?? limits.batchSize
            if want <= 0 { break }
            do {
                let batchStart = clock.now
                let pops = try consumer.popAtomicBatch(from: queueName, maximum: want, handler: handler)
                summary.pops.add(pops)
                report(pops)
                if pops.claimed > 0 {
                    logBatch(pops, seconds: (clock.now - batchStart).seconds, total: summary.pops.claimed)
                    onBatch?(summary)
                }
                backoff = 0.5
                if pops.claimed > 0 { idle = 0.05; continue }
                heartbeat?.doing("waiting for messages on \(queueName)")
                guard limits.daemon else { break }
                sleep(idle, unless: shouldStop)
                idle = min(idle * 2, 1)
            } catch where OutagePolicy.isOutage(error) {
                summary.outages += 1
                heartbeat?.count("outages")
                heartbeat?.doing("backing off after an outage")
                logger.error("outage: \(error); nothing was lost, retrying in \(backoff) s", metadata: ["queue": "\(queueName)"])
                sleep(backoff, unless: shouldStop)
                backoff = min(backoff * 2, 30)
            }
        }
        do {
            summary.pops.leaseLost += try consumer.flush()
        } catch {
            logger.error("could not send the last acknowledgements; those messages will be redelivered after their lease: \(error)")
        }
        summary.seconds = (clock.now - start).seconds
        return summary
    }

    private func report(_ pops: PopSummary) {
        guard let heartbeat, pops.claimed > 0 else { return }
        heartbeat.doing("consuming \(queueName)")
        heartbeat.count("claimed", by: pops.claimed)
        heartbeat.count("damaged", by: pops.damaged)
        heartbeat.count("released", by: pops.released)
        for (outcome, n) in pops.outcomes { heartbeat.count(outcome, by: n) }
    }

    /// One info line per batch: its counts and rate (each damaged message has its own line at debug).
    private func logBatch(_ pops: PopSummary, seconds: Double, total: Int) {
        var metadata: Logger.Metadata = [
            "queue": "\(queueName)", "claimed": "\(pops.claimed)", "damaged": "\(pops.damaged)", "released": "\(pops.released)",
            "total": "\(total)", "per_second": "\(seconds > 0 ? String(format: "%.0f", Double(pops.claimed) / seconds) : "-")",
        ]
        for (outcome, count) in pops.outcomes { metadata[outcome.replacingOccurrences(of: "-", with: "_")] = "\(count)" }
        logger.info("batch", metadata: metadata)
    }

    private func sleep(_ seconds: Double, unless shouldStop: () -> Bool) {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until && !shouldStop() { Thread.sleep(forTimeInterval: min(0.05, seconds)) }
    }
}
