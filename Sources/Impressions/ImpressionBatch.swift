import Foundation

/// One row of `banner_impressions_minute`: what is counted per minute.
public struct ImpressionKey: Hashable, Sendable, Comparable {
    /// Start of the minute, unix seconds.
    public var minute: Int64
    /// Banner name.
    public var banner: String
    /// Campaign name.
    public var campaign: String
    /// Project.
    public var project: String
    /// Language.
    public var language: String
    /// Country code.
    public var country: String
    /// Device.
    public var device: String

    /// A key from its fields.
    public init(minute: Int64, banner: String, campaign: String, project: String, language: String, country: String, device: String) {
        self.minute = minute
        self.banner = banner
        self.campaign = campaign
        self.project = project
        self.language = language
        self.country = country
        self.device = device
    }

    public static func < (a: Self, b: Self) -> Bool {
        if a.minute != b.minute { return a.minute < b.minute }
        if a.banner != b.banner { return a.banner < b.banner }
        if a.campaign != b.campaign { return a.campaign < b.campaign }
        if a.project != b.project { return a.project < b.project }
        if a.language != b.language { return a.language < b.language }
        if a.country != b.country { return a.country < b.country }
        return a.device < b.device
    }
}

/// Rejects of one reason in a batch: how many, and the latest sample.
public struct RejectTally: Sendable, Equatable {
    /// Events refused for this reason.
    public var count: Int64
    /// The latest one (cut to ``ImpressionBatch/sampleBytes``).
    public var sample: String
}

/// A batch's contents copied out as values, to hand to another thread.
public struct SealedBatch: Sendable {
    /// The counts as packed keys (copied, not unpacked: sealing happens on
    /// the reading thread, unpacking and sorting on the writer's).
    var counts: PackedCounts
    /// Counts in the order writers take them (packed-key order), unpacked at each call.
    public var rows: [(key: ImpressionKey, count: Int64)] { counts.rows() }
    /// Invalid events by reason.
    public var rejects: [ImpressionRejectReason: RejectTally]
    /// Skipped events by reason.
    public var skips: [ImpressionSkipReason: Int64]
    /// Events in the batch.
    public var events: Int
    /// Distinct keys counted (rows to write).
    public var keys: Int { counts.entries.count }
}

/// Counts aggregated in memory from many events, written in one transaction.
/// Not `Sendable`: it owns a scanner; one per task.
public final class ImpressionBatch {
    /// Longest sample kept per reject reason, in bytes.
    public static let sampleBytes = 2_000
    private let scanner: ImpressionScanner
    private let counts = KeyCounter()
    /// Invalid events by reason.
    public private(set) var rejects: [ImpressionRejectReason: RejectTally] = [:]
    /// Valid events not counted, by reason.
    public private(set) var skips: [ImpressionSkipReason: Int64] = [:]
    /// Events added (counted, skipped or rejected).
    public private(set) var events = 0

    /// An empty batch.
    public init(scanner: ImpressionScanner = ImpressionScanner()) {
        self.scanner = scanner
    }

    /// Adds one event (a JSON object, without its line end).
    public func add(_ event: UnsafeRawBufferPointer) {
        add(scan(event), event)
    }

    /// What `event` counts for; a counted event's fields borrow from it
    /// (and from the scanner) until the next scan.
    func scan(_ event: UnsafeRawBufferPointer) -> ScanResult {
        guard let base = event.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .rejected(.malformedJSON) }
        return scanner.scan(base, event.count)
    }

    /// Adds an event already scanned (by this batch's scanner or another's, before its next scan).
    func add(_ result: ScanResult, _ event: UnsafeRawBufferPointer) {
        events += 1
        switch result {
        case .counted(let fields):
            counts.add(fields)
        case .skipped(let reason):
            skips[reason, default: 0] += 1
        case .rejected(let reason):
            reject(reason, event)
        }
    }

    /// Adds one event given as bytes.
    public func add(_ event: [UInt8]) {
        event.withUnsafeBytes { add($0) }
    }

    /// Counts an event too long to keep as oversize, with its first bytes as the sample.
    public func addOversize(_ firstBytes: UnsafeRawBufferPointer) {
        events += 1
        reject(.oversizeEvent, firstBytes)
    }

    private func reject(_ reason: ImpressionRejectReason, _ event: UnsafeRawBufferPointer) {
        let cut = UnsafeRawBufferPointer(rebasing: event[0..<min(event.count, ImpressionBatch.sampleBytes)])
        let sample = String(decoding: cut, as: UTF8.self)
        rejects[reason, default: RejectTally(count: 0, sample: sample)].count += 1
        rejects[reason]?.sample = sample
    }

    /// The counts, sorted by key (the order rows are written in, so that
    /// concurrent writers take row locks in the same order).
    public var rows: [(key: ImpressionKey, count: Int64)] {
        var out: [(key: ImpressionKey, count: Int64)] = []
        out.reserveCapacity(counts.count)
        counts.forEach { out.append((key: $0, count: $1)) }
        return out.sorted { $0.key < $1.key }
    }

    /// The contents as values (the batch itself is left as it is).
    public func sealed() -> SealedBatch {
        SealedBatch(counts: counts.packed(), rejects: rejects, skips: skips, events: events)
    }

    /// Distinct keys held.
    public var keyCount: Int { counts.count }

    /// Whether nothing has been added.
    public var isEmpty: Bool { events == 0 }

    /// Forgets everything added.
    public func clear() {
        counts.removeAll()
        rejects.removeAll()
        skips.removeAll()
        events = 0
    }
}
