import ArgumentParser
import Core
import Foundation
import RedisDriver

/// `fundq jobs retention [--dry-run] [--daemon --interval …]`.
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Apply every table's retention rule (fundq.yaml `retention:`) in bounded batches; print what each removed.",
        discussion: "Rows still needed (open or needs-review pending rows and their decisions, events of open tracking rows, "
            + "damaged messages not yet handled) are never removed by age.")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("The settings file (env FUNDQ_CONFIG, default ./fundq.yaml; absent: the defaults).", valueName: "file"))
    var config: String?

    @Flag(help: "Print what each rule would remove; remove nothing.")
    var dryRun = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    @OptionGroup var schedule: JobSchedule

    func run() throws {
        let explicit = config ?? ProcessInfo.processInfo.environment["FUNDQ_CONFIG"]
        let settings = try RetentionSettings.load(path: explicit ?? "fundq.yaml", required: explicit != nil)
        let stores = try storage.open()
        let job = RetentionJob(connection: stores.database, settings: settings)
        let redis = (stores.queue as? RedisQueue).flatMap { queue in
            settings.redisIdleQueueDays.map { RedisRetention(queue: queue, idleSeconds: Int($0 * 86_400)) }
        }
        try schedule.run(job: "retention", storage: storage.configuration, defaultInterval: 3600) {
            let outcomes = try job.run(dryRun: dryRun)
            let redisKeys = try redis?.run(dryRun: dryRun)
            try report(outcomes, redisKeys: redisKeys, settings: settings)
        }
    }

    func report(_ outcomes: [RetentionJob.Outcome], redisKeys: Int?, settings: RetentionSettings) throws {
        let verb = dryRun ? "would remove" : "removed"
        if json {
            var rows: [JSONValue] = outcomes.map { o in
                .object(["table": .string(o.table), "days": Output.number(o.days), "removed": Output.number(o.removed),
                         "kept_as_needed": Output.number(o.keptAsNeeded), "absent": .bool(o.absent), "rule": .string(o.summary),
                         "rolled_up_into": o.rolledUpInto.map(JSONValue.string) ?? .null])
            }
            if let redisKeys {
                rows.append(.object(["table": .string("redis bookkeeping keys"), "days": Output.number(settings.redisIdleQueueDays),
                                     "removed": Output.number(redisKeys), "kept_as_needed": Output.number(0), "absent": .bool(false),
                                     "rule": .string(RedisRetention.summary), "rolled_up_into": .null]))
            }
            try Output.json(.object(["dry_run": .bool(dryRun), "rules": .array(rows)]))
            return
        }
        func days(_ d: Double?) -> String { d.map { String(format: "%g days", $0) } ?? "kept" }
        var rows = outcomes.map { o in
            [o.table + (o.rolledUpInto.map { " → \($0)" } ?? ""), days(o.days), o.absent ? "-" : String(o.removed),
             o.absent ? "table absent" : String(o.keptAsNeeded)]
        }
        if let redisKeys { rows.append(["redis bookkeeping keys", days(settings.redisIdleQueueDays), String(redisKeys), "-"]) }
        try Output.line("retention\(dryRun ? " (dry run)" : ""):")
        try Output.line(Output.table(["TABLE", "KEEP", verb.uppercased(), "OLD BUT STILL NEEDED"], rows))
    }
}
