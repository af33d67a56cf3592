public import Foundation

/// Applies ``RetentionRule``s to a database (MariaDB or the embedded file)
/// in bounded batches: each batch is one short statement in its own
/// transaction, so writers are never held up for long, and a job killed
/// half-way has removed whole batches only and resumes where it stopped.
public struct RetentionJob {
    /// The database the rules apply to.
    public let connection: any SQLConnection
    /// Ages and batch size.
    public let settings: RetentionSettings

    /// A job on `connection`.
    public init(connection: any SQLConnection, settings: RetentionSettings = RetentionSettings()) {
        self.connection = connection
        self.settings = settings
    }

    /// What one rule did (or, dry, would do) to its table.
    public struct Outcome: Sendable, Equatable {
        /// The table.
        public var table: String
        /// The rule's age in days (nil: kept for ever).
        public var days: Double?
        /// Rows removed (dry run: rows that would be).
        public var removed = 0
        /// Rows past the age that the rule keeps because something needs them.
        public var keptAsNeeded = 0
        /// The table removed rows were summed into (nil: deleted).
        public var rolledUpInto: String? = nil
        /// Whether the table does not exist in this database.
        public var absent = false
        /// The rule in words.
        public var summary: String
    }

    /// Applies every rule (dry: counts only), as of `now`.
    public func run(dryRun: Bool, now: Date = Date()) throws -> [Outcome] {
        var outcomes: [Outcome] = []
        for rule in RetentionRule.all {
            let days = settings.days(for: rule)
            var outcome = try apply(rule, before: days.map { now.addingTimeInterval(-$0 * 86_400) }, dryRun: dryRun)
            outcome.days = days
            outcomes.append(outcome)
        }
        if !dryRun {
            // Removed rows' pages go back to the file system, a step at a time.
            try connection.reclaimFreeSpace()
        }
        return outcomes
    }

    /// Applies `rule` to rows older than `cutoff` (nil: removes nothing).
    public func apply(_ rule: RetentionRule, before cutoff: Date?, dryRun: Bool) throws -> Outcome {
        var outcome = Outcome(table: rule.table, days: nil, rolledUpInto: rule.rollup?.into.table, summary: rule.summary)
        guard try tableExists(rule.table) else {
            outcome.absent = true
            return outcome
        }
        guard let date = cutoff, let timeColumn = rule.timeColumn, rule.removesByAge else { return outcome }
        if let level = rule.rollup {
            outcome.removed = try ImpressionRollup(connection: connection).run(level, before: date, dryRun: dryRun)
            return outcome
        }
        let cutoff = connection.dialect.value(date)
        let removable = "\(timeColumn) < ? AND (\(rule.removable))"
        let old = try count(rule.table, where: "\(timeColumn) < ?", cutoff)
        if dryRun {
            outcome.removed = try count(rule.table, where: removable, cutoff)
        } else {
            outcome.removed = try delete(rule, where: removable, cutoff)
        }
        outcome.keptAsNeeded = max(0, old - outcome.removed)
        return outcome
    }

    private func count(_ table: String, where predicate: String, _ cutoff: SQLValue) throws -> Int {
        Int(try connection.query("SELECT COUNT(*) FROM \(table) WHERE \(predicate)", [cutoff]).first?.first?.int64 ?? 0)
    }

    /// Deletes the matching rows `batchSize` at a time; returns how many.
    private func delete(_ rule: RetentionRule, where predicate: String, _ cutoff: SQLValue) throws -> Int {
        let batch = settings.batchSize
        let sql: String
        switch connection.dialect {
        case .mariadb:
            // In key order: the same rows on a replica under statement-based replication.
            sql = "DELETE FROM \(rule.table) WHERE \(predicate) ORDER BY \(rule.key.joined(separator: ", ")) LIMIT \(batch)"
        case .sqlite:
            // No DELETE … LIMIT in a stock SQLite: pick the batch's keys first.
            let key = rule.key.count == 1 ? rule.key[0] : "(\(rule.key.joined(separator: ", ")))"
            sql = "DELETE FROM \(rule.table) WHERE \(key) IN (SELECT \(rule.key.joined(separator: ", ")) FROM \(rule.table) "
                + "WHERE \(predicate) LIMIT \(batch))"
        }
        var total = 0
        while true {
            let removed = try connection.transaction { try connection.execute(sql, [cutoff]) }
            total += removed
            if removed < batch { return total }
        }
    }

    /// Whether `table` exists in the database.
    public func tableExists(_ table: String) throws -> Bool {
        let sql = connection.dialect == .sqlite
            ? "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
            : "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
        return (try connection.query(sql, [.text(table)]).first?.first?.int64 ?? 0) > 0
    }
}
