import ArgumentParser
import Backends
import Consumers
import Core
import Logging
import RedisDriver

/// `fundq consume pending|donations|tracking`.
struct ConsumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Run a consumer: pending (queue → pending database), donations (queue → donations table) "
            + "or tracking (queue → contribution_tracking).",
        discussion: """
            Batches are claimed, written in one transaction and then acknowledged. If Redis or the \
            database goes away, the batch in hand is released, the outage is logged, and the consumer \
            backs off and retries; nothing is lost. Ends with a summary line on stderr.
            """
    )

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case pending, donations, tracking
    }

    @OptionGroup var storage: StorageOptions
    @OptionGroup var runOptions: RunOptions
    @OptionGroup var process: ProcessOptions

    @Argument(help: "Which consumer: pending, donations or tracking.")
    var consumer: Kind

    @Option(help: "Seconds a claimed batch stays invisible to other consumers (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var lease: Double = 120

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() throws {
        let stop = StopSignal(finishing: "the batch in hand")
        let stores = try storage.open()
        let logger = Logger(label: "fundq.consume.\(consumer.rawValue)")
        let policy = ConsumerPolicy(lease: .milliseconds(Int64(lease * 1000)), acknowledgement: .withNextClaim)
        let queueConsumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged,
                                          policy: consumer == .tracking ? TrackingConsumer.policy(policy) : policy, logger: logger)
        if consumer == .tracking, let redis = try storage.configuration.redisURL() {
            // The next batch is claimed while this one is written (a second Redis connection).
            queueConsumer.claimAhead = ClaimAhead(open: { RedisQueue(url: redis) })
        }
        let limits = RunLimits(limit: runOptions.limit, timeLimit: runOptions.timeLimit?.duration, daemon: runOptions.daemon,
                               batchSize: runOptions.batch)
        // One pass over what is queued is a short job; a daemon is a process to watch.
        let presence = try process.start(role: "consume-\(consumer.rawValue)", storage: storage.configuration,
                                         registered: runOptions.daemon)
        defer { presence.stop() }
        let queueName = Self.queueName(consumer)
        // Without --daemon the work is what waits now (or the limit): progress has a total.
        let waiting = runOptions.daemon ? nil : (try? stores.queue.stats(queueName)).map { $0.waiting + $0.inFlight }
        let progress = ProgressReporter("consume \(consumer.rawValue)", total: waiting.map { min($0, runOptions.limit ?? $0) })
        var runner = ConsumerRunner(consumer: queueConsumer, queueName: queueName, limits: limits, logger: logger)
        runner.heartbeat = presence.heartbeat
        runner.onBatch = { progress.update($0.pops.claimed) }
        let summary: RunSummary
        switch consumer {
        case .pending:
            summary = try runner.run(shouldStop: { stop.isRaised }, handler: PendingConsumer(connection: stores.database).handle)
        case .donations:
            var handler = DonationsSink(connection: stores.database)
            handler.tracking = TrackingLink(queue: stores.queue)
            summary = try runner.run(shouldStop: { stop.isRaised }, handler: handler.handle)
        case .tracking:
            summary = try runner.run(shouldStop: { stop.isRaised }, handler: TrackingConsumer(connection: stores.database).handle)
        }
        progress.finish()
        Output.note(summary.line(for: "consume \(consumer.rawValue)"))
        if json { try Output.json(Self.json(summary, consumer: consumer)) }
    }

    /// The queue each consumer reads.
    static func queueName(_ kind: Kind) -> String {
        switch kind {
        case .pending: return PendingConsumer.queueName
        case .donations: return DonationsSink.queueName
        case .tracking: return TrackingConsumer.queueName
        }
    }

    /// Every consumer's labels for what it did with a message.
    static func outcomeLabels(_ kind: Kind) -> [String] {
        switch kind {
        case .pending: return PendingConsumer.outcomeLabels
        case .donations: return DonationsSink.outcomeLabels
        case .tracking: return TrackingConsumer.outcomeLabels
        }
    }

    /// The summary as JSON: every key always present (0 when nothing was
    /// counted), outcome labels in snake case ("skipped_final").
    static func json(_ summary: RunSummary, consumer: Kind) -> JSONValue {
        var object: [String: JSONValue] = [
            "consumer": .string(consumer.rawValue), "claimed": Output.number(summary.pops.claimed),
            "damaged": Output.number(summary.pops.damaged), "released": Output.number(summary.pops.released),
            "lease_lost": Output.number(summary.pops.leaseLost), "outages": Output.number(summary.outages),
            "seconds": Output.number(summary.seconds),
        ]
        for label in Set(outcomeLabels(consumer)).union(summary.pops.outcomes.keys) {
            object[label.replacingOccurrences(of: "-", with: "_")] = Output.number(summary.pops.outcomes[label] ?? 0)
        }
        return .object(object)
    }
}
