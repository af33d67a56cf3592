import Core
import Foundation
import FundqTestSupport
import Testing

/// Flags and configuration as an operator meets them: durations with units,
/// "did you mean", `processor check --all`, a secrets file others may read.
@Suite("Configuration and flags")
struct ConfigurationFlagsTests {
    @Test func durationsTakeUnitsAndABareNumberIsSeconds() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        for lease in ["2m", "90s", "120", "1h"] {
            let r = try FundqProcess.run(["consume", "pending", "--lease", lease] + flags)
            #expect(r.status == 0, "--lease \(lease): \(r.stderr)")
        }
        let bad = try FundqProcess.run(["consume", "pending", "--lease", "5x"] + flags)
        #expect(bad.status == 2 && bad.stderr.contains("'5x' is not a duration"), "\(bad.stderr)")
        let short = try FundqProcess.run(["rectify", "--lease", "5s"] + flags)
        #expect(short.status == 2 && short.stderr.contains("--lease must be at least 10 seconds"), "5s is 5 seconds: \(short.stderr)")
        let waited = try FundqProcess.run(["queue", "pop", "pending", "--wait", "--idle-timeout", "1s"] + flags)
        #expect(waited.status == 0, "\(waited.stderr)")
    }

    @Test func daysOptionsTakeUnitsAndABareNumberIsDays() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        let now = Int(Date().timeIntervalSince1970)
        let ages = [("d10", 10), ("d20", 20), ("d100", 100)]
        let lines = ages.map { #"{"gateway":"paypal","order_id":"\#($0.0)","date":\#(now - $0.1 * 86_400)}"# }
        #expect(try FundqProcess.run(["queue", "push", "pending", "--lines"] + flags, stdin: lines.joined(separator: "\n")).status == 0)
        #expect(try FundqProcess.run(["consume", "pending"] + flags).status == 0)
        // 12w is 84 days: only the 100-day-old row; a bare 15 is 15 days (not seconds): the 20-day-old one.
        let weeks = try FundqProcess.run(["jobs", "expire-pending", "--days", "12w"] + flags)
        #expect(weeks.status == 0 && weeks.stderr.contains("expire-pending: 1 row older than 84 days resolved as expired"),
                "\(weeks.stderr)")
        let bare = try FundqProcess.run(["jobs", "expire-pending", "--days", "15"] + flags)
        #expect(bare.stderr.contains("expire-pending: 1 row older than 15 days resolved as expired"), "\(bare.stderr)")
        let hours = try FundqProcess.run(["jobs", "expire-pending", "--days", "216h", "--purge-resolved-days", "90d"] + flags)
        #expect(hours.stderr.contains("1 row older than 9 days resolved as expired, 0 resolved rows purged"), "\(hours.stderr)")
        let open = try FundqProcess.run(["pending", "list", "--json"] + flags)
        #expect(open.stdout == "[]\n", "every row expired: \(open.stdout)")
        let purge = try FundqProcess.run(["jobs", "purge-impressions", "--days", "30d"] + flags)
        #expect(purge.status == 0 && purge.stderr.contains("older than 30 days deleted"), "\(purge.stderr)")
        let bad = try FundqProcess.run(["jobs", "purge-impressions", "--days", "3x"] + flags)
        #expect(bad.status == 2 && bad.stderr.contains("'3x' is not an age: give days (90) or a number with a unit"), "\(bad.stderr)")
        #expect(DurationText.days("2w") == 14 && DurationText.days("36h") == 1.5 && DurationText.days("7") == 7)
        #expect(DurationText.days("-1") == nil && DurationText.days("nan") == nil && DurationText.seconds("1w") == 604_800)
    }

    @Test func aMistypedSubcommandGetsASuggestion() throws {
        let r = try FundqProcess.run(["queue", "stat", "--json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("Did you mean 'fundq queue stats --json'?"), "\(r.stderr)")
        let top = try FundqProcess.run(["pendng", "list"])
        #expect(top.status == 2 && top.stderr.contains("Did you mean 'fundq pending list'?"), "\(top.stderr)")
    }

    @Test func checkAllPrintsEveryProcessorsEffectiveConfigurationWithItsSources() throws {
        let f = try SandboxFixture()
        var env = f.environment(["FUNDQ_PAYPAL_CONCURRENCY": "3"])
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        let r = try FundqProcess.run(["processor", "check", "--all"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        for name in registeredProcessorNames {
            #expect(r.stdout.contains("\(name) (\(RepositoryPaths.processors)/\(name).yaml)"), "\(r.stdout)")
        }
        #expect(r.lines.contains { $0.contains("concurrency") && $0.contains(" 3 ") && $0.hasSuffix("FUNDQ_PAYPAL_CONCURRENCY (overriding "
            + RepositoryPaths.processors + "/paypal.yaml)") }, "\(r.stdout)")
        #expect(r.lines.contains { $0.contains("proxy") && $0.hasSuffix("default") })
        #expect(r.stdout.components(separatedBy: "  connectivity: ").count - 1 == registeredProcessorNames.count, "\(r.stdout)")

        env["FUNDQ_PAYPAL_SIGNATURE"] = ""
        let missing = try FundqProcess.run(["processor", "check", "--all"], environment: env)
        #expect(missing.status == 1, "\(missing.stderr)")
        #expect(missing.stderr.contains("processors failed their check: paypal, paypal-recurring"), "\(missing.stderr)")
        #expect(missing.stdout.contains("globalcollect ("), "the others are still checked")
    }

    @Test func aSecretsFileOthersMayReadIsWarnedAbout() throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("secrets")
        try "FUNDQ_QUEUE_PASSWORD=x\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(chmod(file, 0o644) == 0)
        let open = try FundqProcess.run(["queue", "stats", "--data-dir", dir.path], environment: ["FUNDQ_SECRETS_FILE": file])
        #expect(open.stderr.contains("warning: the secrets file \(file) may be read by its group or by others (mode 644)"),
                "\(open.stderr)")
        #expect(chmod(file, 0o600) == 0)
        let closed = try FundqProcess.run(["queue", "stats", "--data-dir", dir.path], environment: ["FUNDQ_SECRETS_FILE": file])
        #expect(!closed.stderr.contains("warning"), "\(closed.stderr)")
    }
}

/// Every operator command's help ends with examples of itself.
@Suite("Help")
struct HelpTests {
    @Test(arguments: ["queue", "queue push", "queue pop", "queue peek", "queue stats", "consume", "pending list", "pending show",
                      "damaged list", "damaged show", "rectify run", "rectify log", "processor", "db status", "db migrate",
                      "tracking list", "tracking show", "impressions report", "jobs"])
    func helpEndsWithExamplesOfTheCommand(command: String) throws {
        let r = try FundqProcess.run(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(r.status == 0, "\(r.stderr)")
        let examples = r.stdout.components(separatedBy: "EXAMPLES:\n").dropFirst().first?.split(separator: "\n") ?? []
        #expect(!examples.isEmpty, "\(command) --help has no examples: \(r.stdout)")
        #expect(examples.allSatisfy { $0.contains("fundq \(command)") }, "\(examples)")
    }

    @Test func rectifyHelpShowsTheRunOptions() throws {
        let r = try FundqProcess.run(["rectify", "--help"])
        #expect(r.status == 0)
        for option in ["--dry-run", "--daemon", "--workers", "--interval"] { #expect(r.stdout.contains(option), "\(option): \(r.stdout)") }
        let viaHelp = try FundqProcess.run(["help", "queue", "stats"])
        #expect(viaHelp.stdout.contains("EXAMPLES:\n  fundq queue stats\n"), "\(viaHelp.stdout)")
    }

    @Test func completionScriptsCompleteProcessorNames() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try FundqProcess.run(["--generate-completion-script", shell])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("paypal-recurring") && r.stdout.contains("globalcollect"), "\(shell)")
        }
    }
}
