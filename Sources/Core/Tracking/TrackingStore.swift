public import Foundation

/// What the store did with one event of a batch.
public enum TrackingOutcome: Sendable, Equatable {
    /// Stored in the event table and merged into its row.
    case applied
    /// Already stored (a redelivery, or a producer's retry): nothing changed.
    case duplicate
    /// Refused: it contradicts the stored state (the reason says how).
    case refused(String)
}

/// One stored event, as `fundq tracking show` lists it.
public struct StoredTrackingEvent: Sendable {
    /// Its `ts` (microseconds).
    public var ts: Int64
    /// When the consumer stored it.
    public var receivedAt: Date?
    /// The message exactly as received, envelope included.
    public var message: [UInt8]
}

/// The tables `contribution_tracking` (the current state per attempt) and
/// `contribution_tracking_event` (every event as received), on SQLite or
/// MariaDB. The tracking consumer is their only writer.
///
/// A batch is applied with a handful of statements: the rows are read
/// (locked on MariaDB, in id order) and merged in memory, the new events
/// are inserted and the rows written with multi-row statements. Run
/// ``apply(_:receivedAt:)`` inside a transaction.
public final class TrackingStore {
    /// The connection used for every statement.
    public let connection: any SQLConnection

    /// A store on `connection` (its schema must be migrated).
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    /// Most ids per `IN (…)` list, and most rows per multi-row statement:
    /// a batch of 1,000 events is one statement per table, not five.
    static let chunk = 1_000
    /// Most message bytes per multi-row INSERT of events, well under
    /// MariaDB's default `max_allowed_packet` (16 MiB) whatever the bodies.
    static let statementBytes = 4 << 20
    static let columns = TrackingColumn.allCases
    static let rowColumns = ["id", "contribution_id"] + columns.map(\.rawValue) + [
        "ts", "banner", "landing_page", "payment_method", "first_event_at", "last_event_at", "event_count", "status",
        "abandoned_at", "field_ts",
    ]

    /// Applies `events` (validated, with their message bodies) in batch
    /// order: a stored event is a duplicate; an event whose
    /// `contribution_id` contradicts its row, or is linked to another
    /// attempt already, is refused; the rest are stored and merged.
    public func apply(_ events: [(event: TrackingEvent, body: [UInt8])], receivedAt: Date = Date()) throws -> [TrackingOutcome] {
        let ids = Array(Set(events.map(\.event.id))).sorted()
        var rows = try self.rows(ids: ids, locking: true)
        let existing = Set(rows.keys)
        // An event is stored in the same transaction as its row: ids without a row have none.
        var stored = try eventKeys(ids: existing.sorted())
        let offered = Set(events.compactMap(\.event.contributionID))
        var owners = try contributionOwners(Array(offered))
        var outcomes: [TrackingOutcome] = []
        var fresh: [(event: TrackingEvent, body: [UInt8])] = []
        var dirty = Set<String>()
        for item in events {
            let e = item.event
            let key = EventKey(id: e.id, ts: e.ts, hash: e.hash)
            if stored.contains(key) { outcomes.append(.duplicate); continue }
            if let cid = e.contributionID, let owner = owners[cid], owner != e.id {
                outcomes.append(.refused("contribution \(cid) is already linked to contribution tracking \(owner); "
                    + "an event links it to \(e.id)"))
                continue
            }
            var row = rows[e.id] ?? TrackingRow(id: e.id)
            do { try row.apply(e) } catch { outcomes.append(.refused(error.description)); continue }
            rows[e.id] = row
            stored.insert(key)
            if let cid = e.contributionID { owners[cid] = e.id }
            dirty.insert(e.id)
            fresh.append(item)
            outcomes.append(.applied)
        }
        try insertEvents(fresh, receivedAt: receivedAt)
        try write(dirty.sorted().compactMap { rows[$0] }, existing: existing)
        return outcomes
    }

    struct EventKey: Hashable {
        let id: String
        let ts: Int64
        let hash: Int64
    }

    private var forUpdate: String { connection.dialect == .mariadb ? " FOR UPDATE" : "" }

    private func chunks<T>(_ items: [T], _ size: Int = TrackingStore.chunk) -> [ArraySlice<T>] {
        stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
    }

    /// The rows for `ids` (locked for update on MariaDB when `locking`).
    public func rows(ids: [String], locking: Bool = false) throws -> [String: TrackingRow] {
        var found: [String: TrackingRow] = [:]
        for part in chunks(ids) {
            let sql = "SELECT \(Self.rowColumns.joined(separator: ", ")) FROM contribution_tracking "
                + "WHERE id IN (\(SQLValue.placeholders(part.count)))"
                + (locking ? forUpdate : "")
            for values in try connection.query(sql, part.map { .text($0) }) {
                let row = decode(values)
                found[row.id] = row
            }
        }
        return found
    }

    private func eventKeys(ids: [String]) throws -> Set<EventKey> {
        var keys = Set<EventKey>()
        for part in chunks(ids) {
            let rows = try connection.query(
                "SELECT contribution_tracking_id, ts, event_hash FROM contribution_tracking_event "
                    + "WHERE contribution_tracking_id IN (\(SQLValue.placeholders(part.count)))",
                part.map { .text($0) })
            for r in rows { keys.insert(EventKey(id: r[0].string ?? "", ts: r[1].int64 ?? 0, hash: r[2].int64 ?? 0)) }
        }
        return keys
    }

    private func contributionOwners(_ contributionIDs: [String]) throws -> [String: String] {
        var owners: [String: String] = [:]
        for part in chunks(contributionIDs) {
            let rows = try connection.query(
                "SELECT contribution_id, id FROM contribution_tracking WHERE contribution_id IN (\(SQLValue.placeholders(part.count)))",
                part.map { .text($0) })
            for r in rows { if let cid = r[0].string, let id = r[1].string { owners[cid] = id } }
        }
        return owners
    }

    private func insertEvents(_ events: [(event: TrackingEvent, body: [UInt8])], receivedAt: Date) throws {
        let received = connection.dialect.value(receivedAt)
        func index(_ event: TrackingEvent, _ name: String) -> SQLValue {
            // The first 255 characters (the column's size); at most 255 UTF-8 bytes are at most 255 characters.
            .text(event.members[name]?.scalarText.map {
                $0.utf8.count <= 255 ? $0 : String(String.UnicodeScalarView($0.unicodeScalars.prefix(255)))
            })
        }
        for part in chunks(events, bytes: { $0.body.count }) {
            var parameters: [SQLValue] = []
            parameters.reserveCapacity(part.count * 8)
            for (event, body) in part {
                let enqueued = event.members["source_enqueued_time"]?.scalarText.flatMap { Int64($0) }
                parameters += [.text(event.id), .integer(event.ts), .integer(event.hash), received,
                               index(event, "source_name"), index(event, "source_host"), enqueued.map { .integer($0) } ?? .null,
                               .text(String(decoding: body, as: UTF8.self))]
            }
            try connection.execute("""
                INSERT INTO contribution_tracking_event (contribution_tracking_id, ts, event_hash, received_at, source_name, source_host,
                  source_enqueued_time, message) VALUES \
                \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: part.count).joined(separator: ", "))
                """, parameters)
        }
    }

    /// `items` in runs of at most ``chunk`` whose `bytes` add up to at most
    /// ``statementBytes`` (an item larger than that alone).
    private func chunks<T>(_ items: [T], bytes: (T) -> Int) -> [ArraySlice<T>] {
        var parts: [ArraySlice<T>] = []
        var start = 0, size = 0
        for (i, item) in items.enumerated() {
            let itemBytes = bytes(item)
            if i > start, i - start == Self.chunk || size + itemBytes > Self.statementBytes {
                parts.append(items[start..<i])
                start = i
                size = 0
            }
            size += itemBytes
        }
        if start < items.count { parts.append(items[start...]) }
        return parts
    }

    /// Writes `rows`: plain INSERTs for new ones (so that a contribution id
    /// linked elsewhere fails loudly instead of updating another row),
    /// upserts keyed on the id for existing ones.
    func write(_ rows: [TrackingRow], existing: Set<String>) throws {
        let columns = Self.rowColumns.joined(separator: ", ")
        let tuple = "(" + SQLValue.placeholders(Self.rowColumns.count) + ")"
        let updates = Self.rowColumns.dropFirst().map {
            connection.dialect == .mariadb ? "\($0) = VALUES(\($0))" : "\($0) = excluded.\($0)"
        }.joined(separator: ", ")
        let conflict = connection.dialect == .mariadb ? " ON DUPLICATE KEY UPDATE \(updates)" : " ON CONFLICT (id) DO UPDATE SET \(updates)"
        for (isNew, group) in [(true, rows.filter { !existing.contains($0.id) }), (false, rows.filter { existing.contains($0.id) })] {
            for part in chunks(group, bytes: \.approximateBytes) {
                let sql = "INSERT INTO contribution_tracking (\(columns)) VALUES "
                    + Array(repeating: tuple, count: part.count).joined(separator: ", ") + (isNew ? "" : conflict)
                try connection.execute(sql, part.flatMap(encode))
            }
        }
    }

    private func encode(_ row: TrackingRow) -> [SQLValue] {
        let d = connection.dialect
        var values: [SQLValue] = [.text(row.id), .text(row.contributionID)]
        for column in Self.columns {
            let value = row.values[column]
            if case .flag = column.kind {
                values.append(value.flatMap { Int64($0) }.map { .integer($0) } ?? .null)
            } else {
                values.append(.text(value))
            }
        }
        values += [.text(row.legacyTimestamp), .text(row.banner), .text(row.landingPage), .text(row.paymentMethod),
                   d.value(TrackingEvent.date(micros: row.firstEventAt)), d.value(TrackingEvent.date(micros: row.lastEventAt)),
                   .int(row.eventCount), .text(row.status.rawValue), d.value(row.abandonedAt), .text(row.fieldTimesJSON)]
        return values
    }

    private func decode(_ v: [SQLValue]) -> TrackingRow {
        let d = connection.dialect
        var row = TrackingRow(id: v[0].string ?? "")
        row.contributionID = v[1].string
        for (offset, column) in Self.columns.enumerated() { row.values[column] = v[2 + offset].string }
        let base = 2 + Self.columns.count
        row.firstEventAt = d.date(v[base + 4]).map(TrackingEvent.micros) ?? 0
        row.lastEventAt = d.date(v[base + 5]).map(TrackingEvent.micros) ?? 0
        row.eventCount = Int(v[base + 6].int64 ?? 0)
        row.abandonedAt = d.date(v[base + 8])
        if let json = v[base + 9].bytes, case .object(let times)? = try? JSONParser().parse(json) {
            for (name, value) in times {
                if let column = TrackingColumn(rawValue: name), let ts = value.scalarText.flatMap({ Int64($0) }) {
                    row.fieldTimes[column] = ts
                }
            }
        }
        return row
    }
}

extension TrackingStore {
    /// The row for `id`.
    public func fetch(id: String) throws -> TrackingRow? {
        try rows(ids: [id])[id]
    }

    /// Every stored event of `id`, in `ts` order.
    public func events(id: String) throws -> [StoredTrackingEvent] {
        try connection.query(
            "SELECT ts, received_at, message FROM contribution_tracking_event WHERE contribution_tracking_id = ? ORDER BY ts, id",
            [.text(id)]).map {
                StoredTrackingEvent(ts: $0[0].int64 ?? 0, receivedAt: connection.dialect.date($0[1]), message: $0[2].bytes ?? [])
            }
    }

    /// Rows whose last event is at or after `since`, of `utmCampaign` when
    /// given, most recent first.
    public func list(since: Date? = nil, utmCampaign: String? = nil, limit: Int = 100) throws -> [TrackingRow] {
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if let since { conditions.append("last_event_at >= ?"); parameters.append(connection.dialect.value(since)) }
        if let utmCampaign { conditions.append("utm_campaign = ?"); parameters.append(.text(utmCampaign)) }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT \(Self.rowColumns.joined(separator: ", ")) FROM contribution_tracking\(filter) "
            + "ORDER BY last_event_at DESC, id LIMIT \(max(0, limit))"
        return try connection.query(sql, parameters).map(decode)
    }

    /// Every row, in id order (for tests and comparisons).
    public func allRows() throws -> [TrackingRow] {
        try connection.query("SELECT \(Self.rowColumns.joined(separator: ", ")) FROM contribution_tracking ORDER BY id", []).map(decode)
    }

    /// Rows per status.
    public func statusCounts() throws -> [TrackingStatus: Int] {
        var counts: [TrackingStatus: Int] = [:]
        for r in try connection.query("SELECT status, COUNT(*) FROM contribution_tracking GROUP BY status", []) {
            if let status = r[0].string.flatMap(TrackingStatus.init(rawValue:)) { counts[status] = Int(r[1].int64 ?? 0) }
        }
        return counts
    }

    /// How many events are stored.
    public func eventCount() throws -> Int {
        Int(try connection.query("SELECT COUNT(*) FROM contribution_tracking_event", []).first?.first?.int64 ?? 0)
    }

    /// Marks as abandoned every `started` row whose last event is older
    /// than `lastEventBefore` (no donation linked since). Returns how many.
    @discardableResult
    public func abandon(lastEventBefore cutoff: Date, at now: Date = Date()) throws -> Int {
        let d = connection.dialect
        return try connection.execute(
            "UPDATE contribution_tracking SET status = ?, abandoned_at = ? "
                + "WHERE status = ? AND contribution_id IS NULL AND last_event_at < ?",
            [.text(TrackingStatus.abandoned.rawValue), d.value(now), .text(TrackingStatus.started.rawValue), d.value(cutoff)])
    }

    /// What a rebuild found.
    public struct RebuildSummary: Sendable, Equatable {
        /// Rows folded from the event table.
        public var rows = 0
        /// Rows whose stored state differed from the fold (and were rewritten).
        public var changed = 0
        /// Stored events that could not be read or applied (reported, skipped).
        public var skipped = 0

        /// A summary with these counts.
        public init(rows: Int = 0, changed: Int = 0, skipped: Int = 0) {
            self.rows = rows
            self.changed = changed
            self.skipped = skipped
        }
    }

    /// Recomputes every row from the event table alone (each id's events
    /// folded in `ts` order), keeping the abandon job's mark, and rewrites
    /// the rows that differ. `batchSize` ids per transaction.
    public func rebuild(batchSize: Int = 500) throws -> RebuildSummary {
        var summary = RebuildSummary()
        var after = ""
        while true {
            let ids = try connection.query(
                "SELECT DISTINCT contribution_tracking_id FROM contribution_tracking_event WHERE contribution_tracking_id > ? "
                    + "ORDER BY contribution_tracking_id LIMIT \(max(1, batchSize))",
                [.text(after)]).compactMap { $0[0].string }
            guard let last = ids.last else { return summary }
            after = last
            try connection.transaction {
                let current = try rows(ids: ids, locking: true)
                var events: [String: [TrackingEvent]] = [:]
                for part in chunks(ids) {
                    let stored = try connection.query(
                        "SELECT message FROM contribution_tracking_event WHERE contribution_tracking_id IN ("
                            + SQLValue.placeholders(part.count) + ")",
                        part.map { .text($0) })
                    for r in stored {
                        guard let members = try? JSONParser().parse(r[0].bytes ?? []).objectValue,
                              let event = try? TrackingEvent(members: members) else { summary.skipped += 1; continue }
                        events[event.id, default: []].append(event)
                    }
                }
                var changed: [TrackingRow] = []
                for id in ids {
                    var (row, conflicts) = TrackingRow.folded(id: id, events: events[id] ?? [])
                    summary.skipped += conflicts.count
                    guard row.eventCount > 0 else { continue }
                    summary.rows += 1
                    row.abandonedAt = current[id]?.abandonedAt
                    if current[id] != row { changed.append(row) }
                }
                summary.changed += changed.count
                try write(changed, existing: Set(current.keys))
            }
        }
    }
}
