import ArgumentParser
import Consumers
import Core
import Foundation
import Logging

/// `fundq bench consume`: donations per second from the queue into the
/// database through the donations sink, batched, beside a baseline of one
/// message per claim and per transaction measured in the same run.
struct BenchConsumeCommand: ParsableCommand, BatchedBench {
    static let defaultBatch = 500

    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Measure the donations sink: queue → donations table, batched vs one row per transaction.",
        discussion: "Writes rows with gateway fundq-bench-PID into the donations table and deletes them afterwards: "
            + "point it at a scratch database.")

    @OptionGroup var bench: BenchBatchOptions<Self>

    @Option(help: "Messages in the batched run.")
    var messages = 20_000

    @Option(help: "Messages in the one-per-transaction baseline (it is slow).")
    var baselineMessages = 2_000

    func validate() throws {
        guard messages >= 1, baselineMessages >= 1 else { throw ValidationError("--messages and --baseline-messages must be at least 1") }
    }

    struct Run {
        let name: String
        let messages: Int
        let seconds: Double
        let batches: LatencySamples
        var throughput: Double { seconds > 0 ? Double(messages) / seconds : 0 }
    }

    func run() throws {
        let stores = try bench.storage.open()
        let pid = ProcessInfo.processInfo.processIdentifier
        let gateway = "fundq-bench-\(pid)"
        let queueName = "fundq-bench-consume-\(pid)"
        var logger = Logger(label: "fundq.bench")
        logger.logLevel = .error
        let sink = DonationsSink(connection: stores.database)
        defer {
            try? stores.queue.removeAll(queueName)
            _ = try? stores.database.execute("DELETE FROM donations WHERE gateway = ?", [.text(gateway)])
        }

        func measure(_ name: String, count: Int, offset: Int, batchSize: Int) throws -> Run {
            try stores.queue.removeAll(queueName)
            let bodies = (0..<count).map { i -> [UInt8] in
                let n = offset + i
                let body = #"{"gateway":"\#(gateway)","gateway_txn_id":"B\#(n)","order_id":"\#(n)","contribution_tracking_id":"\#(n)","#
                    + #""currency":"EUR","gross":"\#(1 + n % 90).00","fee":"0.30","date":1764000000,"email":"donor\#(n)@example.org","#
                    + #""first_name":"Ada","last_name":"Lovelace","country":"GB","utm_source":"bench"}"#
                return Array(body.utf8)
            }
            var start = 0
            while start < bodies.count {
                try stores.queue.append(Array(bodies[start..<min(start + 1_000, bodies.count)]), to: queueName)
                start += 1_000
            }
            let consumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged,
                                         policy: ConsumerPolicy(acknowledgement: .withNextClaim), logger: logger)
            var samples = LatencySamples()
            let clock = ContinuousClock()
            let began = clock.now
            var handled = 0
            while true {
                let t0 = clock.now
                let summary = try consumer.popAtomicBatch(from: queueName, maximum: batchSize, handler: sink.handle)
                if summary.claimed == 0 { break }
                samples.record(clock.now - t0, operations: summary.claimed)
                handled += summary.outcomes["inserted", default: 0]
            }
            try consumer.flush()
            let seconds = (clock.now - began).seconds
            guard handled == count else {
                throw ConfigurationError("benchmark stored \(handled) of \(count) donations; see fundq damaged list --queue \(queueName)")
            }
            return Run(name: name, messages: count, seconds: seconds, batches: samples)
        }

        let baseline = try measure("baseline: 1 message per claim and per transaction", count: baselineMessages, offset: 0, batchSize: 1)
        let batched = try measure("donations sink, batches of \(bench.batch)", count: messages, offset: baselineMessages,
                                  batchSize: bench.batch)
        let runs = [baseline, batched]
        if bench.json {
            try Output.json(.object([
                "queue": .string(stores.queue.location), "database": .string(stores.database.location),
                "runs": .array(runs.map { r in
                    .object([
                        "name": .string(r.name), "messages": Output.number(r.messages), "messages_per_second": Output.number(r.throughput),
                        "batch_p50_ms": Output.number(r.batches.percentile(50) * 1000),
                        "batch_p99_ms": Output.number(r.batches.percentile(99) * 1000),
                        "ratio_to_baseline": Output.number(r.throughput / baseline.throughput),
                    ])
                }),
            ]))
            return
        }
        try Output.line("fundq bench consume: \(stores.queue.location) → \(stores.database.location)")
        try Output.line(Output.table(
            ["RUN", "MESSAGES", "MSG/S", "BATCH P50 MS", "BATCH P99 MS", "VS BASELINE"],
            runs.map { r in
                [r.name, String(r.messages), String(format: "%.0f", r.throughput), String(format: "%.2f", r.batches.percentile(50) * 1000),
                 String(format: "%.2f", r.batches.percentile(99) * 1000), String(format: "%.2f×", r.throughput / baseline.throughput)]
            }))
    }
}
