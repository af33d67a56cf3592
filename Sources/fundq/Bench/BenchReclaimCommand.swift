import ArgumentParser
import Backends
import Core
import Foundation
import SQLiteDriver

/// `fundq bench reclaim`: push latency on the embedded file while a drained
/// queue's space is given back, beside the push latency with no reclaim
/// running (the baseline, measured in the same run).
struct BenchReclaimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reclaim",
        abstract: "Measure the worst push latency on the embedded file during a reclaim of free pages, beside none running.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Messages (about 600 bytes) pushed and drained before each reclaim.")
    var messages = 20_000

    @Option(help: "Milliseconds between the starts of two pushes (a steady producer; 0: back to back).")
    var pushIntervalMs = 5.0

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard messages >= 1 else { throw ValidationError("--messages must be at least 1") }
        guard pushIntervalMs >= 0, pushIntervalMs.isFinite else { throw ValidationError("--push-interval-ms must be 0 or more") }
    }

    func run() throws {
        _ = try Storage.openEmbedded(storage.configuration)  // creates the folder and the file
        let bench = SpaceReclaimBench(path: storage.configuration.sqlitePath, messages: messages,
                                      body: BenchQueueCommand.sampleMessage(0), pushInterval: pushIntervalMs / 1000)
        let phases = try bench.run()
        let baseline = phases.first?.pushes
        func ratio(_ value: Double, _ base: Double?) -> Double? { base.flatMap { $0 > 0 ? value / $0 : nil } }
        if json {
            try Output.json(.object([
                "file": .string(bench.path), "messages": Output.number(messages), "push_interval_ms": Output.number(pushIntervalMs),
                "phases": .array(phases.map { p in
                    let s = p.pushes
                    return .object([
                        "name": .string(p.name), "pushes": Output.number(s.seconds.count),
                        "p50_ms": Output.number(s.percentile(50) * 1000), "p99_ms": Output.number(s.percentile(99) * 1000),
                        "max_ms": Output.number(s.percentile(100) * 1000),
                        "p99_ratio_to_baseline": Output.number(ratio(s.percentile(99), baseline?.percentile(99))),
                        "max_ratio_to_baseline": Output.number(ratio(s.percentile(100), baseline?.percentile(100))),
                        "pages_reclaimed": Output.number(p.pagesReclaimed), "reclaim_seconds": Output.number(p.reclaimSeconds),
                    ])
                }),
            ]))
            return
        }
        try Output.line("fundq bench reclaim on \(bench.path): \(messages) messages pushed and drained before each reclaim, "
                        + "a push every \(pushIntervalMs) ms")
        try Output.line(Output.table(
            ["PHASE", "PUSHES", "P50 MS", "P99 MS", "MAX MS", "P99 VS BASELINE", "PAGES", "RECLAIM S"],
            phases.map { p in
                let s = p.pushes
                return [p.name, String(s.seconds.count), String(format: "%.3f", s.percentile(50) * 1000),
                        String(format: "%.3f", s.percentile(99) * 1000), String(format: "%.3f", s.percentile(100) * 1000),
                        ratio(s.percentile(99), baseline?.percentile(99)).map { String(format: "%.2f×", $0) } ?? "-",
                        String(p.pagesReclaimed), String(format: "%.3f", p.reclaimSeconds)]
            }))
    }
}
