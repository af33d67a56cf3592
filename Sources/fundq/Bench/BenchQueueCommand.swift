import ArgumentParser
import Core
import Foundation
import RedisDriver

/// `fundq bench queue`: push and popAtomic throughput and latency, single
/// and batched, beside a raw baseline measured in the same run (a bare
/// RPUSH over the same hiredis connection, or a bare single-row INSERT on
/// the embedded file).
struct BenchQueueCommand: ParsableCommand, BatchedBench {
    static let defaultBatch = 100

    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Measure push and popAtomic throughput and latency on the configured backend.")

    @OptionGroup var bench: BenchBatchOptions<Self>

    @Option(help: "Messages per phase.")
    var messages = 10_000

    func validate() throws {
        guard messages >= 1 else { throw ValidationError("--messages must be at least 1") }
    }

    /// A realistic donation message (~600 bytes).
    static func sampleMessage(_ i: Int) -> [UInt8] {
        Array("""
            {"gateway":"bench-gateway","gateway_account":"default","gateway_txn_id":"\(1_000_000 + i)","order_id":"\(5_000_000 + i)",\
            "contribution_tracking_id":"\(9_000_000 + i)","currency":"EUR","gross":"10.00","fee":"0.25","date":1764300000,\
            "payment_method":"cc","payment_submethod":"visa","recurring":"","email":"donor\(i)@example.org","first_name":"Ada",\
            "last_name":"Lovelace","street_address":"1 Example Street","city":"London","state_province":"","country":"GB",\
            "postal_code":"N1 1AA","language":"en","utm_source":"banner","utm_medium":"sitenotice","utm_campaign":"C26",\
            "user_ip":"192.0.2.1","optout":"0","anonymous":"0"}
            """.utf8)
    }

    struct Phase {
        let name: String
        let samples: LatencySamples
    }

    func run() throws {
        let stores = try bench.storage.open()
        let queueName = "fundq-bench-\(ProcessInfo.processInfo.processIdentifier)"
        let producer = QueueProducer(queue: stores.queue)
        let consumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged)
        let loopConsumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged,
                                         policy: ConsumerPolicy(acknowledgement: .withNextClaim))
        let bodies = (0..<messages).map(Self.sampleMessage)
        let clock = ContinuousClock()
        var phases: [Phase] = []
        try stores.queue.removeAll(queueName)
        defer { try? stores.queue.removeAll(queueName) }

        func phase(_ name: String, _ body: (inout LatencySamples) throws -> Void) throws {
            var samples = LatencySamples()
            let start = clock.now
            try body(&samples)
            samples.wallSeconds = (clock.now - start).seconds
            phases.append(Phase(name: name, samples: samples))
        }

        // Baseline: the backend's bare append, no validation, no envelope, no lease.
        let baselineName: String
        if let redis = stores.queue as? RedisQueue {
            baselineName = "baseline: bare RPUSH (hiredis, 1 connection)"
            let key = "fundq-bench-baseline-\(ProcessInfo.processInfo.processIdentifier)"
            try phase(baselineName) { samples in
                for body in bodies {
                    try samples.measure {
                        try redis.connection.command([Array("RPUSH".utf8), Array(key.utf8), body], context: "benchmarking")
                    }
                }
            }
            try redis.connection.command("DEL", key, context: "benchmarking")
        } else if let sqlite = stores.sqlite {
            baselineName = "baseline: bare INSERT (1 row per transaction)"
            try sqlite.execute("CREATE TABLE IF NOT EXISTS bench_baseline_main (id INTEGER PRIMARY KEY, body BLOB)")
            try phase(baselineName) { samples in
                let insert = try sqlite.prepare("INSERT INTO bench_baseline_main (body) VALUES (?)")
                for body in bodies {
                    try samples.measure { try insert.bind(.blob(body)).run() }
                }
            }
            try sqlite.execute("DROP TABLE bench_baseline_main")
        } else {
            baselineName = "baseline"
        }

        try phase("push (single)") { samples in
            for body in bodies { try samples.measure { try producer.push(body, to: queueName) } }
        }
        let half = messages / 2
        try phase("popAtomic (single, ack then claim: 2 round trips)") { samples in
            for _ in 0..<half { try samples.measure { _ = try consumer.popAtomic(from: queueName) { _ in } } }
        }
        try phase("popAtomic (single, ack with next claim: 1 round trip)") { samples in
            for _ in half..<messages { try samples.measure { _ = try loopConsumer.popAtomic(from: queueName) { _ in } } }
            try loopConsumer.flush()
        }
        try phase("push (batch of \(bench.batch))") { samples in
            var start = 0
            while start < bodies.count {
                let chunk = Array(bodies[start..<min(start + bench.batch, bodies.count)])
                try samples.measure(operations: chunk.count) { try producer.push(contentsOf: chunk, to: queueName) }
                start += chunk.count
            }
        }
        try phase("popAtomic (batch of \(bench.batch), ack with next claim)") { samples in
            while true {
                let start = clock.now
                let summary = try loopConsumer.popAtomic(from: queueName, maximum: bench.batch) { _ in }
                if summary.claimed == 0 { break }
                samples.record(clock.now - start, operations: summary.claimed)
            }
            try loopConsumer.flush()
        }
        try report(phases: phases, baselineName: baselineName, location: stores.queue.location)
    }

    func report(phases: [Phase], baselineName: String, location: String) throws {
        let baseline = phases.first { $0.name == baselineName }?.samples.throughput ?? 0
        if bench.json {
            try Output.json(.object([
                "backend": .string(location), "messages": Output.number(messages), "batch": Output.number(bench.batch),
                "phases": .array(phases.map { p in
                    let s = p.samples
                    return .object([
                        "name": .string(p.name), "messages_per_second": Output.number(s.throughput),
                        "p50_ms": Output.number(s.percentile(50) * 1000), "p99_ms": Output.number(s.percentile(99) * 1000),
                        "ratio_to_baseline": baseline > 0 ? Output.number(s.throughput / baseline) : .null,
                    ])
                }),
            ]))
            return
        }
        try Output.line("fundq bench queue on \(location): \(messages) messages per phase, batch \(bench.batch)")
        try Output.line(Output.table(
            ["PHASE", "MSG/S", "P50 MS", "P99 MS", "VS BASELINE"],
            phases.map { p in
                return [p.name, String(format: "%.0f", p.samples.throughput), String(format: "%.3f", p.samples.percentile(50) * 1000),
                        String(format: "%.3f", p.samples.percentile(99) * 1000),
                        baseline > 0 ? String(format: "%.2f×", p.samples.throughput / baseline) : "-"]
            }))
    }
}
