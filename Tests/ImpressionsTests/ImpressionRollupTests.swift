import Core
import Foundation
import FundqTestSupport
import Impressions
import Testing

/// Impressions per minute rolled up into hours and days by the retention
/// job (issue 13): the same totals, the LEGACY views still answering.
@Suite("Impression rollups")
struct ImpressionRollupTests {
    /// A Monday 00:00 UTC, 2026-05-18 (whole days and hours from here).
    static let now = Date(timeIntervalSince1970: 1_779_062_400 + 6 * 3_600 + 17 * 60)
    static let keys: [(banner: String, country: String, device: String)] =
        ["B1", "B2"].flatMap { b in ["GB", "DE"].flatMap { c in ["desktop", "mobile"].map { (b, c, $0) } } }

    static func minuteValue(_ seconds: Int64, _ d: SQLDialect) -> SQLValue {
        d == .sqlite ? .integer(seconds) : d.value(Date(timeIntervalSince1970: Double(seconds)))
    }

    static func insert(_ db: any SQLConnection, minute: Int64, key: Int, count: Int64) throws {
        let k = keys[key]
        try db.execute("""
            INSERT INTO banner_impressions_minute (minute, banner, campaign, project, language, country, device, count)
            VALUES (?, ?, 'C', 'wikipedia', 'en', ?, ?, ?)
            """, [minuteValue(minute, db.dialect), .text(k.banner), .text(k.country), .text(k.device), .integer(count)])
    }

    /// 150 minutes from 23:00 UTC (across an hour and a day boundary) at
    /// each age: 40 days (to days), 32 days (to hours), 3 days (stays).
    static func seed(_ db: any SQLConnection) throws {
        try db.executeScript("""
            INSERT INTO project (project) VALUES ('wikipedia');
            INSERT INTO language (iso_code) VALUES ('en');
            INSERT INTO country (iso_code) VALUES ('GB');
            INSERT INTO country (iso_code) VALUES ('DE')
            """)
        let today = Int64(now.timeIntervalSince1970) / 86_400 * 86_400
        try db.transaction {
            for days in [40, 32, 3] as [Int64] {
                let start = today - days * 86_400 - 3_600
                for i in 0..<150 as Range<Int64> {
                    for key in keys.indices { try insert(db, minute: start + i * 60, key: key, count: (i * 7 + Int64(key)) % 13 + 1) }
                }
            }
        }
    }

    /// Totals grouped by `group` (SQL over `source`), as text rows.
    static func totals(_ db: any SQLConnection, _ sql: String) throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in try db.query(sql, []) {
            out[row.dropLast().map { $0.string ?? "NULL" }.joined(separator: "|"), default: 0] += row.last?.int64 ?? 0
        }
        return out
    }

    static func day(_ column: String, _ d: SQLDialect) -> String {
        d == .sqlite ? "CAST(\(column) / 86400 AS INTEGER)" : "DATE(\(column))"
    }

    static func views(_ db: any SQLConnection) throws -> [[String: Int64]] {
        let d = db.dialect
        return [
            try totals(db, "SELECT banner, country, device, SUM(count) FROM banner_impressions_all GROUP BY 1, 2, 3"),
            try totals(db, "SELECT banner, country, \(day("minute", d)), SUM(count) FROM banner_impressions_all GROUP BY 1, 2, 3"),
            try totals(db, "SELECT utm_source, country, SUM(counts) FROM banner_impressions GROUP BY 1, 2"),
            try totals(db, "SELECT banner, country_id, SUM(count) FROM bannerimpressions GROUP BY 1, 2"),
        ]
    }

    @Test(arguments: DatabaseKind.allCases)
    func rollupsKeepEveryTotalAndTheLegacyViewsAnswer(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        try Self.seed(db)
        let store = ImpressionStore(connection: db)
        let before = try Self.views(db)
        let topBefore = try store.topBanners(ImpressionFilter(), limit: 10).map { "\($0.banner) \($0.count)" }
        // The 32-day-old minutes, summed per hour: what the hour table must hold after.
        let hourOf = kind == .sqlite ? "minute / 3600 * 3600" : "DATE_FORMAT(minute, '%Y-%m-%d %H:00:00')"
        let window = [33.0, 31.0].map { Self.minuteValue(Int64(Self.now.timeIntervalSince1970 - $0 * 86_400), db.dialect) }
        let perHour = try db.query("""
            SELECT banner, country, device, \(hourOf), SUM(count) FROM banner_impressions_minute
            WHERE minute >= ? AND minute < ? GROUP BY 1, 2, 3, 4
            """, window).map { $0.map { $0.string ?? "" } }
        var settings = RetentionSettings()
        settings.days["impressions_hour_days"] = 35
        let job = RetentionJob(connection: db, settings: settings)
        let dry = try job.run(dryRun: true, now: Self.now)
        #expect(dry.first { $0.table == "banner_impressions_minute" }?.removed == 2 * 150 * Self.keys.count)
        #expect(try Self.views(db) == before)

        let done = try job.run(dryRun: false, now: Self.now)
        #expect(done.first { $0.table == "banner_impressions_minute" }?.removed == 2 * 150 * Self.keys.count)
        #expect(done.first { $0.table == "banner_impressions_hour" }?.removed == 3 * Self.keys.count, "the 40-day-old hours")
        #expect(try db.query("SELECT COUNT(*) FROM banner_impressions_minute", []).first?.first?.int64 == Int64(150 * Self.keys.count))
        #expect(try db.query("SELECT COUNT(*) FROM banner_impressions_hour", []).first?.first?.int64 == Int64(3 * Self.keys.count))
        #expect(try db.query("SELECT COUNT(*) FROM banner_impressions_day", []).first?.first?.int64 == Int64(2 * Self.keys.count))
        #expect(try Self.views(db) == before)
        #expect(try store.topBanners(ImpressionFilter(), limit: 10).map { "\($0.banner) \($0.count)" } == topBefore)
        let hours = try db.query("""
            SELECT banner, country, device, \(kind == .sqlite ? "hour" : "DATE_FORMAT(hour, '%Y-%m-%d %H:00:00')"), count
            FROM banner_impressions_hour
            """, []).map { $0.map { $0.string ?? "" } }
        #expect(Set(hours) == Set(perHour) && hours.count == perHour.count && perHour.count == 3 * Self.keys.count)

        let again = try job.run(dryRun: false, now: Self.now)
        #expect(again.allSatisfy { $0.removed == 0 }, "idempotent")
        #expect(try Self.views(db) == before)

        // A count arriving late for a minute already rolled up into a day is added, once.
        let late = Int64(Self.now.timeIntervalSince1970) / 86_400 * 86_400 - 40 * 86_400 + 600
        try Self.insert(db, minute: late, key: 0, count: 1_000)
        _ = try job.run(dryRun: false, now: Self.now)
        let after = try Self.views(db)
        let totalBefore: Int64 = before[0].values.reduce(0, +)
        let totalAfter: Int64 = after[0].values.reduce(0, +)
        #expect(totalAfter == totalBefore + 1_000)
        #expect(try db.query("SELECT COUNT(*) FROM banner_impressions_minute", []).first?.first?.int64 == Int64(150 * Self.keys.count))
    }
}
