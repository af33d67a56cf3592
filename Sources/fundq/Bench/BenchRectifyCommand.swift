import ArgumentParser
import Backends
import Core
import Foundation
import Logging
import Processors
import Rectifier
import Sandbox
import Synchronization

/// `fundq bench rectify`: orphans resolved per second against the sandbox,
/// by the default (elastic) pool up to the configured concurrency, beside
/// one rectifier working one row at a time and beside status calls 16 at
/// once (the rectifier's goal is half that rate), measured in the same run
/// on a scratch database: rounds of the rectifier and the status calls one
/// after the other, the round with the median ratio reported (a status
/// call's cost on this shared machine moves by a third from one minute to
/// the next).
struct BenchRectifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rectify",
        abstract: "Measure the rectifier against the in-process sandbox: the default pool vs one at a time.",
        discussion: """
            Uses scratch SQLite files in a temporary folder (one per round) unless --db-url names a scratch MariaDB database. \
            The one-at-a-time baseline is measured once; then --rounds times the default pool (elastic: one worker per \
            processor, more while the process leaves the CPU unused, up to the configured concurrency) on new orphans and \
            the 16-at-once status calls, and the round with the median ratio is shown, every round's ratio beside it. \
            The processors' rate limits are lifted for the sandbox (it is not a real processor); their concurrency is the configured one.
            """)

    @OptionGroup var processors: ProcessorOptions

    @Option(name: .customLong("db-url"), help: "A scratch MariaDB database (mysql://…); default: a temporary SQLite file.")
    var databaseURL: String?

    @Option(name: .customLong("queue-url"), help: "Queues in this Redis (redis://…); default: the scratch SQLite file.")
    var queueURL: String?

    @Option(help: "Orphans in the concurrent run.")
    var orphans = 10_000

    @Option(help: "Orphans in the one-at-a-time baseline.")
    var baselineOrphans = 2_000

    @Option(help: "Status calls in the reference run (16 at once, like `fundq bench processor`).")
    var statusCalls = 10_000

    @Option(help: "Rounds of the concurrent run and the reference, one after the other; the median round is reported.")
    var rounds = 3

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard orphans >= 1, baselineOrphans >= 1, statusCalls >= 1, rounds >= 1 else {
            throw ValidationError("--orphans, --baseline-orphans, --status-calls and --rounds must be positive")
        }
    }

    func run() throws {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("fundq-bench-rectify-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        // A SQLite file of its own for each round (and the baseline), so that no round works beside an earlier one's
        // rows; a MariaDB database is the one named, and each round adds its rows to it.
        func storage(_ round: Int) -> StorageConfiguration {
            StorageConfiguration(queueURL: queueURL, databaseURL: databaseURL, dataDirectory: scratch + "/round-\(round)", environment: [:])
        }
        let stores = (databaseURL == nil ? "sqlite" : "mariadb") + (queueURL == nil ? "" : " + redis queues") + " (scratch)"
        if databaseURL != nil { try SchemaMigrator.migrate(try Storage.openDatabase(storage(0))) }
        let sandbox = Sandbox()
        try sandbox.start()
        defer { sandbox.stop() }
        var environment = ProcessInfo.processInfo.environment.merging(sandbox.environment) { $1 }
        for type in Processors.all {
            environment["FUNDQ_" + type.name.uppercased().replacingOccurrences(of: "-", with: "_") + "_RATE_LIMIT_PER_SECOND"] = "10000"
        }
        let names = Processors.all.map { $0.name }
        let configurations = try names.map {
            try ProcessorConfiguration.load(name: $0, directory: processors.directory, environment: environment)
        }
        let concurrency = configurations.map(\.concurrency).reduce(0, +)
        let tag = "bench\(ProcessInfo.processInfo.processIdentifier)"
        let directory = processors.directory
        let adapterEnvironment = environment
        func measure(_ label: String, workers: Int?, count: Int, round: Int) throws -> RectifyRun {
            try seed(count, prefix: "\(tag)-\(workers ?? 0)-\(round)", storage: storage(round), sandbox: sandbox)
            let pool = try RectifierPool(storage: storage(round), processors: configurations, workers: workers,
                                         makeProcessor: { try Processors.make($0, directory: directory, environment: adapterEnvironment) })
            let start = ContinuousClock.now
            let report = try pool.run(RectifierOptions(), logLevel: .error)
            let elapsed = ContinuousClock.now - start
            let done = report.counts.values.reduce(0) { $0 + $1.examined }
            guard done == count else { throw ConfigurationError("the rectifier examined \(done) of \(count) orphans") }
            return RectifyRun(label: label, orphans: count, seconds: elapsed.seconds, workers: report.workers)
        }

        let baseline = try measure("one at a time (1 rectifier)", workers: 1, count: baselineOrphans, round: 0)
        var measuredRounds: [RectifyRound] = []
        for round in 1...rounds {
            let concurrent = try measure("configured concurrency (elastic, up to \(concurrency) workers)", workers: nil, count: orphans,
                                         round: round)
            let reference = try StatusCallReference.measure(names: names, calls: statusCalls, threads: 16, sandbox: sandbox,
                                                            directory: directory, environment: environment, idPrefix: "REF\(round)")
            measuredRounds.append(RectifyRound(run: concurrent, reference: reference))
        }
        try report(baseline: baseline, rounds: measuredRounds, stores: stores, sandbox: sandbox)
    }

    /// Seeds `count` orphans (the processors and the scripted outcomes taking
    /// turns) into `storage`, a second apart and the newest over an hour old, as
    /// donations arrive (all in one second, every claim read its processor's
    /// rows from the first again: its sweep's cursor could not skip them).
    func seed(_ count: Int, prefix: String, storage configuration: StorageConfiguration, sandbox: Sandbox) throws {
        let outcomes: [SandboxOutcome] = [.pendingPoke, .complete, .abandoned, .failed]
        let storage = try Storage(configuration)
        let store = PendingStore(connection: storage.database)
        let date = Int(Date().timeIntervalSince1970) - 3600
        try storage.database.transaction {
            for i in 0..<count {
                let type = Processors.all[i % Processors.all.count]
                let id = "\(prefix)-\(i)"
                try sandbox.script(type.name, id: id, outcome: outcomes[(i / Processors.all.count) % outcomes.count])
                let named = type.paymentIdentity.jsonMembers(id)
                let text = #"{"gateway":"\#(type.gateway)","order_id":"\#(id)","date":\#(date - (count - i)),"#
                    + #""gross":"10.00","currency":"EUR""#
                try store.store(try PendingMessage(members: try JSONParser().parse(text + named + "}").objectValue!))
            }
        }
    }

    /// Prints the baseline and the median round (its concurrent run and its reference), then every round's ratio.
    func report(baseline: RectifyRun, rounds: [RectifyRound], stores: String, sandbox: Sandbox) throws {
        let medianRound = rounds.medianRound
        let reference = medianRound.reference
        let runs = [baseline, medianRound.run]
        if json {
            try Output.json(.object([
                "database": .string(stores),
                "status_calls_16_at_once": .object(["calls": Output.number(statusCalls), "seconds": Output.number(reference.seconds),
                                                    "calls_per_second": Output.number(reference.rate)]),
                "rounds": .array(rounds.map { r in
                    .object(["orphans_per_second": Output.number(r.run.rate), "status_calls_per_second": Output.number(r.reference.rate),
                             "ratio_to_status_calls": Output.number(r.ratio), "workers": Output.number(r.run.workers)])
                }),
                "runs": .array(runs.map { r in
                    .object(["name": .string(r.label), "orphans": Output.number(r.orphans), "seconds": Output.number(r.seconds),
                             "workers": Output.number(r.workers),
                             "orphans_per_second": Output.number(r.rate), "ratio_to_baseline": Output.number(r.rate / baseline.rate),
                             "ratio_to_status_calls": Output.number(r.rate / reference.rate)])
                }),
            ]))
            return
        }
        try Output.line("fundq bench rectify against the sandbox on \(sandbox.baseURL), \(stores)")
        let columns = ["RUN", "WORKERS", "ORPHANS", "SECONDS", "ORPHANS/S", "VS BASELINE", "VS STATUS CALLS"]
        try Output.line(Output.table(columns, runs.map { r in
            [r.label, String(r.workers), String(r.orphans), String(format: "%.2f", r.seconds), String(format: "%.0f", r.rate),
             String(format: "%.2f×", r.rate / baseline.rate), String(format: "%.2f×", r.rate / reference.rate)]
        }))
        try Output.line(String(format: "reference: %.0f status calls/s, 16 at once, every processor in turn, same sandbox", reference.rate))
        try Output.line("rounds (the concurrent run, then the reference), vs status calls: "
                        + rounds.map { String(format: "%.2f× (%d workers)", $0.ratio, $0.run.workers) }.joined(separator: ", ")
                        + "; the median round is above (the baseline was measured once, before the rounds)")
    }
}

/// One measured rectifier run.
struct RectifyRun {
    let label: String
    let orphans: Int
    let seconds: Double
    /// Workers the run started.
    let workers: Int
    var rate: Double { Double(orphans) / seconds }
}

/// One round: the rectifier with the configured concurrency, then the reference.
struct RectifyRound: BenchRound {
    let run: RectifyRun
    let reference: (seconds: Double, rate: Double)
    var ratio: Double { run.rate / reference.rate }
}

/// The reference the rectifier is measured against: status calls to the
/// sandbox, `threads` at once (one adapter per thread and processor), the
/// processors taking turns — `fundq bench processor`'s 16-at-once run.
enum StatusCallReference {
    static func measure(names: [String], calls: Int, threads: Int, sandbox: Sandbox, directory: String,
                        environment: [String: String], idPrefix: String = "REF") throws -> (seconds: Double, rate: Double) {
        for i in 0..<calls { try sandbox.script(names[i % names.count], id: "\(idPrefix)-\(i)", outcome: .complete) }
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for t in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let adapters = try names.map { try Processors.make($0, directory: directory, environment: environment) }
                    var i = t
                    while i < calls {
                        let adapter = adapters[i % names.count]
                        let kind = type(of: adapter)
                        _ = try adapter.status(of: kind.paymentIdentity.row(gateway: kind.gateway, id: "\(idPrefix)-\(i)"))
                        i += threads
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }.start()
        }
        group.wait()
        let seconds = (ContinuousClock.now - start).seconds
        if let first = failures.withLock({ $0.first }) { throw ConfigurationError("status call failed: \(first)") }
        return (seconds, Double(calls) / seconds)
    }
}
