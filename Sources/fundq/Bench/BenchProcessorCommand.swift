import ArgumentParser
import Core
import CurlHTTP
import Foundation
import Processors
import Sandbox
import Synchronization

/// `fundq bench processor NAME`: status calls per second against the
/// in-process sandbox, with 1 and 16 requests in flight, beside a bare HTTP
/// round trip to the same server measured in the same run.
struct BenchProcessorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "processor",
        abstract: "Measure an adapter's status calls against the sandbox, 1 and 16 at once.")

    @OptionGroup var processors: ProcessorOptions

    @Argument(help: "The processor's name.")
    var name: String

    @Option(help: "Status calls per run.")
    var requests = 5_000

    @Flag(help: "Print the result as JSON.")
    var json = false

    struct Run: Sendable {
        let name: String
        let calls: Int
        let seconds: Double
        let latencies: [Double]
        var throughput: Double { Double(calls) / seconds }
        func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(p / 100 * Double(sorted.count - 1)))]
        }
    }

    func run() throws {
        guard let adapter = Processors.named(name) else { throw ValidationError("no processor called '\(name)'") }
        let sandbox = Sandbox()
        try sandbox.start()
        defer { sandbox.stop() }
        for i in 0..<requests { try sandbox.script(name, id: "B\(i)", outcome: .complete) }
        let upper = name.uppercased().replacingOccurrences(of: "-", with: "_")
        let environment = ProcessInfo.processInfo.environment.merging(sandbox.environment) { $1 }
            .merging(["FUNDQ_\(upper)_RATE_LIMIT_PER_SECOND": "10000"]) { $1 }
        let directory = processors.directory
        let identity = adapter.paymentIdentity
        let gateway = adapter.gateway

        func measure(_ label: String, threads: Int, _ call: @escaping @Sendable (Int, Int) throws -> Void) throws -> Run {
            let latencies = Mutex<[Double]>([])
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            let start = ContinuousClock.now
            for t in 0..<threads {
                group.enter()
                Thread {
                    defer { group.leave() }
                    var mine: [Double] = []
                    var i = t
                    while i < requests {
                        let t0 = ContinuousClock.now
                        do { try call(t, i) } catch { failures.withLock { $0.append("\(error)") }; return }
                        let d = ContinuousClock.now - t0
                        mine.append(d.seconds)
                        i += threads
                    }
                    latencies.withLock { $0 += mine }
                }.start()
            }
            group.wait()
            let elapsed = ContinuousClock.now - start
            if let first = failures.withLock({ $0.first }) { throw ConfigurationError("benchmark call failed: \(first)") }
            return Run(name: label, calls: requests, seconds: elapsed.seconds,
                       latencies: latencies.withLock { $0 })
        }

        // One adapter (one kept-alive connection) per thread: adapters are used by one thread at a time.
        let health = sandbox.baseURL + "/health"
        let baseline = try measure("baseline: bare HTTP round trip, 1 connection", threads: 1) { _, _ in
            let client = try HTTPClientCache.client()
            _ = try client.send(HTTPRequest(method: "GET", url: health))
        }
        var runs = [baseline]
        for threads in [1, 16] {
            runs.append(try measure("\(name) status, \(threads) at once", threads: threads) { _, i in
                let processor = try AdapterCache.adapter(name, directory: directory, environment: environment)
                _ = try processor.status(of: identity.row(gateway: gateway, id: "B\(i)"))
            })
        }
        if json {
            try Output.json(.object(["processor": .string(name), "runs": .array(runs.map { r in
                .object(["name": .string(r.name), "calls": Output.number(r.calls), "calls_per_second": Output.number(r.throughput),
                         "p50_ms": Output.number(r.percentile(50) * 1000), "p99_ms": Output.number(r.percentile(99) * 1000),
                         "ratio_to_baseline": Output.number(r.throughput / baseline.throughput)])
            })]))
            return
        }
        try Output.line("fundq bench processor \(name) against the sandbox on \(sandbox.baseURL)")
        try Output.line(Output.table(["RUN", "CALLS/S", "P50 MS", "P99 MS", "VS BASELINE"], runs.map { r in
            [r.name, String(format: "%.0f", r.throughput), String(format: "%.3f", r.percentile(50) * 1000),
             String(format: "%.3f", r.percentile(99) * 1000), String(format: "%.2f×", r.throughput / baseline.throughput)]
        }))
    }
}

/// One HTTP client per benchmark thread (a client is used by one thread at a time).
enum HTTPClientCache {
    static func client() throws -> HTTPClient {
        if let existing = Thread.current.threadDictionary["fundq.bench.http"] as? HTTPClient { return existing }
        let client = try HTTPClient()
        Thread.current.threadDictionary["fundq.bench.http"] = client
        return client
    }
}

/// One adapter per benchmark thread.
enum AdapterCache {
    static func adapter(_ name: String, directory: String, environment: [String: String]) throws -> any PaymentProcessor {
        if let existing = Thread.current.threadDictionary["fundq.bench.adapter"] as? any PaymentProcessor { return existing }
        let adapter = try Processors.make(name, directory: directory, environment: environment)
        Thread.current.threadDictionary["fundq.bench.adapter"] = adapter
        return adapter
    }
}
