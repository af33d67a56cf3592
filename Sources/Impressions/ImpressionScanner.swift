import Foundation

/// A run of bytes inside the event being scanned (or in the scanner's
/// scratch space, or a static default). Valid only during one scan.
struct ByteSpan {
    var base: UnsafePointer<UInt8>
    var count: Int

    init(_ base: UnsafePointer<UInt8>, _ count: Int) {
        self.base = base
        self.count = count
    }

    init(_ text: StaticString) {
        base = text.utf8Start
        count = text.utf8CodeUnitCount
    }

    /// Compared inline, a byte at a time: the texts compared are a few bytes
    /// long and most differ at the first, where a call to `memcmp` per key
    /// of every event cost more than the comparison.
    @inline(__always)
    func equals(_ text: StaticString) -> Bool {
        guard count == text.utf8CodeUnitCount else { return false }
        let other = text.utf8Start
        for i in 0..<count where base[i] != other[i] { return false }
        return true
    }

    var string: String { String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self) }
}

/// A field value as found in the event: only what the loader needs.
enum RawField {
    case absent
    case string(ByteSpan)
    case number(ByteSpan)
    case bool(Bool)
    case other
}

/// The fields the loader reads, by their place in the event.
struct RawEvent {
    var dt = RawField.absent
    var isBot = RawField.absent
    var banner = RawField.absent
    var campaign = RawField.absent
    var country = RawField.absent
    var uselang = RawField.absent
    var project = RawField.absent
    var device = RawField.absent
    var statusCode = RawField.absent
    var result = RawField.absent
    var sampleRate = RawField.absent
}

/// A counted event whose text fields point into the scanned bytes.
struct ImpressionFields {
    var minute: Int64
    var weight: Int64
    var banner: ByteSpan
    var campaign: ByteSpan
    var project: ByteSpan
    var language: ByteSpan
    var country: ByteSpan
    var device: ByteSpan

    var copied: ScannedImpression {
        ScannedImpression(minute: minute, weight: weight, banner: banner.string, campaign: campaign.string,
                          project: project.string, language: language.string, country: country.string, device: device.string)
    }
}

/// What one scan decided, with borrowed fields for a counted event.
enum ScanResult {
    case counted(ImpressionFields)
    case skipped(ImpressionSkipReason)
    case rejected(ImpressionRejectReason)
}

/// A single-pass scanner for banner impression events, built for the job:
/// it checks the whole event is one valid JSON object (syntax, UTF-8,
/// escapes, nesting depth, no duplicate copies of the fields it reads) but
/// builds no values, keeping only the byte ranges of the eleven fields the
/// loader needs. About ten times faster than a general decoder (see `fundq
/// bench impressions`). Not `Sendable`: it owns scratch space; one per task.
public final class ImpressionScanner {
    /// Longest event accepted, in bytes.
    public let maximumEventBytes: Int
    private let scratch: UnsafeMutablePointer<UInt8>

    /// A scanner refusing events longer than `maximumEventBytes`.
    public init(maximumEventBytes: Int = 64 * 1024) {
        self.maximumEventBytes = maximumEventBytes
        scratch = .allocate(capacity: maximumEventBytes + 8)
    }

    deinit { scratch.deallocate() }

    /// Classifies one event (the slow form, copying fields out: for tests
    /// and tools; the loader uses the borrowing form).
    public func classify(_ bytes: [UInt8]) -> ImpressionOutcome {
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return .rejected(.malformedJSON) }
            switch scan(base, buffer.count) {
            case .counted(let fields): return .counted(fields.copied)
            case .skipped(let reason): return .skipped(reason)
            case .rejected(let reason): return .rejected(reason)
            }
        }
    }

    /// Scans `count` bytes at `base`; a counted event's fields borrow from
    /// them (and from the scratch space) until the next scan.
    func scan(_ base: UnsafePointer<UInt8>, _ count: Int) -> ScanResult {
        guard count <= maximumEventBytes else { return .rejected(.oversizeEvent) }
        var cursor = EventCursor(base: base, end: count, scratch: scratch)
        guard let raw = cursor.parseEvent() else { return .rejected(.malformedJSON) }
        return ImpressionRules.decide(raw)
    }
}

/// The JSON walk behind ``ImpressionScanner``.
struct EventCursor {
    let base: UnsafePointer<UInt8>
    let end: Int
    let scratch: UnsafeMutablePointer<UInt8>
    var index = 0
    var scratchUsed = 0
    var event = RawEvent()
    static let maximumDepth = 64

    init(base: UnsafePointer<UInt8>, end: Int, scratch: UnsafeMutablePointer<UInt8>) {
        self.base = base
        self.end = end
        self.scratch = scratch
    }

    /// Where a field was found: which object we are in.
    enum Level { case top, userAgent, event }

    mutating func parseEvent() -> RawEvent? {
        skipWhitespace()
        guard index < end, base[index] == UInt8(ascii: "{") else { return nil }
        guard parseObject(.top) else { return nil }
        skipWhitespace()
        return index == end ? event : nil
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < end {
            let c = base[index]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            index += 1
        }
    }

    /// Parses an object whose `{` is at `index`, capturing the fields of `level`.
    mutating func parseObject(_ level: Level) -> Bool {
        index += 1
        skipWhitespace()
        if index < end, base[index] == UInt8(ascii: "}") { index += 1; return true }
        var seen: UInt16 = 0
        while true {
            guard index < end, base[index] == UInt8(ascii: "\""), let key = parseString() else { return false }
            skipWhitespace()
            guard index < end, base[index] == UInt8(ascii: ":") else { return false }
            index += 1
            skipWhitespace()
            guard parseMember(key, level: level, seen: &seen) else { return false }
            skipWhitespace()
            guard index < end else { return false }
            if base[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                continue
            }
            if base[index] == UInt8(ascii: "}") { index += 1; return true }
            return false
        }
    }

    /// One member's value: captured when `key` is a field of `level`, else skipped.
    mutating func parseMember(_ key: ByteSpan, level: Level, seen: inout UInt16) -> Bool {
        guard let slot = EventCursor.slot(key, level: level) else { return skipValue(depth: 1) }
        let bit: UInt16 = 1 << UInt16(slot)
        guard seen & bit == 0 else { return false }  // a duplicate copy of a field we read
        seen |= bit
        switch slot {
        case 1, 2:
            // `userAgent` and `event`: objects whose fields we read.
            guard index < end, base[index] == UInt8(ascii: "{") else { return skipValue(depth: 1) }
            return parseObject(slot == 1 ? .userAgent : .event)
        default:
            guard let value = parseCaptured() else { return false }
            store(value, slot: slot)
            return true
        }
    }

    static func slot(_ key: ByteSpan, level: Level) -> Int? {
        switch level {
        case .top:
            if key.equals("dt") { return 0 }
            if key.equals("userAgent") { return 1 }
            if key.equals("event") { return 2 }
        case .userAgent:
            if key.equals("is_bot") { return 3 }
        case .event:
            if key.equals("banner") { return 4 }
            if key.equals("campaign") { return 5 }
            if key.equals("country") { return 6 }
            if key.equals("uselang") { return 7 }
            if key.equals("project") { return 8 }
            if key.equals("device") { return 9 }
            if key.equals("statusCode") { return 10 }
            if key.equals("result") { return 11 }
            if key.equals("impressionEventSampleRate") { return 12 }
        }
        return nil
    }

    mutating func store(_ value: RawField, slot: Int) {
        switch slot {
        case 0: event.dt = value
        case 3: event.isBot = value
        case 4: event.banner = value
        case 5: event.campaign = value
        case 6: event.country = value
        case 7: event.uselang = value
        case 8: event.project = value
        case 9: event.device = value
        case 10: event.statusCode = value
        case 11: event.result = value
        default: event.sampleRate = value
        }
    }

    /// A value we keep: strings and numbers as spans, booleans; anything else
    /// is validated and recorded as `.other` (null included).
    mutating func parseCaptured() -> RawField? {
        guard index < end else { return nil }
        switch base[index] {
        case UInt8(ascii: "\""):
            return parseString().map { .string($0) }
        case UInt8(ascii: "t"):
            return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = index
            return skipNumber() ? .number(ByteSpan(base + start, index - start)) : nil
        default:
            return skipValue(depth: 1) ? .other : nil
        }
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard end - index >= n, ByteSpan(base + index, n).equals(word) else { return false }
        index += n
        return true
    }

    /// Skips any value, checking its syntax.
    mutating func skipValue(depth: Int) -> Bool {
        guard index < end, depth <= EventCursor.maximumDepth else { return false }
        switch base[index] {
        case UInt8(ascii: "\""): return parseString() != nil
        case UInt8(ascii: "{"): return skipContainer(close: UInt8(ascii: "}"), keyed: true, depth: depth)
        case UInt8(ascii: "["): return skipContainer(close: UInt8(ascii: "]"), keyed: false, depth: depth)
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return skipNumber()
        }
    }

    mutating func skipContainer(close: UInt8, keyed: Bool, depth: Int) -> Bool {
        index += 1
        skipWhitespace()
        if index < end, base[index] == close { index += 1; return true }
        while true {
            if keyed {
                guard index < end, base[index] == UInt8(ascii: "\""), parseString() != nil else { return false }
                skipWhitespace()
                guard index < end, base[index] == UInt8(ascii: ":") else { return false }
                index += 1
                skipWhitespace()
            }
            guard skipValue(depth: depth + 1) else { return false }
            skipWhitespace()
            guard index < end else { return false }
            if base[index] == UInt8(ascii: ",") { index += 1; skipWhitespace(); continue }
            if base[index] == close { index += 1; return true }
            return false
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func skipNumber() -> Bool {
        if index < end, base[index] == UInt8(ascii: "-") { index += 1 }
        guard index < end else { return false }
        if base[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard skipDigits() else { return false }
        }
        if index < end, base[index] == UInt8(ascii: ".") {
            index += 1
            guard skipDigits() else { return false }
        }
        if index < end, base[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < end, base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-") { index += 1 }
            guard skipDigits() else { return false }
        }
        return true
    }

    mutating func skipDigits() -> Bool {
        let start = index
        while index < end, base[index] &- UInt8(ascii: "0") < 10 { index += 1 }
        return index > start
    }
}
