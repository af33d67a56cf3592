import ArgumentParser
import Consumers
import Core
import Logging

/// `fundq consume pending|donations|tracking`.
struct ConsumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Run a consumer: pending (queue → pending database), donations (queue → donations table) or tracking (queue → contribution_tracking).",
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

    @Option(help: "Seconds a claimed batch stays invisible to other consumers.")
    var lease: Double = 120

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() throws {
        let stop = StopSignal()
        let stores = try storage.open()
        let logger = Logger(label: "fundq.consume.\(consumer.rawValue)")
        let queueConsumer = QueueConsumer(
            queue: stores.queue, damaged: stores.damaged,
            policy: ConsumerPolicy(lease: .milliseconds(Int64(lease * 1000)), acknowledgement: .withNextClaim), logger: logger)
        let limits = RunLimits(limit: runOptions.limit, timeLimit: runOptions.timeLimit?.duration, daemon: runOptions.daemon,
                               batchSize: runOptions.batch)
        // One pass over what is queued is a short job; a daemon is a process to watch.
        let presence = try process.start(role: "consume-\(consumer.rawValue)", storage: storage.configuration,
                                         registered: runOptions.daemon)
        defer { presence.stop() }
        let heartbeat = presence.heartbeat
        func runner(_ queueName: String) -> ConsumerRunner {
            var runner = ConsumerRunner(consumer: queueConsumer, queueName: queueName, limits: limits, logger: logger)
            runner.heartbeat = heartbeat
            return runner
        }
        let summary: RunSummary
        switch consumer {
        case .pending:
            let handler = PendingConsumer(connection: stores.database)
            summary = try runner(PendingConsumer.queueName).run(shouldStop: { stop.isRaised }, handler: handler.handle)
        case .donations:
            var handler = DonationsSink(connection: stores.database)
            handler.tracking = TrackingLink(queue: stores.queue)
            summary = try runner(DonationsSink.queueName).run(shouldStop: { stop.isRaised }, handler: handler.handle)
        case .tracking:
            let handler = TrackingConsumer(connection: stores.database)
            summary = try runner(TrackingConsumer.queueName).run(shouldStop: { stop.isRaised }, handler: handler.handle)
        }
        Output.note(summary.line(for: "consume \(consumer.rawValue)"))
        if json {
            var object: [String: JSONValue] = [
                "consumer": .string(consumer.rawValue), "claimed": Output.number(summary.pops.claimed),
                "damaged": Output.number(summary.pops.damaged), "released": Output.number(summary.pops.released),
                "lease_lost": Output.number(summary.pops.leaseLost), "outages": Output.number(summary.outages),
                "seconds": Output.number(summary.seconds),
            ]
            for (outcome, count) in summary.pops.outcomes { object[outcome] = Output.number(count) }
            try Output.json(.object(object))
        }
    }
}
