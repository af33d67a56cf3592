import ArgumentParser
import Core
import Foundation
import Impressions
import SQLiteDriver

/// `fundq bench impressions`: events per second parsed and aggregated from a
/// file (beside Foundation's JSONDecoder on the same events), and from Kafka
/// beside a consume-only librdkafka loop on the same topic in the same run:
/// rounds of the two one after the other, the round with the median ratio
/// reported (the broker shares this machine's cores, and one round's ratio
/// moves with whatever else runs).
struct BenchImpressionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impressions",
        abstract: "Measure the impressions loader: from a file (vs JSONDecoder) and from Kafka (vs a consume-only loop).",
        discussion: """
            The file runs use generated events (10% invalid or skipped) in a temporary folder: scan+aggregate in \
            memory, and the whole file load into a scratch SQLite file. With --brokers and --topic (an existing, \
            empty topic) it also produces --kafka-events events, then, --kafka-rounds times, reads them with a \
            consume-only librdkafka loop in its own group (the broker's ceiling) and with the loader into a new \
            scratch SQLite file; the round with the median ratio is shown, every round's ratio beside it.
            """)

    @Option(help: "Events in the file runs.")
    var events = 1_000_000

    @Option(help: "Events decoded by the JSONDecoder baseline (it is slow).")
    var baselineEvents = 100_000

    @Option(help: ArgumentHelp("Measure this JSON-lines file instead of generated events.", valueName: "path"))
    var file: String?

    @Option(help: ArgumentHelp("Kafka brokers for the Kafka runs (omit to skip them).", valueName: "host:port"))
    var brokers: String?

    @Option(help: "An existing, empty topic for the Kafka runs.")
    var topic: String?

    @Option(help: "Events in the Kafka runs.")
    var kafkaEvents = 300_000

    @Option(help: "Rounds of the Kafka pair (consume-only loop, then the loader); the median round is reported.")
    var kafkaRounds = 3

    @Option(help: "The loader's events per batch in the Kafka run.")
    var batch = 200_000

    @Option(help: "The loader's seconds before a partial batch is written, in the Kafka run.")
    var flushInterval = 1.0

    @Option(name: .customShort("X"), help: ArgumentHelp("A librdkafka property for both consumers (repeatable).", valueName: "key=value"))
    var kafkaSettings: [String] = []

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard events >= 1, baselineEvents >= 1, kafkaEvents >= 1, kafkaRounds >= 1 else {
            throw ValidationError("event counts and --kafka-rounds must be positive")
        }
        guard (brokers == nil) == (topic == nil) else { throw ValidationError("give both --brokers and --topic, or neither") }
    }

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fundq-bench-impressions-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = self.file ?? (dir as NSString).appendingPathComponent("events.jsonl")
        if self.file == nil { try ImpressionsBench.writeEvents(count: events, to: path) }
        var runs: [(String, ImpressionsBench.Run)] = []
        runs.append(("JSONDecoder (baseline)", try ImpressionsBench.decodeWithJSONDecoder(path, limit: baselineEvents)))
        runs.append(("file: scan + aggregate", try ImpressionsBench.scanFile(path)))
        let sqlitePath = (dir as NSString).appendingPathComponent("bench.sqlite")
        let sqlite = try SQLiteDatabase(path: sqlitePath)
        try SchemaMigrator.migrate(sqlite)
        let store = ImpressionStore(connection: sqlite)
        runs.append(("file: load into SQLite", try ImpressionsBench.loadFile(path, store: store)))
        var rounds: [KafkaRound] = []
        if let brokers, let topic {
            var settings: [String: String] = [:]
            for s in kafkaSettings {
                let parts = s.split(separator: "=", maxSplits: 1)
                settings[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            runs.append(("kafka: produce", try ImpressionsBench.produce(count: kafkaEvents, brokers: brokers, topic: topic)))
            for round in 1...kafkaRounds {
                rounds.append(try kafkaRound(round, brokers: brokers, topic: topic, settings: settings, directory: dir))
            }
            let medianRound = rounds.medianRound
            runs.append(("kafka: consume-only librdkafka loop (ceiling)", medianRound.ceiling))
            runs.append(("kafka: loader into SQLite", medianRound.load))
        }
        try report(runs, rounds: rounds)
    }

    /// One consume-only loop and one loader over the whole topic: the loader
    /// in a group and a scratch SQLite file of its own (it starts from the
    /// offsets stored there).
    struct KafkaRound: BenchRound {
        let ceiling: ImpressionsBench.Run
        let load: ImpressionsBench.Run
        var ratio: Double { ceiling.perSecond > 0 ? load.perSecond / ceiling.perSecond : 0 }
    }

    func kafkaRound(_ round: Int, brokers: String, topic: String, settings: [String: String], directory: String) throws -> KafkaRound {
        let ceiling = try ImpressionsBench.consumeOnly(count: kafkaEvents, brokers: brokers, topic: topic, settings: settings, round: round)
        let path = (directory as NSString).appendingPathComponent("kafka-\(round).sqlite")
        try SchemaMigrator.migrate(try SQLiteDatabase(path: path))
        let options = KafkaLoaderOptions(brokers: brokers, topic: topic, group: "fundq-bench-load-\(getpid())-\(round)",
                                         settings: settings, batchEvents: batch, flushInterval: flushInterval)
        let load = try ImpressionsBench.loadFromKafka(count: kafkaEvents, options: options) {
            ImpressionStore(connection: try SQLiteDatabase(path: path))
        }
        return KafkaRound(ceiling: ceiling, load: load)
    }

    func report(_ runs: [(String, ImpressionsBench.Run)], rounds: [KafkaRound]) throws {
        let decoder = runs[0].1.perSecond
        let ceiling = runs.first { $0.0.contains("ceiling") }?.1.perSecond
        func ratio(_ name: String, _ run: ImpressionsBench.Run) -> Double? {
            if name.hasPrefix("file") || name.hasPrefix("JSON") { return run.perSecond / decoder }
            if name.contains("loader"), let ceiling { return run.perSecond / ceiling }
            return nil
        }
        if json {
            try Output.json(.object([
                "runs": .array(runs.map { name, run in
                    .object(["name": .string(name), "events": Output.number(run.events), "seconds": Output.number(run.seconds),
                             "events_per_second": Output.number(run.perSecond), "events_per_cpu_second": Output.number(run.perCPUSecond),
                             "write_seconds": Output.number(run.writeSeconds), "ratio": Output.number(ratio(name, run))])
                }),
                "kafka_rounds": .array(rounds.map { round in
                    .object(["ceiling_events_per_second": Output.number(round.ceiling.perSecond),
                             "loader_events_per_second": Output.number(round.load.perSecond), "ratio": Output.number(round.ratio)])
                }),
            ]))
            return
        }
        try Output.line(Output.table(
            ["RUN", "EVENTS", "SECONDS", "WRITE S", "EVENTS/S", "EVENTS/CPU-S", "RATIO"],
            runs.map { name, run in
                [name, String(run.events), String(format: "%.3f", run.seconds), String(format: "%.3f", run.writeSeconds),
                 String(format: "%.0f", run.perSecond),
                 String(format: "%.0f", run.perCPUSecond),
                 ratio(name, run).map { String(format: "%.2f× %@", $0, name.hasPrefix("kafka") ? "ceiling" : "JSONDecoder") } ?? "-"]
            }))
        if !rounds.isEmpty {
            try Output.line("kafka rounds (consume-only loop, then the loader), loader vs ceiling: "
                            + rounds.map { String(format: "%.2f×", $0.ratio) }.joined(separator: ", ") + "; the median round is above")
        }
    }
}
