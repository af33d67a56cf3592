import ArgumentParser
import Core
import Foundation
import Logging

/// `fundq queue pop QUEUE [--exec CMD] [--limit N] [--wait]`.
struct QueuePopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pop",
        abstract: "Consume messages: print them, or pipe each to a command.",
        discussion: """
            A message leaves the queue only once it has been handled: printed to standard output, \
            or piped to --exec's standard input with the command exiting 0. When the command exits \
            75 (EX_TEMPFAIL) the message goes to the damaged store with a retry date (--retry-after); \
            any other failure damages it with the command's standard error as the reason. \
            If fundq dies mid-message, the message is handed out again when its lease (--lease) expires. \
            SIGTERM or SIGINT: the message in hand is finished, then fundq exits 0.
            """
    )

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The queue to consume.")
    var queue: String

    @Option(help: "Shell command that handles each message on its standard input.")
    var exec: String?

    @Option(help: "Stop after this many messages.")
    var limit: Int?

    @Flag(help: "Wait for messages instead of stopping when the queue is empty.")
    var wait = false

    @Option(help: "With --wait: stop after this many seconds without a message (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var idleTimeout: Double?

    @Option(help: "Claim up to this many messages per round trip.")
    var batch = 1

    @Option(help: "Seconds a claimed message stays invisible to other consumers (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var lease: Double = 60

    @Option(help: "Deliveries without acknowledgement after which a message is damaged.")
    var maxDeliveries = 5

    @Option(help: "Time before a message whose command exited 75, was killed or timed out is requeued (90s, 5m; bare: seconds).",
            transform: DurationArgument.seconds)
    var retryAfter: Double = 300

    @Option(help: "Seconds a command may run on one message (default: 80% of --lease) (90s, 5m, 2h; a bare number is seconds).",
            transform: DurationArgument.seconds)
    var execTimeout: Double?

    func validate() throws {
        do { try QueueName.validate(queue) } catch { throw ValidationError(error.description) }
        guard batch >= 1, batch <= 1_000 else { throw ValidationError("--batch must be between 1 and 1000") }
        guard lease > 0, lease <= 86_400 else { throw ValidationError("--lease must be between 0 and 86400 seconds") }
        guard retryAfter >= 0, retryAfter <= 30 * 86_400 else {
            throw ValidationError("--retry-after must be between 0 and 2592000 seconds")
        }
        if let execTimeout, !(execTimeout > 0 && execTimeout < lease) {
            throw ValidationError("--exec-timeout must be positive and shorter than --lease, so that no message is handled past its lease")
        }
        guard maxDeliveries >= 1 else { throw ValidationError("--max-deliveries must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if idleTimeout != nil && !wait { throw ValidationError("--idle-timeout only makes sense with --wait") }
    }

    func run() throws {
        let stop = StopSignal(finishing: "the message in hand")
        let stores = try storage.open()
        let consumer = QueueConsumer(
            queue: stores.queue, damaged: stores.damaged,
            policy: ConsumerPolicy(lease: .milliseconds(Int64(lease * 1000)), maximumDeliveries: maxDeliveries,
                                   acknowledgement: .withNextClaim),
            logger: Logger(label: "fundq.queue.pop"))
        let handler: (DeliveredMessage) throws -> Void
        if let exec {
            let command = ExecHandler(command: exec, retryAfter: .milliseconds(Int64(retryAfter * 1000)),
                                      timeout: .milliseconds(Int64((execTimeout ?? lease * 0.8) * 1000)))
            handler = command.handle
        } else {
            handler = Self.printMessage
        }
        var total = PopSummary()
        var idleSince = Date()
        var pause = 0.02
        loop: while !stop.isRaised {
            let want = limit.map { min(batch, $0 - total.claimed) } ?? batch
            if want <= 0 { break }
            let summary: PopSummary
            do {
                summary = try consumer.popAtomic(from: queue, maximum: want, handler: handler)
            } catch let stopped as ConsumerStop {
                try consumer.flush()
                Output.note("fundq: stopped: \(stopped.reason)")
                report(total)
                throw ExitCode(1)
            } catch {
                // Handled messages must not wait for their lease to expire.
                try? consumer.flush()
                throw error
            }
            total.add(summary)
            if summary.claimed > 0 {
                idleSince = Date()
                pause = 0.02
                continue
            }
            guard wait else { break }
            if let idleTimeout, Date().timeIntervalSince(idleSince) >= idleTimeout { break loop }
            Thread.sleep(forTimeInterval: pause)
            pause = min(pause * 2, 1.0)
        }
        total.leaseLost += try consumer.flush()
        report(total)
    }

    func report(_ total: PopSummary) {
        var line = "popped \(total.claimed) message\(total.claimed == 1 ? "" : "s") from \(queue): "
            + "\(total.acknowledged) acknowledged, \(total.damaged) damaged"
        if total.leaseLost > 0 { line += ", \(total.leaseLost) lost their lease" }
        Output.note(line)
    }

    /// Prints the message as one line; a broken output stops consumption
    /// without acknowledging the message.
    static func printMessage(_ message: DeliveredMessage) throws {
        var bytes = message.body.map { $0 == 0x0a || $0 == 0x0d ? 0x20 : $0 }
        bytes.append(0x0a)
        do {
            try FileHandle.standardOutput.write(contentsOf: Data(bytes))
        } catch {
            throw ConsumerStop("cannot write to standard output: \(error.localizedDescription)")
        }
    }
}
