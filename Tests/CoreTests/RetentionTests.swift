import Core
import Foundation
import FundqTestSupport
import Testing

/// Every table's retention rule (issue 13), on the embedded file and on a
/// real mariadbd: exactly the rows past their age go, nothing still needed.
@Suite("Retention")
struct RetentionTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static func ago(_ days: Double) -> Date { now.addingTimeInterval(-days * 86_400) }

    /// Rows of every ruled table, each named by what the rule must do to it.
    struct Seeded {
        var pending: [String: Int64] = [:]
        var decisions: [String: Int64] = [:]
        var events: [String: Int64] = [:]
        var audit: [String: Int64] = [:]
    }

    static func seed(_ db: any SQLConnection) throws -> Seeded {
        let d = db.dialect
        var s = Seeded()
        func pending(_ name: String, date: Date, resolvedAt: Date?, review: Bool = false) throws {
            s.pending[name] = try db.insert("""
                INSERT INTO pending (date, gateway, order_id, message, resolution, resolved_date, needs_review)
                VALUES (?, 'paypal', ?, '{}', ?, ?, ?)
                """, [d.value(date), .text(name), resolvedAt == nil ? .null : .text("failed"), d.value(resolvedAt), .int(review ? 1 : 0)])
        }
        try pending("removed: resolved 100 days ago", date: ago(101), resolvedAt: ago(100))
        try pending("kept: resolved 10 days ago", date: ago(11), resolvedAt: ago(10))
        try pending("kept: open for 500 days", date: ago(500), resolvedAt: nil)
        try pending("kept: resolved 200 days ago but needs review", date: ago(201), resolvedAt: ago(200), review: true)
        func decision(_ name: String, at time: Date, pending: String) throws {
            s.decisions[name] = try db.insert("""
                INSERT INTO rectifier_decision (time, run_id, processor, gateway, order_id, pending_id, status, evidence, action, result)
                VALUES (?, 'r', 'paypal', 'paypal', 'o', ?, 'failed', 'e', 'resolve', 'ok')
                """, [d.value(time), .integer(s.pending[pending]!)])
        }
        try decision("kept: 400 days, row open", at: ago(400), pending: "kept: open for 500 days")
        try decision("kept: 400 days, row needs review", at: ago(400), pending: "kept: resolved 200 days ago but needs review")
        try decision("removed: 400 days, row resolved", at: ago(400), pending: "kept: resolved 10 days ago")
        try decision("removed: 400 days, row purged", at: ago(400), pending: "removed: resolved 100 days ago")
        try decision("kept: 10 days", at: ago(10), pending: "removed: resolved 100 days ago")
        for (id, status) in [("t-open", "started"), ("t-done", "donated")] {
            try db.execute("""
                INSERT INTO contribution_tracking (id, first_event_at, last_event_at, event_count, status, field_ts)
                VALUES (?, ?, ?, 1, ?, '{}')
                """, [.text(id), d.value(ago(300)), d.value(ago(300)), .text(status)])
        }
        func event(_ name: String, row: String, at time: Date) throws {
            s.events[name] = try db.insert("""
                INSERT INTO contribution_tracking_event (contribution_tracking_id, ts, event_hash, received_at, message)
                VALUES (?, ?, ?, ?, '{}')
                """, [.text(row), .int(s.events.count), .int(s.events.count), d.value(time)])
        }
        try event("kept: 200 days, attempt still open", row: "t-open", at: ago(200))
        try event("removed: 200 days, attempt donated", row: "t-done", at: ago(200))
        try event("kept: 10 days, attempt donated", row: "t-done", at: ago(10))
        try event("kept: 200 days, no tracking row", row: "t-missing", at: ago(200))
        try db.execute("""
            INSERT INTO damaged (damaged_date, original_queue, error, message) VALUES (?, 'donations', 'bad', ?)
            """, [d.value(ago(1000)), .blob(Array("{}".utf8))])
        for (name, days) in [("removed: audit row 8 years old", 2930.0), ("kept: audit row 6 years old", 2190.0)] {
            s.audit[name] = try db.insert("""
                INSERT INTO fundq_audit (at, actor, action, target, reason) VALUES (?, 'ops', 'pending.resolve', 'pending 1', 'r')
                """, [d.value(ago(days))])
        }
        for (days, banner) in [(40.0, "old-a"), (40.0, "old-b"), (5.0, "recent")] {
            let minute = Int64(ago(days).timeIntervalSince1970) / 60 * 60
            try db.execute("""
                INSERT INTO banner_impressions_minute (minute, banner, campaign, project, language, country, device, count)
                VALUES (?, ?, 'c', 'wikipedia', 'en', 'GB', 'desktop', 3)
                """, [d == .sqlite ? .integer(minute) : d.value(Date(timeIntervalSince1970: Double(minute))), .text(banner)])
        }
        return s
    }

    static func ids(_ db: any SQLConnection, _ table: String) throws -> Set<Int64> {
        Set(try db.query("SELECT id FROM \(table)", []).compactMap { $0.first?.int64 })
    }

    static func kept(_ named: [String: Int64]) -> Set<Int64> { Set(named.filter { $0.key.hasPrefix("kept") }.values) }

    @Test(arguments: DatabaseKind.allCases)
    func eachRuleRemovesExactlyTheRowsPastTheirAgeAndNothingStillNeeded(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let seeded = try Self.seed(db)
        var settings = RetentionSettings()
        settings.days["impressions_minute_days"] = 30
        settings.batchSize = 1  // every row its own batch: the loop must go on to the end
        let job = RetentionJob(connection: db, settings: settings)

        let expected: [String: (removed: Int, kept: Int)] = [
            "rectifier_decision": (2, 2), "pending": (1, 1), "damaged": (0, 0), "contribution_tracking_event": (1, 2),
            "banner_impressions_minute": (2, 0), "banner_impressions_hour": (0, 0), "fundq_audit": (1, 0),
        ]
        let dry = try job.run(dryRun: true, now: Self.now)
        #expect(Dictionary(uniqueKeysWithValues: dry.map { ($0.table, $0.removed) }) == expected.mapValues(\.removed))
        #expect(Dictionary(uniqueKeysWithValues: dry.map { ($0.table, $0.keptAsNeeded) }) == expected.mapValues(\.kept))
        #expect(try Self.ids(db, "pending").count == 4, "a dry run removes nothing")

        let done = try job.run(dryRun: false, now: Self.now)
        #expect(Dictionary(uniqueKeysWithValues: done.map { ($0.table, $0.removed) }) == expected.mapValues(\.removed))
        #expect(try Self.ids(db, "pending") == Self.kept(seeded.pending))
        #expect(try Self.ids(db, "rectifier_decision") == Self.kept(seeded.decisions))
        #expect(try Self.ids(db, "contribution_tracking_event") == Self.kept(seeded.events))
        #expect(try Self.ids(db, "damaged").count == 1, "a damaged row not yet handled is never removed by age")
        #expect(try Self.ids(db, "fundq_audit") == Self.kept(seeded.audit), "audit rows are kept 7 years by default")
        let banners = try db.query("SELECT banner FROM banner_impressions_minute", []).compactMap { $0.first?.string }
        #expect(banners == ["recent"])

        let again = try job.run(dryRun: false, now: Self.now)
        #expect(again.allSatisfy { $0.removed == 0 }, "the job is idempotent")
    }

    @Test(arguments: DatabaseKind.allCases)
    func keepMeansKeptAndDefaultsApplyToTheRest(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        _ = try Self.seed(db)
        let settings = try RetentionSettings.parse("""
            retention:
              pending_resolved_days: keep
              decision_log_days: null
              tracking_event_days: 1
            """, source: "fundq.yaml")
        let outcomes = try RetentionJob(connection: db, settings: settings).run(dryRun: false, now: Self.now)
        let removed = Dictionary(uniqueKeysWithValues: outcomes.map { ($0.table, $0.removed) })
        #expect(removed == ["rectifier_decision": 0, "pending": 0, "damaged": 0, "contribution_tracking_event": 2,
                            "banner_impressions_minute": 2, "banner_impressions_hour": 0, "fundq_audit": 1])
    }

    @Test func settingsAreCheckedStrictly() throws {
        let settings = try RetentionSettings.parse("retention:\n  decision_log_days: 30\n  batch_size: 50\n", source: "f")
        #expect(settings.days(for: .decisionLog) == 30)
        #expect(settings.days(for: .resolvedPending) == 90)
        #expect(settings.days(for: .impressionMinutes) == 30)
        #expect(settings.days(for: .impressionHours) == 365)
        #expect(settings.days(for: .damaged) == nil)
        #expect(settings.batchSize == 50)
        #expect(try RetentionSettings.parse("", source: "f") == RetentionSettings())
        for bad in ["retention:\n  pending_days: 3", "retention:\n  decision_log_days: -1", "retention:\n  decision_log_days: true",
                    "retention:\n  batch_size: 0", "retention: 5", "- a list"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try RetentionSettings.parse(bad, source: "f") }
        }
    }

    /// A job SIGKILLed part-way has removed whole batches only; run again,
    /// it finishes, and what is left is exactly what the rules keep.
    @Test(arguments: DatabaseKind.allCases)
    func aKilledJobResumes(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let d = db.dialect
        let old = d.value(Date().addingTimeInterval(-400 * 86_400))
        try db.transaction {
            for i in 0..<6_000 {
                try db.execute("""
                    INSERT INTO pending (date, gateway, order_id, message, resolution, resolved_date) VALUES (?, 'paypal', ?, '{}', ?, ?)
                    """,
                               [old, .text("o\(i)"), i % 3 == 0 ? .null : .text("failed"), i % 3 == 0 ? .null : old])
            }
        }
        try "retention:\n  batch_size: 10\n".write(toFile: f.directory.file("fundq.yaml"), atomically: true, encoding: .utf8)
        let args = ["jobs", "retention", "--config", f.directory.file("fundq.yaml")] + f.flags
        let killed = try FundqProcess.spawn(args, outputIn: f.directory)
        Thread.sleep(forTimeInterval: 0.5)
        killed.send(SIGKILL)
        _ = killed.wait()
        let resumed = try FundqProcess.run(args + ["--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try db.query("SELECT COUNT(*) FROM pending", []).first?.first?.int64 == 2_000)
        #expect(try db.query("SELECT COUNT(*) FROM pending WHERE resolution IS NOT NULL", []).first?.first?.int64 == 0)
        let again = try FundqProcess.run(args + ["--json"])
        let rules = try #require(Self.rules(again.stdout))
        #expect(rules["pending"]?["removed"] as? Int == 0 && rules.values.allSatisfy { ($0["removed"] as? Int ?? 0) == 0 },
                "\(again.stdout)")
    }

    /// `fundq jobs retention --json` output, by table.
    static func rules(_ stdout: String) -> [String: [String: Any]]? {
        guard let root = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
              let rules = root["rules"] as? [[String: Any]] else { return nil }
        return Dictionary(rules.map { ($0["table"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }
}
