import ArgumentParser
import Core
import Foundation

/// `fundq queue stats [QUEUE]`.
struct QueueStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count waiting, in-flight and damaged messages, and the age of the oldest.")

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The queue; all queues when omitted.")
    var queue: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if let queue {
            do { try QueueName.validate(queue) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        let stores = try storage.openReadOnly()
        // A queue whose every message is damaged has nothing waiting, but is shown all the same.
        let names = try queue.map { [$0] } ?? Set(stores.queue.queueNames() + stores.damaged.queueNames()).sorted()
        let now = Date()
        var rows: [(QueueStats, Int)] = []
        for name in names {
            rows.append((try stores.queue.stats(name), try stores.damaged.count(queue: name)))
        }
        if json {
            try Output.json(.array(rows.map { stats, damaged in
                .object([
                    "queue": .string(stats.queue), "waiting": Output.number(stats.waiting),
                    "in_flight": Output.number(stats.inFlight), "damaged": Output.number(damaged),
                    "oldest_age_seconds": Output.number(stats.oldestAge(at: now)),
                ])
            }))
            return
        }
        try Output.line(Output.table(
            ["QUEUE", "WAITING", "IN-FLIGHT", "OLDEST", "DAMAGED"],
            rows.map { stats, damaged in
                [stats.queue, String(stats.waiting), String(stats.inFlight), Output.age(stats.oldestAge(at: now)), String(damaged)]
            }))
    }
}
