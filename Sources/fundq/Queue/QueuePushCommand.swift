import ArgumentParser
import Core
import Foundation

/// `fundq queue push QUEUE [FILE|-] [--lines]`.
struct QueuePushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push one JSON object (or JSON lines with --lines) to a queue.",
        discussion: """
            Every message is validated (a JSON object of at most --max-bytes bytes) before anything \
            is pushed; with --lines, one bad line refuses the whole input, naming the line. \
            The push is atomic: all messages are stored, or none.
            """
    )

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The queue to push to.")
    var queue: String

    @Argument(help: "File to read, or - for standard input.")
    var file: String = "-"

    @Flag(help: "The input holds one JSON object per line.")
    var lines = false

    @Option(help: "Largest accepted message, in bytes.")
    var maxBytes = 1 << 20

    @Option(help: "source_name stamped on the messages.")
    var sourceName = "fundq"

    @Option(help: "source_type stamped on the messages.")
    var sourceType = "cli"

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        do { try QueueName.validate(queue) } catch { throw ValidationError(error.description) }
        guard maxBytes > 0 else { throw ValidationError("--max-bytes must be positive") }
    }

    func readInput() throws -> [UInt8] {
        do {
            if file == "-" {
                return Array(FileHandle.standardInput.readDataToEndOfFile())
            }
            return Array(try Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw ConfigurationError("cannot read \(file): \(error.localizedDescription)")
        }
    }

    func run() throws {
        let input = try readInput()
        let source = file == "-" ? "standard input" : file
        var bodies: [[UInt8]] = []
        var locations: [String] = []
        if lines {
            var lineNumber = 0
            for line in input.split(separator: 0x0a, omittingEmptySubsequences: false) {
                lineNumber += 1
                var bytes = Array(line)
                if bytes.last == 0x0d { bytes.removeLast() }
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                bodies.append(bytes)
                locations.append("line \(lineNumber) of \(source)")
            }
        } else {
            bodies = [input]
            locations = [source]
        }
        guard !bodies.isEmpty else { throw ConfigurationError("\(source) holds no message") }

        let stores = try storage.open()
        var producer = QueueProducer(queue: stores.queue, envelope: MessageEnvelope(sourceName: sourceName, sourceType: sourceType),
                                     validator: MessageValidator(maximumBytes: maxBytes))
        producer.validator.maximumBytes = maxBytes
        // Validate everything first so that one bad line pushes nothing.
        var prepared: [[UInt8]] = []
        prepared.reserveCapacity(bodies.count)
        let now = Date()
        let progress = ProgressReporter("queue push \(queue), checking", total: bodies.count)
        for (body, location) in zip(bodies, locations) {
            do {
                prepared.append(try producer.prepare(body, now: now))
            } catch {
                progress.finish()
                throw error.at(location)
            }
            progress.update(prepared.count)
        }
        progress.finish()
        try stores.queue.append(prepared, to: queue)
        if json {
            try Output.json(.object(["queue": .string(queue), "pushed": Output.number(prepared.count)]))
        } else {
            Output.note("pushed \(prepared.count) message\(prepared.count == 1 ? "" : "s") to \(queue)")
        }
    }
}
