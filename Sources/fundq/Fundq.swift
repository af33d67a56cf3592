import ArgumentParser
import Backends
import Core
import Foundation
import Impressions
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
            \(LogSettings.help)
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
        let settings: LogSettings, arguments: [String]
        do {
            (settings, arguments) = try LogSettings.parse(Array(CommandLine.arguments.dropFirst()),
                                                          environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error.message)\nUsage: fundq --help\n".utf8))
            Foundation.exit(2)
        }
        if let warning = SecretSettings().secretsFilePermissionWarning() {
            FileHandle.standardError.write(Data("fundq: \(warning)\n".utf8))
        }
        LoggingSystem.bootstrap { label in
            MaskingLogHandler(wrapped: LineLogHandler(label: label, format: settings.format, level: settings.level ?? .info))
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            switch exitCode(for: error) {
            case .success where arguments.contains("--version"):
                exit(withError: error)
            case .success:  // --help, -h, help
                let path = (["fundq"] + resolvedCommand(arguments.first == "help" ? Array(arguments.dropFirst()) : arguments).path)
                print(fullMessage(for: error) + "\n" + HelpExamples.epilogue(for: path.joined(separator: " ")), terminator: "")
                Foundation.exit(0)
            case .validationFailure:
                let hint = subcommandSuggestion(arguments).map { "Did you mean '\($0)'?\n" } ?? ""
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n" + hint).utf8))
                Foundation.exit(2)
            default:
                // Whatever failed, a URL in its message never shows a password.
                FileHandle.standardError.write(Data("fundq: \(SecretMasking.urls(in: "\(error)"))\n".utf8))
                Foundation.exit(1)
            }
        }
    }
}

extension Fundq {
    /// For a command line that did not parse: the command it probably meant
    /// when a word stands where a subcommand should and is close to one
    /// ("fundq queue stat" → "fundq queue stats").
    static func subcommandSuggestion(_ arguments: [String]) -> String? {
        let resolved = resolvedCommand(arguments)
        guard let index = resolved.unknownAt,
              let name = Spelling.closest(to: arguments[index], among: resolved.subcommands) else { return nil }
        return (["fundq"] + resolved.path + [name] + arguments[(index + 1)...]).joined(separator: " ")
    }

    /// The subcommand names `arguments` name in turn, and the index of the
    /// first word that stands where a subcommand should but is none (with
    /// the subcommands it could have been).
    static func resolvedCommand(_ arguments: [String]) -> (path: [String], unknownAt: Int?, subcommands: [String]) {
        var command: any ParsableCommand.Type = Fundq.self
        var path: [String] = []
        for (index, word) in arguments.enumerated() where !word.hasPrefix("-") {
            var names: [String: any ParsableCommand.Type] = [:]
            for subcommand in command.configuration.subcommands { names[subcommand.configuration.commandName ?? ""] = subcommand }
            guard !names.isEmpty else { break }
            guard let next = names[word] else { return (path, index, Array(names.keys)) }
            command = next
            path.append(word)
        }
        return (path, nil, [])
    }
}

/// `fundq version`: fundq's version and the C libraries it runs on.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version",
                                                    abstract: "Print fundq's version and its C libraries' versions.")

    func run() throws {
        print("fundq \(FundqVersion.current)")
        for (library, version) in LinkedLibraries.versions() + [("librdkafka", KafkaLibrary.version)] {
            print("  \(library) \(version)")
        }
    }
}
