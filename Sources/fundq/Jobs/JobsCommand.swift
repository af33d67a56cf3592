import ArgumentParser
import Backends
import Core
import Foundation
import Impressions
import Logging

/// `fundq jobs …`: single-purpose jobs over the stores.
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Single-purpose jobs: expire old pending rows, requeue damaged messages that are due, "
            + "mark abandoned tracking rows, purge old impressions, apply every table's retention rule.",
        subcommands: [ExpirePendingCommand.self, RequeueDamagedCommand.self, AbandonTrackingCommand.self, PurgeImpressionsCommand.self,
                      RetentionCommand.self]
    )
}

/// When a job runs: once, or as a daemon every `--interval` seconds.
struct JobSchedule: ParsableArguments {
    @Flag(help: "Run every --interval seconds until SIGTERM or SIGINT.")
    var daemon = false

    @Option(help: ArgumentHelp("Time between runs with --daemon: 90s, 5m, 1h; a bare number is seconds "
                               + "(default: 1h for expire-pending, 60s for requeue-damaged).", valueName: "duration"),
            transform: DurationArgument.seconds)
    var interval: Double?

    @Option(help: ArgumentHelp("With --daemon: stop after this long.", valueName: "duration"))
    var timeLimit: DurationArgument?

    @OptionGroup var process: ProcessOptions

    /// Runs `body` once, or as a daemon (registered as `jobs-NAME` in the
    /// process registry) until SIGTERM/SIGINT or the time limit.
    func run(job: String, storage: StorageConfiguration, defaultInterval: Double, _ body: () throws -> Void) throws {
        let stop = StopSignal(finishing: "the run in hand")
        let start = Date()
        let presence = try process.start(role: "jobs-\(job)", storage: storage, registered: daemon)
        defer { presence.stop() }
        let heartbeat = presence.heartbeat
        repeat {
            heartbeat?.doing("running \(job)")
            try body()
            heartbeat?.count("runs")
            heartbeat?.set("last_run_end", to: Int(Date().timeIntervalSince1970))
            guard daemon else { return }
            heartbeat?.doing("waiting for the next run")
            let until = Date().addingTimeInterval(interval ?? defaultInterval)
            while Date() < until && !stop.isRaised { Thread.sleep(forTimeInterval: 0.05) }
            if let timeLimit, Date().timeIntervalSince(start) >= timeLimit.seconds { return }
        } while !stop.isRaised
    }
}

/// `fundq jobs expire-pending --days N [--gateway G]`.
struct ExpirePendingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire-pending",
        abstract: "Resolve as expired every unresolved pending row older than --days (the row is kept, marked expired).")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Age after which an unresolved row expires: 30d, 12w, 36h; a bare number is days.", valueName: "age"),
            transform: DurationArgument.days)
    var days: Double

    @Option(help: "Only this gateway.")
    var gateway: String?

    @Option(help: ArgumentHelp("Also delete resolved rows older than this (retention): 90d, 12w; a bare number is days. "
                               + "Omit to keep them.", valueName: "age"), transform: DurationArgument.days)
    var purgeResolvedDays: Double?

    @OptionGroup var schedule: JobSchedule

    func validate() throws {
        guard days > 0 else { throw ValidationError("--days must be positive") }
        if let purgeResolvedDays, purgeResolvedDays <= 0 { throw ValidationError("--purge-resolved-days must be positive") }
    }

    func run() throws {
        let stores = try storage.open()
        let store = PendingStore(connection: stores.database)
        try schedule.run(job: "expire-pending", storage: storage.configuration, defaultInterval: 3600) {
            let now = Date()
            let expired = try store.expire(startedBefore: now.addingTimeInterval(-days * 86400), gateway: gateway, at: now)
            var line = "expire-pending: \(expired) row\(expired == 1 ? "" : "s") older than \(DurationArgument.daysText(days)) "
                + "resolved as expired"
            if let purgeResolvedDays {
                let purged = try store.purgeResolved(before: now.addingTimeInterval(-purgeResolvedDays * 86400))
                line += ", \(purged) resolved row\(purged == 1 ? "" : "s") purged"
            }
            Output.note(line)
        }
    }
}

/// `fundq jobs requeue-damaged`.
struct RequeueDamagedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue-damaged",
        abstract: "Put every damaged message whose retry date has passed back on its queue.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Requeue at most this many messages per run.")
    var limit: Int?

    @OptionGroup var schedule: JobSchedule

    func run() throws {
        let stores = try storage.open()
        let requeuer = DamagedRequeuer(queue: stores.queue, damaged: stores.damaged)
        try schedule.run(job: "requeue-damaged", storage: storage.configuration, defaultInterval: 60) {
            let now = Date()
            let due = try stores.damaged.countDue(at: now)
            let progress = ProgressReporter("requeue-damaged", total: min(due, limit ?? due))
            let count = try requeuer.requeueDue(at: now, limit: limit, progress: progress.update)
            progress.finish()
            Output.note("requeue-damaged: \(count) message\(count == 1 ? "" : "s") requeued")
        }
    }
}

/// `fundq jobs abandon-tracking --after DURATION`.
struct AbandonTrackingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abandon-tracking",
        abstract: "Mark as abandoned every started contribution tracking row with no donation and no event for --after.")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("The abandon window: how long after its last event a row without a donation is abandoned (30m, 6h, 2d).",
                               valueName: "duration"))
    var after: DurationArgument

    @OptionGroup var schedule: JobSchedule

    func run() throws {
        let store = TrackingStore(connection: try storage.open().database)
        try schedule.run(job: "abandon-tracking", storage: storage.configuration, defaultInterval: 300) {
            let now = Date()
            let count = try store.abandon(lastEventBefore: now.addingTimeInterval(-after.seconds), at: now)
            Output.note("abandon-tracking: \(count) row\(count == 1 ? "" : "s") without a donation for \(after.seconds) s marked abandoned")
        }
    }
}

/// `fundq jobs purge-impressions --days N`.
struct PurgeImpressionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "purge-impressions",
        abstract: "Delete banner impression counts of minutes older than --days (retention; lookups and file records are kept).")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Age after which per-minute counts are deleted: 30d, 12w; a bare number is days.", valueName: "age"),
            transform: DurationArgument.days)
    var days: Double

    @OptionGroup var schedule: JobSchedule

    func validate() throws {
        guard days > 0 else { throw ValidationError("--days must be positive") }
    }

    func run() throws {
        let store = ImpressionStore(connection: try storage.open().database)
        try schedule.run(job: "purge-impressions", storage: storage.configuration, defaultInterval: 3600) {
            let purged = try store.purge(before: Date().addingTimeInterval(-days * 86400))
            let rows = "\(purged) per-minute row\(purged == 1 ? "" : "s")"
            Output.note("purge-impressions: \(rows) older than \(DurationArgument.daysText(days)) deleted")
        }
    }
}
