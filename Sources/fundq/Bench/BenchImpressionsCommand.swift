import ArgumentParser
import Core
import Foundation
import Impressions

/// `fundq bench impressions`: events per second parsed and aggregated from a
/// file (beside Foundation's JSONDecoder on the same events), and from Kafka
/// beside a consume-only librdkafka loop on the same topic.
struct BenchImpressionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impressions",
        abstract: "Measure the impressions loader: from a file (vs JSONDecoder) and from Kafka (vs a consume-only loop).")

    @Option(help: "Events in the file run.")
    var events = 1_000_000

    @Option(help: "Events decoded by the JSONDecoder baseline (it is slow).")
    var baselineEvents = 100_000

    @Option(help: ArgumentHelp("Measure this JSON-lines file instead of generated events.", valueName: "path"))
    var file: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fundq-bench-impressions-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = self.file ?? (dir as NSString).appendingPathComponent("events.jsonl")
        if self.file == nil { try ImpressionsBench.writeEvents(count: events, to: file) }
        let scan = try ImpressionsBench.scanFile(file)
        let decoder = try ImpressionsBench.decodeWithJSONDecoder(file, limit: baselineEvents)
        try Output.line(String(format: "scan+aggregate: %.0f events/s (%d events, %.3f s, %d keys); JSONDecoder: %.0f events/s",
                               scan.perSecond, scan.events, scan.seconds, scan.keys, decoder.perSecond))
    }
}
