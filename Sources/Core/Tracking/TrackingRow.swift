public import Foundation

/// Where a contribution tracking attempt stands.
public enum TrackingStatus: String, Sendable, CaseIterable {
    /// Events came in; no donation yet.
    case started
    /// A donation is linked (`contribution_id` is set).
    case donated
    /// No donation came within the abandon window (set by `fundq jobs abandon-tracking`).
    case abandoned
}

/// An event that contradicts the row it would be applied to: its
/// `contribution_id` differs from the one already linked.
public struct TrackingConflict: Error, Sendable, Equatable, CustomStringConvertible {
    /// The tracking id.
    public let id: String
    /// The contribution id the row has.
    public let linked: String
    /// The contribution id the event carries.
    public let offered: String

    /// A conflict over `id`.
    public init(id: String, linked: String, offered: String) {
        self.id = id
        self.linked = linked
        self.offered = offered
    }

    /// Why the event was refused.
    public var description: String {
        "contribution tracking \(id) is linked to contribution \(linked); "
            + "an event links it to \(offered), and a contribution_id never changes"
    }
}

/// One row of `contribution_tracking`: the current state of a donation
/// attempt, folded from its events.
///
/// The merge equals applying the events in `ts` order whatever order they
/// arrive in: each column keeps the value of the latest event (by `ts`)
/// that supplied one, ties broken by the larger value; `fieldTimes` records
/// that `ts` per column. `contribution_id` is set once and never changes.
public struct TrackingRow: Sendable, Equatable {
    /// The contribution tracking id.
    public var id: String
    /// The linked donation (`donations` row id).
    public var contributionID: String?
    /// Current value of each known column that any event supplied.
    public var values: [TrackingColumn: String] = [:]
    /// `ts` of the event each column's value came from.
    public var fieldTimes: [TrackingColumn: Int64] = [:]
    /// Earliest and latest event `ts` (microseconds).
    public var firstEventAt: Int64 = .max
    /// Latest event `ts` (microseconds).
    public var lastEventAt: Int64 = .min
    /// Distinct events applied.
    public var eventCount = 0
    /// When the abandon job marked it (kept until a donation is linked).
    public var abandonedAt: Date?

    /// An empty row for `id` (no event yet).
    public init(id: String) { self.id = id }

    /// Applies `event` (which must carry this row's id).
    public mutating func apply(_ event: TrackingEvent) throws(TrackingConflict) {
        if let offered = event.contributionID, let linked = contributionID, offered != linked {
            throw TrackingConflict(id: id, linked: linked, offered: offered)
        }
        if let offered = event.contributionID { contributionID = offered }
        for (column, value) in event.values {
            let current = fieldTimes[column] ?? .min
            if event.ts > current || (event.ts == current && value > (values[column] ?? "")) {
                values[column] = value
                fieldTimes[column] = event.ts
            }
        }
        firstEventAt = min(firstEventAt, event.ts)
        lastEventAt = max(lastEventAt, event.ts)
        eventCount += 1
    }

    /// `started`, `donated` once linked, `abandoned` when the job marked it.
    public var status: TrackingStatus {
        if contributionID != nil { return .donated }
        return abandonedAt == nil ? .started : .abandoned
    }

    /// `utm_source` is `banner.landing_page.payment_method` (the reports
    /// split it with SUBSTRING_INDEX): the first part.
    public var banner: String? { sourcePart(0) }
    /// The second part of `utm_source`.
    public var landingPage: String? { sourcePart(1) }
    /// The last part of `utm_source`, when it has three or more.
    public var paymentMethod: String? { sourcePart(2) }

    private func sourcePart(_ index: Int) -> String? {
        guard let source = values[.utmSource] else { return nil }
        let parts = source.split(separator: ".", omittingEmptySubsequences: false)
        let part: Substring?
        switch index {
        case 0: part = parts.first
        case 1: part = parts.count > 1 ? parts[1] : nil
        default: part = parts.count > 2 ? parts.last : nil
        }
        return part.flatMap { $0.isEmpty ? nil : String($0) }
    }

    /// The legacy `ts` column: when the attempt started, `YYYYMMDDhhmmss` UTC.
    public var legacyTimestamp: String? {
        guard eventCount > 0 else { return nil }
        return UTCDigits.text(seconds: time_t(firstEventAt / 1_000_000), layout: .compact)
    }

    /// `fieldTimes` as the JSON object stored in `field_ts`, keys sorted
    /// (what `JSONValue.serialized()` writes; column names need no escaping).
    var fieldTimesJSON: String {
        var text = "{"
        for column in fieldTimes.keys.sorted() {
            if text.utf8.count > 1 { text += "," }
            text += "\"" + column.rawValue + "\":" + String(fieldTimes[column]!)
        }
        return text + "}"
    }

    /// About how many bytes the row's values take in a statement.
    var approximateBytes: Int { values.values.reduce(256) { $0 + $1.utf8.count } }

    /// The row's state folded from `events` alone, in `ts` order (what
    /// `fundq tracking rebuild` computes). Events that conflict with the
    /// link made by an earlier one are skipped and returned.
    public static func folded(id: String, events: [TrackingEvent]) -> (row: TrackingRow, skipped: [TrackingConflict]) {
        var row = TrackingRow(id: id)
        var skipped: [TrackingConflict] = []
        for event in events.sorted(by: { ($0.ts, $0.hash) < ($1.ts, $1.hash) }) {
            do { try row.apply(event) } catch { skipped.append(error) }
        }
        return (row, skipped)
    }
}
