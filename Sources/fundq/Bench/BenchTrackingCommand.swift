import ArgumentParser
import Backends
import Consumers
import Core
import Foundation
import Logging
import RedisDriver
import Tracking

/// `fundq bench tracking`: the frontend's `track` (one push) latency, and
/// events per second from the queue into `contribution_tracking` through
/// the tracking consumer, batched, beside a baseline of one event per claim
/// and per transaction measured in the same run.
struct BenchTrackingCommand: ParsableCommand, BatchedBench {
    static let defaultBatch = 1000

    static let configuration = CommandConfiguration(
        commandName: "tracking",
        abstract: "Measure contribution tracking: track() latency, and queue → contribution_tracking batched vs one event per transaction.",
        discussion: "Writes rows and events with ids bench-PID-… and deletes them afterwards: point it at a scratch database. "
            + "With Redis queues it also runs the consumer claiming each next batch ahead, as `fundq consume tracking` does.")

    @OptionGroup var bench: BenchBatchOptions<Self>

    @Option(help: "Events in the batched run (each pushed with track()).")
    var events = 50_000

    @Option(help: "Events per contribution tracking id.")
    var eventsPerID = 5

    @Option(help: "Events in the one-per-transaction baseline (it is slow).")
    var baselineEvents = 2_000

    func validate() throws {
        guard events >= 1, baselineEvents >= 1, eventsPerID >= 1 else {
            throw ValidationError("--events, --baseline-events and --events-per-id must be at least 1")
        }
    }

    struct Run {
        let name: String
        let events: Int
        let seconds: Double
        /// CPU seconds of this process (user + system) while it consumed.
        let cpuSeconds: Double
        let batches: LatencySamples
        /// Wall seconds per phase: the queue (claim, acknowledgements), the
        /// consumer's own work (parse, merge, parameters) and each statement.
        let phases: PhaseTimes
        var throughput: Double { seconds > 0 ? Double(events) / seconds : 0 }
    }

    func run() throws {
        let stores = try bench.storage.open()
        let pid = ProcessInfo.processInfo.processIdentifier
        let prefix = "bench-\(pid)-"
        let tracker = ContributionTracker(queue: stores.queue, ids: TrackingPushCommand.NoIDs(),
                                          envelope: MessageEnvelope(sourceName: "fundq-bench", sourceType: "bench"))
        tracker.queueName = "fundq-bench-tracking-\(pid)"
        func cleanUp() {
            try? stores.queue.removeAll(tracker.queueName)
            _ = try? stores.database.execute("DELETE FROM contribution_tracking WHERE id LIKE ?", [.text(prefix + "%")])
            _ = try? stores.database.execute("DELETE FROM contribution_tracking_event WHERE contribution_tracking_id LIKE ?",
                                             [.text(prefix + "%")])
        }
        cleanUp()
        defer { cleanUp() }
        var track = LatencySamples()
        try push(baselineEvents, offset: 0, prefix: prefix, tracker: tracker, into: &track)
        let baseline = try measure("baseline: 1 event per claim and per transaction", count: baselineEvents, batchSize: 1,
                                   queueName: tracker.queueName, stores: stores)
        try push(events, offset: baselineEvents + eventsPerID, prefix: prefix, tracker: tracker, into: &track)
        var runs = [baseline]
        runs.append(try measure("tracking consumer, batches of \(bench.batch), claims in line", count: events, batchSize: bench.batch,
                                queueName: tracker.queueName, stores: stores))
        if let redis = try bench.storage.configuration.redisURL() {
            // As `fundq consume tracking` runs on Redis: the next batch claimed while this one is written.
            try push(events, offset: baselineEvents + events + 2 * eventsPerID, prefix: prefix, tracker: tracker, into: &track)
            runs.append(try measure("tracking consumer, batches of \(bench.batch), next batch claimed ahead", count: events,
                                    batchSize: bench.batch, queueName: tracker.queueName, stores: stores,
                                    claimAhead: ClaimAhead(open: { RedisQueue(url: redis) })))
        }
        try report(track: track, runs: runs, stores: stores)
    }

    /// Pushes `count` events with `track()`, `eventsPerID` per id, timing each call.
    func push(_ count: Int, offset: Int, prefix: String, tracker: ContributionTracker, into track: inout LatencySamples) throws {
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count {
            let id = prefix + String((offset + i) / eventsPerID)
            let fields: [String: JSONValue] = [
                "utm_source": .string("B26_\(i % 7).lp\(i % 3).cc"), "utm_medium": .string("sitenotice"),
                "utm_campaign": .string("C26_\(i % 5)"), "language": .string("en"), "country": .string("GB"),
                "form_amount": .string("EUR \(5 + i % 20)"), "step": .number(String(i % eventsPerID)),
            ]
            try track.measure { try tracker.track(id: id, fields: fields) }
        }
        track.wallSeconds += (clock.now - start).seconds
    }

    /// Consumes the scratch queue in batches of `batchSize`; every event must be applied.
    func measure(_ name: String, count: Int, batchSize: Int, queueName: String, stores: Storage,
                 claimAhead: ClaimAhead? = nil) throws -> Run {
        var logger = Logger(label: "fundq.bench")
        logger.logLevel = .error
        let database = PhaseTimedConnection(stores.database)
        let handler = TrackingConsumer(connection: database)
        let consumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged,
                                     policy: TrackingConsumer.policy(), logger: logger)
        consumer.claimAhead = claimAhead
        var samples = LatencySamples()
        let clock = ContinuousClock()
        let began = clock.now
        let cpu0 = LatencySamples.processCPUSeconds()
        var applied = 0
        var handling = Duration.zero
        var phases = PhaseTimes()
        while true {
            let t0 = clock.now
            let summary = try consumer.popAtomicBatch(from: queueName, maximum: batchSize) { batch in
                let h0 = clock.now
                defer { handling += clock.now - h0 }
                return try handler.handle(batch)
            }
            if summary.claimed == 0 { break }
            samples.record(clock.now - t0, operations: summary.claimed)
            applied += summary.outcomes["applied", default: 0]
        }
        try consumer.flush()
        let seconds = (clock.now - began).seconds
        let statements = database.times.entries.reduce(Duration.zero) { $0 + .seconds($1.1) }
        phases.add("queue: claim, acknowledge, screen", clock.now - began - handling)
        phases.add("consumer: parse, merge, parameters", handling - statements)
        for (name, s) in database.times.entries { phases.add("database: \(name)", .seconds(s)) }
        let cpuSeconds = LatencySamples.processCPUSeconds() - cpu0
        guard applied == count else {
            throw ConfigurationError("benchmark applied \(applied) of \(count) events; see fundq damaged list --queue \(queueName)")
        }
        return Run(name: name, events: count, seconds: seconds, cpuSeconds: cpuSeconds, batches: samples, phases: phases)
    }

    func report(track: LatencySamples, runs: [Run], stores: Storage) throws {
        let baseline = runs[0]
        if bench.json {
            try Output.json(.object([
                "queue": .string(stores.queue.location), "database": .string(stores.database.location),
                "track": .object([
                    "calls": Output.number(track.operations), "calls_per_second": Output.number(track.throughput),
                    "p50_ms": Output.number(track.percentile(50) * 1000), "p99_ms": Output.number(track.percentile(99) * 1000),
                ]),
                "runs": .array(runs.map { r in
                    .object([
                        "name": .string(r.name), "events": Output.number(r.events), "events_per_second": Output.number(r.throughput),
                        "batch_p50_ms": Output.number(r.batches.percentile(50) * 1000),
                        "batch_p99_ms": Output.number(r.batches.percentile(99) * 1000),
                        "ratio_to_baseline": Output.number(r.throughput / baseline.throughput),
                        "consumer_cpu_seconds": Output.number(r.cpuSeconds), "seconds": Output.number(r.seconds),
                        "phases": .array(r.phases.entries.map { .object(["name": .string($0.0), "seconds": Output.number($0.1)]) }),
                    ])
                }),
            ]))
            return
        }
        try Output.line("fundq bench tracking: \(stores.queue.location) → \(stores.database.location)")
        try Output.line(String(format: "track(): %d calls, %.0f/s, p50 %.3f ms, p99 %.3f ms", track.operations, track.throughput,
                               track.percentile(50) * 1000, track.percentile(99) * 1000))
        try Output.line(Output.table(
            ["RUN", "EVENTS", "EVENTS/S", "BATCH P50 MS", "BATCH P99 MS", "VS BASELINE", "CONSUMER CPU S / WALL S"],
            runs.map { r in
                [r.name, String(r.events), String(format: "%.0f", r.throughput), String(format: "%.2f", r.batches.percentile(50) * 1000),
                 String(format: "%.2f", r.batches.percentile(99) * 1000), String(format: "%.2f×", r.throughput / baseline.throughput),
                 String(format: "%.2f / %.2f", r.cpuSeconds, r.seconds)]
            }))
        for r in runs {
            try Output.line("\(r.name), wall seconds per phase: "
                + r.phases.entries.map { "\($0.0) " + String(format: "%.2f", $0.1) }.joined(separator: ", "))
        }
    }
}
