import Core
public import Foundation

/// A report filter.
public struct ImpressionFilter: Sendable {
    /// Only minutes at or after this (unix seconds).
    public var since: Int64?
    /// Only this banner.
    public var banner: String?
    /// Only this campaign.
    public var campaign: String?

    /// A filter; nil fields do not filter.
    public init(since: Int64? = nil, banner: String? = nil, campaign: String? = nil) {
        self.since = since
        self.banner = banner
        self.campaign = campaign
    }
}

/// A reject or skip reason with its count and latest sample.
public struct RejectSummary: Sendable, Equatable {
    /// The reason (`invalid_dt`, `bot`, …).
    public var reason: String
    /// `invalid` or `skipped`.
    public var kind: String
    /// Events.
    public var count: Int64
    /// The latest invalid event (nil for skips).
    public var sample: String?
    /// When the sample was kept.
    public var sampleDate: Date?
}

/// Reports, rejects and retention.
extension ImpressionStore {
    private func whereClause(_ filter: ImpressionFilter) -> (String, [SQLValue]) {
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if let since = filter.since { conditions.append("minute >= ?"); parameters.append(minuteValue(since)) }
        if let banner = filter.banner { conditions.append("banner = ?"); parameters.append(.text(banner)) }
        if let campaign = filter.campaign { conditions.append("campaign = ?"); parameters.append(.text(campaign)) }
        return (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "), parameters)
    }

    /// Banners with the most impressions: (banner, campaign, count), most first.
    public func topBanners(_ filter: ImpressionFilter, limit: Int) throws -> [(banner: String, campaign: String, count: Int64)] {
        let (clause, parameters) = whereClause(filter)
        let rows = try connection.query("""
            SELECT banner, campaign, SUM(count) AS total FROM banner_impressions_all\(clause)
            GROUP BY banner, campaign ORDER BY total DESC, banner, campaign LIMIT \(max(1, limit))
            """, parameters)
        return rows.map { (banner: $0[0].string ?? "", campaign: $0[1].string ?? "", count: $0[2].int64 ?? 0) }
    }

    /// Impressions per minute, latest first: (minute in unix seconds, count).
    public func perMinute(_ filter: ImpressionFilter, limit: Int) throws -> [(minute: Int64, count: Int64)] {
        let (clause, parameters) = whereClause(filter)
        let rows = try connection.query("""
            SELECT minute, SUM(count) FROM banner_impressions_all\(clause) GROUP BY minute ORDER BY minute DESC LIMIT \(max(1, limit))
            """, parameters)
        return rows.map { (minute: minute($0[0]), count: $0[1].int64 ?? 0) }
    }

    /// Every count, by key (rolled-up counts under their hour or day).
    public func allCounts() throws -> [ImpressionKey: Int64] {
        let rows = try connection.query(
            "SELECT minute, banner, campaign, project, language, country, device, count FROM banner_impressions_all", [])
        var out: [ImpressionKey: Int64] = [:]
        for r in rows {
            let key = ImpressionKey(minute: minute(r[0]), banner: r[1].string ?? "", campaign: r[2].string ?? "",
                                    project: r[3].string ?? "",
                                    language: r[4].string ?? "", country: r[5].string ?? "", device: r[6].string ?? "")
            out[key, default: 0] += r[7].int64 ?? 0
        }
        return out
    }

    /// Rejects and skips by reason, invalid ones first, most frequent first.
    public func rejects() throws -> [RejectSummary] {
        let rows = try connection.query(
            "SELECT reason, kind, count, sample, sample_date FROM banner_impression_rejects ORDER BY kind, count DESC, reason", [])
        return rows.map {
            RejectSummary(reason: $0[0].string ?? "", kind: $0[1].string ?? "", count: $0[2].int64 ?? 0, sample: $0[3].string,
                          sampleDate: dialect.date($0[4]))
        }
    }

    /// Deletes counts of minutes before `cutoff` (the retention rule
    /// ``RetentionRule/purgedImpressionMinutes``, in bounded batches so that
    /// loaders are not held up); returns the rows deleted.
    public func purge(before cutoff: Date) throws -> Int {
        let minute = Date(timeIntervalSince1970: cutoff.timeIntervalSince1970.rounded(.down))
        return try RetentionJob(connection: connection).apply(.purgedImpressionMinutes, before: minute, dryRun: false).removed
    }
}
