import ArgumentParser
import Core

/// `fundq queue peek QUEUE`.
struct QueuePeekCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peek",
        abstract: "Print the message the next pop would receive, without consuming it (donor data masked).")

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The queue to look at.")
    var queue: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Show the donor's personal data instead of masking it (never a CVV or a whole card number).")
    var showPersonalData = false

    func validate() throws {
        do { try QueueName.validate(queue) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let stores = try storage.openReadOnly()
        let body = try stores.queue.peek(queue)
        if json {
            let message = body.map { PersonalData.maskedBody($0, showPersonalData: showPersonalData) } ?? .null
            try Output.json(.object(["queue": .string(queue), "message": message]))
        } else if let body {
            try Output.line(Output.maskedBodyText(body, showPersonalData: showPersonalData))
        } else {
            Output.note("queue \(queue) is empty")
        }
    }
}
