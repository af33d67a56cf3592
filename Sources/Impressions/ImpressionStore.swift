public import Core
import Foundation
import MariaDBDriver
import SQLiteDriver

/// Where one partition of a batch starts and ends: the batch may be written
/// only while the stored offset is still `from` (nil: no stored offset yet).
public struct PartitionProgress: Sendable, Equatable {
    /// Kafka partition.
    public var partition: Int32
    /// The stored offset the batch was read from.
    public var from: Int64?
    /// The offset after the batch's last message.
    public var to: Int64

    /// Progress of `partition` from `from` to `to`.
    public init(partition: Int32, from: Int64?, to: Int64) {
        self.partition = partition
        self.from = from
        self.to = to
    }

    /// The progress of consecutive batches written as one: each partition
    /// from where the first batch holding it starts to where the last one
    /// ends. Nil when a partition's ranges do not follow on from each other
    /// (then the batches are not consecutive and must be written one by one).
    public static func joined(_ batches: [[PartitionProgress]]) -> [PartitionProgress]? {
        var joined: [Int32: PartitionProgress] = [:]
        for progress in batches {
            for p in progress {
                if let earlier = joined[p.partition] {
                    guard p.from == earlier.to else { return nil }
                    joined[p.partition]?.to = p.to
                } else {
                    joined[p.partition] = p
                }
            }
        }
        return joined.values.sorted { $0.partition < $1.partition }
    }
}

/// The impressions tables on SQLite or MariaDB: increments (never
/// read-modify-write), lookups filled as values appear, rejects by reason,
/// stored Kafka offsets. Not `Sendable`: it owns its connection.
public final class ImpressionStore {
    /// The database.
    public let connection: any SQLConnection
    /// Lookup values known to exist (filled after a commit, never before).
    private var knownLookups: Set<String> = []
    /// Most rows per multi-row statement. A batch is written in statements
    /// of this many rows and then of decreasing powers of two (at most ten
    /// statement texts, each prepared once per connection).
    static let rowsPerStatement = 512

    /// A store over `connection` (migrated).
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    var dialect: SQLDialect { connection.dialect }

    /// A minute as this dialect stores it (unix seconds, or a UTC DATETIME).
    func minuteValue(_ minute: Int64) -> SQLValue {
        dialect == .sqlite ? .integer(minute) : dialect.value(Date(timeIntervalSince1970: Double(minute)))
    }

    /// A minute read back.
    func minute(_ value: SQLValue) -> Int64 {
        dialect == .sqlite ? (value.int64 ?? 0) : Int64(dialect.date(value)?.timeIntervalSince1970 ?? 0)
    }

    /// `INSERT OR IGNORE` / `INSERT IGNORE`.
    var insertIgnore: String { dialect == .sqlite ? "INSERT OR IGNORE" : "INSERT IGNORE" }

    /// Runs `body` in a transaction, again when MariaDB reports a deadlock
    /// or lock wait timeout (the whole transaction was rolled back).
    func retryingTransaction<T>(_ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try connection.transaction(body)
            } catch let error as MariaDBError where error.isTransient && attempt < 8 {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.01 * Double(attempt))
            }
        }
    }

    // MARK: counts, rejects and lookups

    /// Rows in the statement taking the rows from `start` of `total`:
    /// ``rowsPerStatement``, or the largest power of two left.
    static func statementRows(from start: Int, of total: Int) -> Int {
        let left = total - start
        return left >= rowsPerStatement ? rowsPerStatement : 1 << (Int.bitWidth - 1 - left.leadingZeroBitCount)
    }

    /// The upsert adding `rows` rows of counts to `table` (with `file_key` first when staging a file).
    func countsStatement(rows: Int, table: String, staging: Bool) -> String {
        let columns = (staging ? "file_key, " : "") + "minute, banner, campaign, project, language, country, device, count"
        let keyColumns = (staging ? "file_key, " : "") + "minute, banner, campaign, project, language, country, device"
        let tuple = "(" + Array(repeating: "?", count: staging ? 9 : 8).joined(separator: ",") + ")"
        return "INSERT INTO \(table) (\(columns)) VALUES " + Array(repeating: tuple, count: rows).joined(separator: ",")
            + (dialect == .sqlite
                ? " ON CONFLICT (\(keyColumns)) DO UPDATE SET count = count + excluded.count"
                : " ON DUPLICATE KEY UPDATE count = count + VALUES(count)")
    }

    /// Adds a batch's counts to `table` (with `fileKey` first when staging a
    /// file), in packed-key order; returns the lookup values they name.
    /// On an ``SQLiteDatabase`` the packed keys' bytes are bound as they are;
    /// any other connection (MariaDB, or a connection wrapping SQLite) takes
    /// the path through strings.
    @discardableResult
    func addCounts(_ batch: SealedBatch, table: String, fileKey: String? = nil) throws -> LookupValues {
        if let sqlite = connection as? SQLiteDatabase {
            return try addPackedCounts(batch.counts, database: sqlite, table: table, fileKey: fileKey)
        }
        let rows = batch.rows
        try addCounts(rows, table: table, fileKey: fileKey)
        return LookupValues(rows)
    }

    /// Adds `rows` to `table` (with `fileKey` first when staging a file).
    func addCounts(_ rows: [(key: ImpressionKey, count: Int64)], table: String, fileKey: String? = nil) throws {
        var start = 0
        while start < rows.count {
            let n = ImpressionStore.statementRows(from: start, of: rows.count)
            var parameters: [SQLValue] = []
            parameters.reserveCapacity(n * 9)
            for row in rows[start..<start + n] {
                if let fileKey { parameters.append(.text(fileKey)) }
                let k = row.key
                parameters += [minuteValue(k.minute), .text(k.banner), .text(k.campaign), .text(k.project), .text(k.language),
                               .text(k.country), .text(k.device), .integer(row.count)]
            }
            try connection.execute(countsStatement(rows: n, table: table, staging: fileKey != nil), parameters)
            start += n
        }
    }

    /// ``addCounts(_:table:fileKey:)`` on SQLite: each packed key's fields
    /// bound from its bytes (no strings, no parameter arrays: they were a
    /// quarter of the writer's CPU time).
    private func addPackedCounts(_ counts: PackedCounts, database: SQLiteDatabase, table: String,
                                 fileKey: String?) throws -> LookupValues {
        let order = counts.sortedEntries()
        return try counts.arena.withUnsafeBufferPointer { buffer in
            var lookups = LookupValues()
            var previous: UnsafePointer<UInt8>?
            guard let base = buffer.baseAddress else { return lookups }
            var start = 0
            while start < order.count {
                let n = ImpressionStore.statementRows(from: start, of: order.count)
                let statement = try database.prepare(countsStatement(rows: n, table: table, staging: fileKey != nil))
                var position: Int32 = 1
                for entry in order[start..<start + n] {
                    if let fileKey {
                        try statement.bind(.text(fileKey), at: position)
                        position += 1
                    }
                    try ImpressionStore.bind(base + entry.offset, count: entry.count, to: statement, at: &position)
                    lookups.add(base + entry.offset, after: previous)
                    previous = base + entry.offset
                }
                try statement.run()
                start += n
            }
            return lookups
        }
    }

    /// Binds the packed key at `key` (its minute and six fields) and its
    /// `count` as one row's eight parameters from `position` on.
    private static func bind(_ key: UnsafePointer<UInt8>, count: Int64, to statement: SQLiteStatement,
                             at position: inout Int32) throws {
        try statement.bind(.integer(PackedCounts.minute(key)), at: position)
        var at = 8
        for i in Int32(1)...6 {
            let n = Int(key[at])
            try statement.bindText(key + at + 1, count: n, at: position + i)
            at += 1 + n
        }
        try statement.bind(.integer(count), at: position + 7)
        position += 8
    }

    /// Adds a batch's rejects and skips to `table` (with `fileKey` when staging).
    func addRejects(_ batch: SealedBatch, table: String, fileKey: String? = nil) throws {
        let now = dialect.value(Date())
        var tallies: [(reason: String, kind: String, count: Int64, sample: SQLValue, date: SQLValue)] = []
        for (reason, tally) in batch.rejects.sorted(by: { $0.key < $1.key }) {
            tallies.append((reason.rawValue, "invalid", tally.count, .text(tally.sample), now))
        }
        for (reason, count) in batch.skips.sorted(by: { $0.key < $1.key }) {
            tallies.append((reason.rawValue, "skipped", count, .null, .null))
        }
        let prefix = fileKey == nil ? "" : "file_key, "
        let keys = fileKey == nil ? "reason" : "file_key, reason"
        let upsert = dialect == .sqlite
            ? "ON CONFLICT (\(keys)) DO UPDATE SET count = count + excluded.count, sample = COALESCE(excluded.sample, sample), "
                + "sample_date = COALESCE(excluded.sample_date, sample_date)"
            : "ON DUPLICATE KEY UPDATE count = count + VALUES(count), sample = COALESCE(VALUES(sample), sample), "
                + "sample_date = COALESCE(VALUES(sample_date), sample_date)"
        let sql = "INSERT INTO \(table) (\(prefix)reason, kind, count, sample, sample_date) "
            + "VALUES (\(fileKey == nil ? "" : "?, ")?, ?, ?, ?, ?) \(upsert)"
        for t in tallies {
            let head: [SQLValue] = fileKey.map { [.text($0)] } ?? []
            try connection.execute(sql, head + [.text(t.reason), .text(t.kind), .integer(t.count), t.sample, t.date])
        }
    }

    /// Inserts the countries, languages and projects in `values` that are new;
    /// returns the lookup values to remember once the transaction commits.
    func addLookups(_ values: LookupValues) throws -> Set<String> {
        var added: Set<String> = []
        let lookups: [(prefix: String, table: String, column: String, values: Set<String>)] = [
            ("c:", "country", "iso_code", values.countries), ("l:", "language", "iso_code", values.languages),
            ("p:", "project", "project", values.projects),
        ]
        for lookup in lookups {
            for value in lookup.values.filter({ !knownLookups.contains(lookup.prefix + $0) }).sorted() {
                try connection.execute("\(insertIgnore) INTO \(lookup.table) (\(lookup.column)) VALUES (?)", [.text(value)])
                added.insert(lookup.prefix + value)
            }
        }
        return added
    }

    /// Remembers lookup values after their transaction committed.
    func remember(_ lookups: Set<String>) {
        knownLookups.formUnion(lookups)
    }

    // MARK: Kafka offsets

    /// The stored next offset of each partition of `topic`.
    public func storedOffsets(topic: String) throws -> [Int32: Int64] {
        let rows = try connection.query("SELECT kafka_partition, next_offset FROM banner_impression_offsets WHERE topic = ?",
                                        [.text(topic)])
        var out: [Int32: Int64] = [:]
        for row in rows {
            guard let p = row[0].int64, let o = row[1].int64 else { continue }
            out[Int32(p)] = o
        }
        return out
    }

    struct OffsetConflict: Error {}

    /// Writes `batch` and moves each partition's stored offset from
    /// `progress.from` to `progress.to`, in one transaction. Returns false,
    /// writing nothing, when another consumer moved any of those offsets
    /// first (this one lost the partition and must re-read its offsets).
    public func commit(_ batch: ImpressionBatch, topic: String, progress: [PartitionProgress]) throws -> Bool {
        try commit(batch.sealed(), topic: topic, progress: progress)
    }

    /// ``commit(_:topic:progress:)`` for a batch already copied out.
    public func commit(_ batch: SealedBatch, topic: String, progress: [PartitionProgress]) throws -> Bool {
        try commit([batch], topic: topic, progress: progress)
    }

    /// ``commit(_:topic:progress:)`` for consecutive batches in one
    /// transaction (one commit, and one fsync, for all of them); `progress`
    /// is theirs joined (``PartitionProgress/joined(_:)``).
    public func commit(_ batches: [SealedBatch], topic: String, progress: [PartitionProgress]) throws -> Bool {
        do {
            let lookups = try retryingTransaction { () throws -> Set<String> in
                for p in progress.sorted(by: { $0.partition < $1.partition }) {
                    try advance(topic: topic, p)
                }
                var values = LookupValues()
                for batch in batches {
                    values.formUnion(try addCounts(batch, table: "banner_impressions_minute"))
                    try addRejects(batch, table: "banner_impression_rejects")
                }
                return try addLookups(values)
            }
            remember(lookups)
            return true
        } catch is OffsetConflict {
            return false
        }
    }

    private func advance(topic: String, _ p: PartitionProgress) throws {
        let now = dialect.value(Date())
        let changed: Int
        if let from = p.from {
            changed = try connection.execute(
                "UPDATE banner_impression_offsets SET next_offset = ?, updated = ? "
                    + "WHERE topic = ? AND kafka_partition = ? AND next_offset = ?",
                [.integer(p.to), now, .text(topic), .integer(Int64(p.partition)), .integer(from)])
        } else {
            changed = try connection.execute(
                "\(insertIgnore) INTO banner_impression_offsets (topic, kafka_partition, next_offset, updated) VALUES (?, ?, ?, ?)",
                [.text(topic), .integer(Int64(p.partition)), .integer(p.to), now])
        }
        guard changed == 1 else { throw OffsetConflict() }
    }
}

/// The countries, languages and projects a batch's counts name (for the lookup tables).
struct LookupValues {
    var countries = Set<String>()
    var languages = Set<String>()
    var projects = Set<String>()

    init() {}

    /// Adds `other`'s values.
    mutating func formUnion(_ other: LookupValues) {
        countries.formUnion(other.countries)
        languages.formUnion(other.languages)
        projects.formUnion(other.projects)
    }

    init(_ rows: [(key: ImpressionKey, count: Int64)]) {
        for row in rows {
            countries.insert(row.key.country)
            languages.insert(row.key.language)
            projects.insert(row.key.project)
        }
    }

    /// Adds the values of the packed key at `key`, comparing each with
    /// the previous key's (keys come sorted: a string is made only where
    /// the value changed).
    mutating func add(_ key: UnsafePointer<UInt8>, after previous: UnsafePointer<UInt8>?) {
        LookupValues.insert(key, previous, field: 2, into: &projects)
        LookupValues.insert(key, previous, field: 3, into: &languages)
        LookupValues.insert(key, previous, field: 4, into: &countries)
    }

    private static func insert(_ key: UnsafePointer<UInt8>, _ previous: UnsafePointer<UInt8>?, field: Int, into set: inout Set<String>) {
        let value = PackedCounts.field(key, field)
        if let previous {
            let last = PackedCounts.field(previous, field)
            if last.count == value.count, KeyCounter.same(last.baseAddress!, value.baseAddress!, value.count) { return }
        }
        set.insert(String(decoding: value, as: UTF8.self))
    }
}
