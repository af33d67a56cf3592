import ArgumentParser
import Core
import Foundation
import Logging

/// The fundq command line.
@main
struct Fundq: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fundq",
        abstract: "Keeps donations safe between the public frontend and the back office.",
        discussion: """
            With no configuration every store is one SQLite file under ./var (see --data-dir). \
            --queue-url redis://HOST:PORT[/DB] (or FUNDQ_QUEUE_URL) puts the queues in Redis.
            Exit codes: 0 success, 1 operational error, 2 usage error.
            """,
        version: FundqVersion.current,
        subcommands: [
            QueueCommand.self, ConsumeCommand.self, PendingCommand.self, TrackingCommand.self, JobsCommand.self, ProcessorCommand.self,
            RectifyCommand.self, IPNCommand.self, SandboxCommand.self, DamagedCommand.self, ImpressionsCommand.self, DatabaseCommand.self,
            BenchCommand.self, DemoCommand.self, VersionCommand.self, StatusCommand.self, AuditCommand.self, WebCommand.self,
        ]
    )

    /// Runs the command and maps failures to the documented exit codes:
    /// 2 for usage errors, 1 for operational errors (one line on stderr).
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["FUNDQ_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return MaskingLogHandler(wrapped: handler)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            switch exitCode(for: error) {
            case .success:
                exit(withError: error)  // --help, --version
            case .validationFailure:
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            default:
                // Whatever failed, a URL in its message never shows a password.
                FileHandle.standardError.write(Data("fundq: \(SecretMasking.urls(in: "\(error)"))\n".utf8))
                Foundation.exit(1)
            }
        }
    }
}

/// `fundq version`: fundq's version and the C libraries it runs on.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print fundq's version and its C libraries' versions.")

    func run() throws {
        print("fundq \(FundqVersion.current)")
        for (library, version) in LinkedLibraries.versions() {
            print("  \(library) \(version)")
        }
    }
}
