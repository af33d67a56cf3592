import ArgumentParser

/// `fundq queue …`: push, pop, peek and inspect queues.
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Push to, pop from and inspect queues.",
        subcommands: [QueuePushCommand.self, QueuePopCommand.self, QueuePeekCommand.self, QueueStatsCommand.self]
    )
}
