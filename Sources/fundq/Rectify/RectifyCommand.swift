import ArgumentParser
import Backends
import Core
import Foundation
import Logging
import Processors
import Rectifier

/// `fundq rectify …`: the orphan rectifier.
struct RectifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rectify",
        abstract: "Find stale pending donations, ask each processor what became of them, and finish, resolve or leave each one.",
        subcommands: [RectifyRunCommand.self, RectifyLogCommand.self],
        defaultSubcommand: RectifyRunCommand.self
    )
}

struct RectifyRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "One rectifier run (the default), a dry run, or the daemon.",
        discussion: """
            --dry-run calls only read-only status APIs and changes nothing anywhere (no queue push, no pending row or \
            decision log write, no capture; its status calls take their slots in the processors' shared rate schedule); \
            it prints what it would do. Without --processor, every registered processor takes part. \
            --daemon runs a pass every --interval seconds until SIGTERM/SIGINT, finishing the rows in hand; \
            claims of a killed rectifier expire after --lease seconds.
            """)

    @OptionGroup var storage: StorageOptions
    @OptionGroup var processorOptions: ProcessorOptions

    @Option(help: "Only this processor.", completion: .list(Processors.all.map { $0.name }))
    var processor: String?

    @Flag(help: "Ask only; change nothing anywhere; print what would be done.")
    var dryRun = false

    @Option(help: "Stop after examining this many rows (over every worker; per pass with --daemon).")
    var limit: Int?

    @Option(help: ArgumentHelp("Stop after this long (90s, 10m).", valueName: "duration"))
    var timeLimit: DurationArgument?

    @Flag(help: "Run until SIGTERM or SIGINT, a pass every --interval seconds.")
    var daemon = false

    @Option(help: "Seconds between passes with --daemon (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var interval: Double = 60

    @Option(help: """
        Rectifiers working at once (default: elastic, one per processor and more while this process leaves the CPU \
        unused, up to the sum of the processors' concurrency; a processor is asked by at most its concurrency).
        """)
    var workers: Int?

    @Option(help: "Seconds a claimed row stays this rectifier's (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var lease: Double = 300

    @Flag(help: "Print decisions and the summary as JSON.")
    var json = false

    @OptionGroup var process: ProcessOptions

    @Flag(help: "Stream JSON lines: one per decision as it is taken (stored), then one summary per pass.")
    var jsonLines = false

    func validate() throws {
        if let processor, Processors.named(processor) == nil {
            throw ValidationError("no processor called '\(processor)'; "
                + "registered: \(Processors.all.map { $0.name }.joined(separator: ", "))")
        }
        if dryRun && daemon { throw ValidationError("--dry-run and --daemon do not go together") }
        if json && jsonLines { throw ValidationError("--json prints one document at the end, --json-lines streams: choose one") }
        if let workers, !(1...64).contains(workers) { throw ValidationError("--workers must be between 1 and 64") }
        guard lease >= 10 else { throw ValidationError("--lease must be at least 10 seconds") }
    }

    func run() throws {
        let stop = StopSignal(finishing: "the rows in hand")
        let stopped = stop.check
        let names = processor.map { [$0] } ?? Processors.all.map { $0.name }
        // Fail fast on configuration: every processor's file and credentials, and the database's schema.
        let adapters = try names.map { try processorOptions.make($0) }
        _ = try Storage(storage.configuration)
        let worst = adapters.map { $0.configuration.longestRow.seconds }.max() ?? 0
        guard lease >= worst + 5 else {
            throw ValidationError("--lease \(Int(lease)) s is shorter than one row can take with these processors' timeouts and retries "
                + "(\(Int(worst)) s, plus 5 s): another rectifier could take a row mid-capture")
        }
        let directory = processorOptions.directory
        let pool = try RectifierPool(storage: storage.configuration, processors: adapters.map(\.configuration), workers: workers,
                                     makeProcessor: { try Processors.make($0, directory: directory) })
        var options = RectifierOptions(dryRun: dryRun, limit: limit, timeLimit: timeLimit?.duration,
                                       lease: .milliseconds(Int64(lease * 1000)))
        let presence = try process.start(role: "rectify", storage: storage.configuration, registered: daemon)
        defer { presence.stop() }
        let heartbeat = presence.heartbeat
        let progress = ProgressReporter("rectify", total: daemon ? nil : limit)
        let writer = jsonLines ? LineWriter() : nil
        options.onDecision = { decision in
            progress.step()
            guard let writer else { return }
            var line = RectifyLogCommand.json(decision).objectValue ?? [:]
            line["type"] = .string("decision")
            writer.write(JSONValue.object(line).serialized())
        }
        let level: Logger.Level = LogSettings.ofThisProcess?.level ?? (dryRun ? .warning : .info)
        repeat {
            heartbeat?.doing("rectify pass")
            do {
                let report = try pool.run(options, logLevel: level, shouldStop: stopped)
                progress.finish()
                heartbeat?.count("passes")
                heartbeat?.set("last_pass_end", to: Int(Date().timeIntervalSince1970))
                for c in report.counts.values {
                    heartbeat?.count("examined", by: c.examined)
                    heartbeat?.count("completed", by: c.completed)
                    heartbeat?.count("needs_review", by: c.needsReview)
                    heartbeat?.count("errors", by: c.errors)
                }
                // What `fundq status` shows as each processor's circuit (1: open at the end of the pass).
                for name in Set(report.counts.keys).union(report.openCircuits) {
                    heartbeat?.set("circuit_open.\(name)", to: report.openCircuits.contains(name) ? 1 : 0)
                }
                try print(report, runID: pool.runID)
            } catch where daemon {
                // The daemon outlives outages: claims of the rows in hand expire, the next pass retries.
                heartbeat?.count("failed_passes")
                Output.note("fundq: rectify pass failed, retrying in \(Int(interval)) s: \(error)")
            }
            guard daemon else { break }
            heartbeat?.doing("waiting for the next pass")
            let until = Date().addingTimeInterval(interval)
            while Date() < until && !stopped() { Thread.sleep(forTimeInterval: 0.05) }
        } while !stopped()
        withExtendedLifetime(stop) {}
    }

    func print(_ report: RectifierReport, runID: String) throws {
        let summary: JSONValue = .object(report.counts.mapValues { c in
            .object(["examined": Output.number(c.examined), "completed": Output.number(c.completed), "captured": Output.number(c.captured),
                     "failed": Output.number(c.failed), "duplicates": Output.number(c.duplicates), "left": Output.number(c.left),
                     "needs_review": Output.number(c.needsReview), "errors": Output.number(c.errors), "skipped": Output.number(c.skipped)])
        })
        if jsonLines {
            try Output.json(.object(["type": .string("summary"), "dry_run": .bool(dryRun), "run_id": .string(runID), "summary": summary]))
            return
        }
        if json {
            try Output.json(.object([
                "dry_run": .bool(dryRun), "run_id": .string(runID), "summary": summary,
                "decisions": .array(report.decisions.map(RectifyLogCommand.json)),
            ]))
            return
        }
        if dryRun {
            let now = Date()
            let rows = report.decisions.map { d in
                [d.processor, d.orderID ?? "-", Output.age(d.startedAt.map { now.timeIntervalSince($0) }), d.status,
                 String(d.evidence.prefix(70)), d.action.rawValue, String(d.result.prefix(90))]
            }
            try Output.line(Output.table(["PROCESSOR", "ORDER", "AGE", "STATUS", "EVIDENCE", "ACTION", "WOULD"], rows))
        }
        for (name, c) in report.counts.sorted(by: { $0.key < $1.key }) {
            Output.note("rectify \(name)\(dryRun ? " (dry run)" : ""): \(c.examined) examined, "
                + "\(c.completed) completed (\(c.captured) captured), \(c.failed) failed/cancelled/timeout, "
                + "\(c.duplicates) duplicate, \(c.left) left, \(c.needsReview) needs review, \(c.errors) errors")
        }
        if report.counts.isEmpty { Output.note("rectify: nothing due") }
        Output.note("rectify: run \(runID)\(dryRun ? " (dry run, nothing logged)" : "; `fundq rectify log` shows its decisions")")
    }
}

struct RectifyLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log",
                                                    abstract: "The rectifier's decisions, newest first, with their evidence.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Only this order id.")
    var order: String?

    @Option(help: ArgumentHelp("Only decisions this recent (30m, 6h, 2d).", valueName: "duration"))
    var since: DurationArgument?

    @Option(help: "At most this many decisions (a note on stderr says when there are more).")
    var limit = 100

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    static func json(_ d: RectifierDecision) -> JSONValue {
        .object([
            "id": d.id.map { .number(String($0)) } ?? .null, "time": Output.date(d.time), "run_id": .string(d.runID),
            "processor": .string(d.processor),
            "gateway": .string(d.gateway), "order_id": d.orderID.map(JSONValue.string) ?? .null, "pending_id": .number(String(d.pendingID)),
            "status": .string(d.status), "evidence": .string(d.evidence), "raw": d.raw.map(JSONValue.string) ?? .null,
            "action": .string(d.action.rawValue), "result": .string(d.result),
            // The payment's age when the decision was taken.
            "age_seconds": Output.number(d.startedAt.map { d.time.timeIntervalSince($0) }),
        ])
    }

    func run() throws {
        let stores = try storage.openReadOnly()
        let decisions = Output.cut(try DecisionLog(connection: stores.database).list(
            orderID: order, since: since.map { Date().addingTimeInterval(-$0.seconds) }, limit: limit + 1), limit: limit, what: "decisions")
        if json {
            try Output.json(.array(decisions.map(Self.json)))
            return
        }
        try Output.line(Output.table(["TIME", "RUN", "PROCESSOR", "ORDER", "STATUS", "ACTION", "EVIDENCE", "RESULT"], decisions.map { d in
            [Output.iso(d.time), d.runID, d.processor, d.orderID ?? "-", d.status, d.action.rawValue,
             String(d.evidence.prefix(60)), String(d.result.prefix(60))]
        }))
    }
}
