/// How long each of fundq's tables keeps its rows: the one place that
/// states every rule (issue 13). ``RetentionJob`` applies the rules with an
/// age; the others say why nothing is removed by age. A row something
/// still needs (an open or needs-review pending row and its decisions, a
/// tracking row still open and its events, a damaged row not yet handled)
/// is never removed by age alone: the rule's `removable` predicate keeps it.
public struct RetentionRule: Sendable, Equatable {
    /// The table the rule applies to.
    public let table: String
    /// The setting in `fundq.yaml` (under `retention:`) giving its age in days.
    public let setting: String?
    /// Days kept when `fundq.yaml` says nothing (nil: kept for ever).
    public let defaultDays: Double?
    /// The column holding each row's age (compared with the cutoff).
    public let timeColumn: String?
    /// A predicate (SQL on both dialects) a row past its age must also match
    /// to be removed: whatever keeps a still-needed row.
    public let removable: String
    /// The columns identifying a row (for batched deletes on SQLite).
    public let key: [String]
    /// The rule in words, for `--dry-run`, `db stats` and the README.
    public let summary: String
    /// Rows past their age are summed into a coarser table instead of
    /// being deleted (nil: deleted).
    public var rollup: ImpressionRollup.Level? = nil

    /// Whether the rule ever removes rows by age.
    public var removesByAge: Bool { setting != nil && timeColumn != nil }
}

extension RetentionRule {
    /// Resolved pending rows: removed `pending_resolved_days` after their
    /// resolution; an unresolved or needs-review row is never removed.
    public static let resolvedPending = RetentionRule(
        table: "pending", setting: "pending_resolved_days", defaultDays: 90, timeColumn: "resolved_date",
        removable: "resolution IS NOT NULL AND needs_review = 0", key: ["id"],
        summary: "resolved rows, once resolved for N days; unresolved and needs-review rows are kept")

    /// The rectifier's decision log: kept while its pending row is open or
    /// needs review (the evidence an operator reviews), else for N days.
    public static let decisionLog = RetentionRule(
        table: "rectifier_decision", setting: "decision_log_days", defaultDays: 365, timeColumn: "time",
        removable: """
            NOT EXISTS (SELECT 1 FROM pending p WHERE p.id = rectifier_decision.pending_id \
            AND (p.resolution IS NULL OR p.needs_review <> 0))
            """,
        key: ["id"],
        summary: "decisions older than N days whose pending row is resolved or gone; decisions of open or needs-review rows are kept")

    /// Damaged messages: requeueing or deleting one removes its row at
    /// once, so every row present is one not yet handled and is kept.
    public static let damaged = RetentionRule(
        table: "damaged", setting: nil, defaultDays: nil, timeColumn: "damaged_date", removable: "0 = 1", key: ["id"],
        summary: "kept until handled: `fundq damaged requeue` and `delete` remove a row at once; never removed by age")

    /// Tracking events: once their tracking row is settled (donated or
    /// abandoned) that row holds the summary, and events go after N days.
    public static let trackingEvents = RetentionRule(
        table: "contribution_tracking_event", setting: "tracking_event_days", defaultDays: 90, timeColumn: "received_at",
        removable: """
            EXISTS (SELECT 1 FROM contribution_tracking t WHERE t.id = contribution_tracking_event.contribution_tracking_id \
            AND t.status <> 'started')
            """,
        key: ["id"],
        summary: "events older than N days of a donated or abandoned attempt (its current row keeps the summary); "
            + "events of started attempts are kept")

    /// Banner impressions per minute: after N days, summed into per-hour
    /// counts (whole hours) and removed; the totals and the LEGACY views
    /// answer from `banner_impressions_all`.
    public static let impressionMinutes = RetentionRule(
        table: "banner_impressions_minute", setting: "impressions_minute_days", defaultDays: 30, timeColumn: "minute",
        removable: "1 = 1", key: ["minute", "banner", "campaign", "project", "language", "country", "device"],
        summary: "minutes older than N days are rolled up into banner_impressions_hour", rollup: ImpressionRollup.minutesToHours)

    /// Banner impressions per hour: after N days, summed into per-day counts.
    public static let impressionHours = RetentionRule(
        table: "banner_impressions_hour", setting: "impressions_hour_days", defaultDays: 365, timeColumn: "hour",
        removable: "1 = 1", key: ["hour", "banner", "campaign", "project", "language", "country", "device"],
        summary: "hours older than N days are rolled up into banner_impressions_day (kept)", rollup: ImpressionRollup.hoursToDays)

    /// What `fundq jobs purge-impressions --days N` does: per-minute counts
    /// deleted, totals and all (not applied by ``RetentionJob/run(dryRun:now:)``).
    public static let purgedImpressionMinutes = RetentionRule(
        table: "banner_impressions_minute", setting: "impressions_minute_days", defaultDays: nil, timeColumn: "minute",
        removable: "1 = 1", key: ["minute", "banner", "campaign", "project", "language", "country", "device"],
        summary: "per-minute counts of minutes older than N days, deleted")

    /// `fundq_audit`: who did what by hand and why, kept longest (7 years).
    public static let auditLog = RetentionRule(
        table: "fundq_audit", setting: "audit_days", defaultDays: 2557, timeColumn: "at", removable: "1 = 1",
        key: ["id"], summary: "audit rows older than N days (default 7 years)")

    /// Tables with nothing to remove by age, and why.
    public static let keptTables: [(table: String, reason: String)] = [
        ("queue_message", "an acknowledged message is deleted at once; the embedded file gives the space back"),
        ("donations", "the donation record: kept"),
        ("contribution_tracking", "one current row per attempt: kept"),
        ("rectifier_rate", "one row per processor"),
        ("banner_impression_files", "one row per loaded file (exactly-once loading needs it)"),
        ("banner_impression_offsets", "one row per Kafka partition"),
        ("banner_impression_rejects", "one row per reject reason"),
        ("banner_impressions_day", "one row per day and key: kept"),
        ("fundq_process", "one row per running process; a dead one is pruned an hour after its last heartbeat"),
    ]

    /// Every rule ``RetentionJob`` applies, in order (decisions before the
    /// pending rows they refer to).
    public static let all: [RetentionRule] = [
        decisionLog, resolvedPending, damaged, trackingEvents, impressionMinutes, impressionHours, auditLog,
    ]
}
