import ArgumentParser
import Backends
import Core
import Foundation
import Impressions
import Logging

/// `fundq impressions …`: the banner impressions loader and its reports.
struct ImpressionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impressions",
        abstract: "Load banner impressions (from Kafka or old JSON-lines files) into per-minute counts; report them.",
        subcommands: [ImpressionsConsumeCommand.self, ImpressionsLoadCommand.self, ImpressionsReportCommand.self,
                      ImpressionsRejectsCommand.self]
    )
}

/// `fundq impressions consume --brokers … --topic … --group …`.
struct ImpressionsConsumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Consume the impression topic in a consumer group, exactly once (offsets stored with the counts).",
        discussion: """
            Each batch and the offsets it reached are written in one transaction; on every partition assignment \
            the consumer starts from the stored offsets (Kafka's committed offsets are informational). Without \
            --daemon it stops once the topic has been quiet for --idle-timeout seconds. SIGTERM or SIGINT: \
            the batch in hand is finished and committed, then the consumer leaves the group.
            """)

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Kafka brokers.", valueName: "host:port[,host:port]"))
    var brokers: String

    @Option(help: "The impressions topic.")
    var topic: String

    @Option(help: "The consumer group (share it between loader processes).")
    var group: String

    @Flag(help: "Run until SIGTERM or SIGINT.")
    var daemon = false

    @Option(help: "Without --daemon: stop after this many seconds without a message (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var idleTimeout: Double = 5

    @Option(help: "Most events per batch (one transaction; a batch goes as soon as the writer is free, or every --flush-interval).")
    var batch = 200_000

    @Option(help: "Seconds before a partial batch is queued even while the writer is busy (90s, 5m; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var flushInterval: Double = 1

    @Option(name: .customShort("X"), help: ArgumentHelp("A librdkafka property, e.g. -X session.timeout.ms=6000 (repeatable).",
                                                        valueName: "key=value"))
    var kafkaSettings: [String] = []

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard batch >= 1, flushInterval > 0, idleTimeout > 0 else {
            throw ValidationError("--batch, --flush-interval and --idle-timeout must be positive")
        }
        for s in kafkaSettings where !s.contains("=") { throw ValidationError("-X \(s): expected key=value") }
    }

    func run() throws {
        let stop = StopSignal(finishing: "the batches in hand")
        let stores = try storage.open()
        var settings: [String: String] = [:]
        for s in kafkaSettings {
            let parts = s.split(separator: "=", maxSplits: 1)
            settings[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let options = KafkaLoaderOptions(brokers: brokers, topic: topic, group: group, settings: settings, batchEvents: batch,
                                         flushInterval: flushInterval, idleExit: daemon ? nil : idleTimeout)
        let configuration = storage.configuration
        let loader = ImpressionKafkaLoader(store: ImpressionStore(connection: stores.database), options: options,
                                           logger: Logger(label: "fundq.impressions")) {
            ImpressionStore(connection: try Storage.openDatabase(configuration))
        }
        let presence = try process.start(role: "impressions-consume", storage: configuration)
        defer { presence.stop() }
        presence.heartbeat?.doing("consuming \(topic) in group \(group)")
        let summary = try loader.run(shouldStop: { stop.isRaised })
        Output.note("impressions consume: \(summary.events) events read, \(summary.committedEvents) committed in \(summary.batches) "
                    + "batches, \(summary.conflicts) dropped on offset conflicts, \(String(format: "%.1f", summary.seconds)) s")
        if json {
            try Output.json(.object([
                "events": Output.number(summary.events), "committed_events": Output.number(summary.committedEvents),
                "batches": Output.number(summary.batches), "conflicts": Output.number(summary.conflicts),
                "seconds": Output.number(summary.seconds),
            ]))
        }
    }
}

/// `fundq impressions load --file PATH…`.
struct ImpressionsLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load JSON-lines files (plain or gzip) from the old pipeline, each exactly once.",
        discussion: """
            A file is known by its size and CRC-32: one loaded before is skipped; one left half-loaded by a loader \
            that died is rolled back and loaded again. Progress (bytes read of each file, rate, ETA) goes to stderr: \
            one line rewritten on a terminal, a plain line every 10 s elsewhere.
            """)

    @OptionGroup var storage: StorageOptions

    @Option(name: .customLong("file"), help: ArgumentHelp("A file to load (repeatable).", valueName: "path"))
    var files: [String]

    @Option(help: "Events aggregated in memory before they are staged.")
    var flushEvents = 2_000_000

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one --file") }
        guard flushEvents >= 1 else { throw ValidationError("--flush-events must be positive") }
    }

    func run() throws {
        let stores = try storage.open()
        let loader = ImpressionFileLoader(store: ImpressionStore(connection: stores.database), flushEvents: flushEvents)
        for file in files {
            let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int
            let progress = ProgressReporter("impressions load \(file)", total: size, unit: "bytes")
            let result = try loader.load(path: file) { done, _, _ in progress.update(Int(done)) }
            progress.finish()
            switch result {
            case .loaded(let events, let restarted):
                let note = restarted ? " (a half-loaded earlier attempt was rolled back first)" : ""
                try Output.line("\(file): loaded \(events) events\(note)")
            case .alreadyLoaded(let events):
                try Output.line("\(file): already loaded (\(events) events), skipped")
            }
        }
    }
}
