import ArgumentParser

/// `fundq bench …`: throughput and latency of each capability.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput and latency, beside a baseline measured in the same run.",
        subcommands: [BenchQueueCommand.self, BenchConsumeCommand.self, BenchProcessorCommand.self, BenchRectifyCommand.self,
                      BenchImpressionsCommand.self, BenchTrackingCommand.self, BenchReclaimCommand.self]
    )
}
