import ArgumentParser
import Core

/// `fundq queue peek QUEUE`.
struct QueuePeekCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peek",
        abstract: "Print the message the next pop would receive, without consuming it.")

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The queue to look at.")
    var queue: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        do { try QueueName.validate(queue) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let stores = try storage.open()
        let body = try stores.queue.peek(queue)
        if json {
            try Output.json(.object(["queue": .string(queue), "message": body.map(Output.messageValue) ?? .null]))
        } else if let body {
            try Output.line(String(decoding: body, as: UTF8.self))
        } else {
            Output.note("queue \(queue) is empty")
        }
    }
}
