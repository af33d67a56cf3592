import Core
import Foundation

/// Runs a shell command per message, the message on its standard input.
struct ExecHandler {
    /// The command, run with `/bin/sh -c`.
    let command: String
    /// Delay before a temporarily failed message (exit 75) is requeued.
    let retryAfter: Duration

    /// The command failed; the message is damaged with this as the reason.
    struct CommandFailed: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let signalled: Bool
        let stderr: String
        var description: String {
            let how = signalled ? "was killed by signal \(status)" : "exited with status \(status)"
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "command '\(command)' \(how)" + (detail.isEmpty ? "" : ": \(detail)")
        }
    }

    /// The command asked for a retry (exit 75).
    struct CommandTemporaryFailure: RetryableError, CustomStringConvertible {
        let failure: CommandFailed
        let retryAfter: Duration
        var description: String { failure.description + " (temporary failure, will be retried)" }
    }

    func handle(_ message: DeliveredMessage) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let input = Pipe()
        process.standardInput = input
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("fundq-exec-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        process.standardError = errorHandle
        var environment = ProcessInfo.processInfo.environment
        environment["FUNDQ_QUEUE"] = message.queue
        environment["FUNDQ_MESSAGE_ID"] = message.receipt.id
        environment["FUNDQ_DELIVERY"] = String(message.deliveries)
        process.environment = environment
        do {
            try process.run()
        } catch {
            throw ConsumerStop("cannot start '\(command)': \(error.localizedDescription)")
        }
        // A command that does not read its input is not an error.
        try? input.fileHandleForWriting.write(contentsOf: message.body)
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        try? errorHandle.close()
        if process.terminationReason == .exit && process.terminationStatus == 0 { return }
        let stderrBytes = (try? Data(contentsOf: errorFile)) ?? Data()
        let failure = CommandFailed(command: command, status: process.terminationStatus,
                                    signalled: process.terminationReason == .uncaughtSignal,
                                    stderr: String(decoding: stderrBytes.suffix(4000), as: UTF8.self))
        if process.terminationReason == .exit && process.terminationStatus == 75 {
            throw CommandTemporaryFailure(failure: failure, retryAfter: retryAfter)
        }
        throw failure
    }
}
