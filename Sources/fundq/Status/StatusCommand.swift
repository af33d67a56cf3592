import ArgumentParser
import Core
import Foundation
import Operations

/// `fundq status [--watch S] [--json] [--check …]`: one screen of how fundq is doing.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Queues, pending rows, the rectifier, the running processes and the schema version on one screen.",
        discussion: """
            Queues: every queue with messages waiting, in flight or damaged. Pending: open rows per gateway, those due \
            now, those needing review, the oldest open. Rectifier: each processor's latest decision and its last hour's \
            decisions by action. Processes: every long-running fundq process's heartbeat (dead after 3 missed \
            intervals, pruned an hour later). --check exits 1 naming each threshold crossed (flags, or the status: \
            section of --config, default ./fundq.yaml when it exists; flags win).
            """)

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Redraw every this many seconds until SIGINT.", valueName: "seconds"))
    var watch: Double?

    @Flag(help: "Print the status as JSON.")
    var json = false

    @Flag(help: "Exit 1, naming each threshold crossed, when any is (for cron, Nagios-style checks and CI).")
    var check = false

    @Option(help: ArgumentHelp("Threshold: the oldest message in any queue (90s, 10m, 2h).", valueName: "duration"))
    var maxOldestAge: DurationArgument?

    @Option(help: "Threshold: damaged messages over every queue.")
    var maxDamaged: Int?

    @Option(help: "Threshold: pending rows needing review.")
    var maxNeedsReview: Int?

    @Option(help: ArgumentHelp("Threshold: the oldest open pending row (6h, 2d).", valueName: "duration"))
    var maxOldestOpen: DurationArgument?

    @Option(help: "Threshold: dead processes in the registry.")
    var maxDeadProcesses: Int?

    @Flag(help: "Threshold: a live rectifier heartbeat is required.")
    var requireRectifier = false

    @Option(help: ArgumentHelp("Configuration file with a status: section (default ./fundq.yaml when it exists).", valueName: "path"))
    var config: String?

    func validate() throws {
        if let watch, watch < 0.5 { throw ValidationError("--watch must be at least 0.5 seconds") }
        if watch != nil && check { throw ValidationError("--watch and --check do not go together") }
    }

    func thresholds() throws -> StatusThresholds {
        var fromFile = StatusThresholds()
        let path = config ?? "fundq.yaml"
        if config != nil || FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError("cannot read \(path)") }
            fromFile = try StatusThresholds.load(yaml: String(decoding: data, as: UTF8.self), source: path)
        }
        var flags = StatusThresholds()
        flags.maxOldestAge = maxOldestAge?.seconds
        flags.maxDamaged = maxDamaged
        flags.maxNeedsReview = maxNeedsReview
        flags.maxOldestOpen = maxOldestOpen?.seconds
        flags.maxDeadProcesses = maxDeadProcesses
        flags.requireRectifier = requireRectifier
        return fromFile.overridden(by: flags)
    }

    func run() throws {
        let limits = try thresholds()
        if check && limits.isEmpty { throw ValidationError("--check needs at least one threshold (flags or a status: section)") }
        let stores = try storage.open()
        guard let watch else {
            let report = try StatusReport.gather(stores)
            let crossed = limits.crossed(by: report)
            try show(report, crossed: check ? crossed : nil)
            if check && !crossed.isEmpty { throw ExitCode(1) }
            return
        }
        let stop = StopSignal()
        while !stop.isRaised {
            let report = try StatusReport.gather(stores)
            if !json { try Output.line("\u{1B}[H\u{1B}[2J" + Output.iso(report.time)) }
            try show(report, crossed: limits.isEmpty ? nil : limits.crossed(by: report))
            let until = Date().addingTimeInterval(watch)
            while Date() < until && !stop.isRaised { Thread.sleep(forTimeInterval: 0.05) }
        }
    }

    func show(_ report: StatusReport, crossed: [String]?) throws {
        if json {
            var object = StatusView.json(report)
            object["crossed"] = crossed.map { .array($0.map(JSONValue.string)) } ?? .null
            try Output.json(.object(object))
            return
        }
        try Output.line(StatusView.text(report))
        guard let crossed else { return }
        try Output.line(crossed.isEmpty ? "\ncheck: every threshold held" : "\ncheck: \(crossed.count) crossed\n"
                        + crossed.map { "  CROSSED \($0)" }.joined(separator: "\n"))
    }
}
