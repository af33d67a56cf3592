import ArgumentParser
import Core

/// A duration given as "90", "90s", "20m", "6h" or "14d".
struct DurationArgument: ExpressibleByArgument, Sendable {
    /// The duration in seconds.
    let seconds: Double

    init?(argument: String) {
        guard let seconds = DurationText.seconds(argument) else { return nil }
        self.seconds = seconds
    }

    /// Seconds from an option's text: "90" or "90s", "5m", "2h", "1d" (for
    /// `@Option(transform:)` on options kept as `Double` seconds).
    static func seconds(_ text: String) throws -> Double {
        guard let duration = DurationArgument(argument: text) else {
            throw ValidationError("'\(text)' is not a duration: give seconds (90) or a number with a unit (90s, 5m, 2h, 1d)")
        }
        return duration.seconds
    }

    /// Days from a `--days` option's text: "90d", "12w", "36h", or a bare
    /// number, which stays days there (for compatibility).
    static func days(_ text: String) throws -> Double {
        guard let days = DurationText.days(text) else {
            throw ValidationError("'\(text)' is not an age: give days (90) or a number with a unit (90d, 12w, 36h)")
        }
        return days
    }

    /// Days as "90 days" or "1.5 days".
    static func daysText(_ days: Double) -> String { String(format: "%g day%@", days, days == 1 ? "" : "s") }

    /// As a `Duration`.
    var duration: Duration { .milliseconds(Int64(seconds * 1000)) }
}

/// Options shared by every consumer and job.
struct RunOptions: ParsableArguments {
    @Option(help: "Stop after this many messages.")
    var limit: Int?

    @Option(help: ArgumentHelp("Stop after this long (90s, 20m, 1h).", valueName: "duration"))
    var timeLimit: DurationArgument?

    @Flag(help: "Run until SIGTERM or SIGINT, waiting for work; finish the batch in hand, then exit 0.")
    var daemon = false

    @Option(help: "Messages per batch (one claim, one transaction).")
    var batch = 100

    func validate() throws {
        guard (1...1_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 1000") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }
}
