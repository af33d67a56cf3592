public import Foundation

/// Why a tracking event cannot be applied; the message goes to the damaged
/// store with this reason. The same field-and-reason error as donations'.
public typealias TrackingEventError = DonationFieldError

/// The columns of `contribution_tracking` that events fill, with how each
/// value is checked. A value that does not fit is refused, never cut.
public enum TrackingColumn: String, Sendable, CaseIterable, Comparable {
    case formAmount = "form_amount", usdAmount = "usd_amount", note, referrer, anonymous
    case utmSource = "utm_source", utmMedium = "utm_medium", utmCampaign = "utm_campaign", utmKey = "utm_key"
    case paymentsForm = "payments_form", optout, language, country

    /// How a column's values are checked.
    enum Kind { case text(maximumCharacters: Int), longText(maximumBytes: Int), flag, usdAmount }

    var kind: Kind {
        switch self {
        case .formAmount: return .text(maximumCharacters: 20)
        case .note: return .longText(maximumBytes: 65_535)
        case .referrer: return .text(maximumCharacters: 4096)
        case .utmSource, .utmMedium, .utmCampaign, .utmKey, .paymentsForm: return .text(maximumCharacters: 128)
        case .language: return .text(maximumCharacters: 8)
        case .country: return .text(maximumCharacters: 2)
        case .anonymous, .optout: return .flag
        case .usdAmount: return .usdAmount
        }
    }

    /// Orders columns by name (for deterministic statements).
    public static func < (a: TrackingColumn, b: TrackingColumn) -> Bool { a.rawValue < b.rawValue }

    /// Hashes the case, not its name: a raw-valued enum otherwise hashes
    /// its `rawValue` string, and rows and events look columns up by the
    /// dozen per event.
    public func hash(into hasher: inout Hasher) { hasher.combine(ordinal) }

    private var ordinal: Int {
        switch self {
        case .formAmount: 0
        case .usdAmount: 1
        case .note: 2
        case .referrer: 3
        case .anonymous: 4
        case .utmSource: 5
        case .utmMedium: 6
        case .utmCampaign: 7
        case .utmKey: 8
        case .paymentsForm: 9
        case .optout: 10
        case .language: 11
        case .country: 12
        }
    }

    /// The stored form of `value`: text as given, flags as "0"/"1", USD
    /// amounts with exactly two decimals. Nil when the value is empty
    /// (absent, null or ""), which never overwrites anything.
    func normalized(_ value: JSONValue) throws(TrackingEventError) -> String? {
        let text: String
        switch value {
        case .null: return nil
        case .string(let s): if s.isEmpty { return nil }; text = s
        case .number(let n): text = n
        case .bool(let b): text = b ? "1" : "0"
        case .array, .object: throw TrackingEventError(rawValue, "must be a string or a number, not a JSON \(value.kindName)")
        }
        switch kind {
        case .text(let maximum):
            let length = text.unicodeScalars.count
            guard length <= maximum else { throw TrackingEventError(rawValue, "is \(length) characters long, the column holds \(maximum)") }
            return text
        case .longText(let maximum):
            let length = text.utf8.count
            guard length <= maximum else { throw TrackingEventError(rawValue, "is \(length) bytes long, the column holds \(maximum)") }
            return text
        case .flag:
            switch text.lowercased() {
            case "1", "true": return "1"
            case "0", "false": return "0"
            default: throw TrackingEventError(rawValue, "must be a boolean: true, false, 1 or 0 (got \"\(text.prefix(40))\")")
            }
        case .usdAmount:
            guard let amount = TrackingColumn.usd(text) else {
                throw TrackingEventError(
                    rawValue, "must be a non-negative amount with at most 18 integer digits and 2 decimals (got \"\(text.prefix(40))\")")
            }
            return amount
        }
    }

    /// "10" → "10.00", "0.5" → "0.50"; nil for anything DECIMAL(20,2) would round or refuse.
    static func usd(_ text: String) -> String? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.count <= 2, fraction.allSatisfy(\.isASCIIDigit), parts.count == 1 || !fraction.isEmpty else { return nil }
        let trimmed = parts[0].drop(while: { $0 == "0" })
        let integer = trimmed.isEmpty ? "0" : String(trimmed)
        guard integer.count <= 18 else { return nil }
        return integer + "." + fraction + String(repeating: "0", count: 2 - fraction.count)
    }
}

/// One event of the `contribution-tracking` queue, validated:
/// `{id, ts (UTC microseconds since 1970), …fields}`.
///
/// Known columns are checked and normalized (``TrackingColumn``); every
/// other field is kept in the event table only. `contribution_id` links the
/// attempt to its donation. Absent, null and empty values supply nothing.
public struct TrackingEvent: Sendable, Equatable {
    /// The contribution tracking id.
    public var id: String
    /// When it happened: UTC microseconds since 1970.
    public var ts: Int64
    /// The donation this attempt became (the `donations` row id), when linked.
    public var contributionID: String?
    /// Normalized values of the known columns this event supplies.
    public var values: [TrackingColumn: String]
    /// Identifies the event among redeliveries and re-pushes: a 64-bit
    /// FNV-1a hash of its fields without the envelope. Together with `id`
    /// and `ts` this is the event table's unique key.
    public var hash: Int64
    /// Every field as received (envelope included).
    public var members: [String: JSONValue]

    /// Longest accepted id or contribution id (the columns' size).
    public static let maximumIDLength = 64

    /// Earliest and latest accepted `ts` (2000-01-01 … 2100-01-01): a value
    /// outside is seconds or milliseconds sent by mistake.
    static let plausibleTimestamps: ClosedRange<Int64> = 946_684_800_000_000...4_102_444_800_000_000

    /// Validates `members`; the error names the field and the reason.
    public init(members: [String: JSONValue]) throws(TrackingEventError) {
        id = try TrackingEvent.identifier("id", members["id"], required: true)!
        ts = try TrackingEvent.timestamp(members["ts"])
        contributionID = try TrackingEvent.identifier("contribution_id", members["contribution_id"], required: false)
        // Fields in name order: one pass serves the columns and the hash
        // (no lookup by name), and the first invalid column is always the same.
        let fields = members.sorted { $0.key < $1.key }
        var values: [TrackingColumn: String] = [:]
        for (name, value) in fields {
            if let column = TrackingColumn(rawValue: name), let normalized = try column.normalized(value) { values[column] = normalized }
        }
        self.values = values
        self.members = members
        hash = TrackingEvent.hash(sortedFields: fields)
    }

    static func identifier(_ name: String, _ value: JSONValue?, required: Bool) throws(TrackingEventError) -> String? {
        let text: String
        switch value {
        case .none, .null?: text = ""
        case .string(let s)?: text = s
        case .number(let n)? where n.allSatisfy(\.isASCIIDigit): text = n
        case let other?: throw TrackingEventError(name, "must be a string or a whole number, not \(other.serialized().prefix(40))")
        }
        if text.isEmpty {
            if required { throw TrackingEventError(name, "is missing: a tracking event needs the contribution tracking id") }
            return nil
        }
        let length = text.unicodeScalars.count
        guard length <= maximumIDLength else {
            throw TrackingEventError(name, "is \(length) characters long, the column holds \(maximumIDLength)")
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }) else {
            throw TrackingEventError(name, "contains control characters")
        }
        // "7" and "7 " would be two attempts: an id padded by mistake is refused, not tracked apart.
        guard text.first?.isWhitespace != true, text.last?.isWhitespace != true else {
            throw TrackingEventError(name, "starts or ends with white space")
        }
        return text
    }

    static func timestamp(_ value: JSONValue?) throws(TrackingEventError) -> Int64 {
        guard let value, value != .null else { throw TrackingEventError("ts", "is missing: events are ordered by it") }
        guard let text = value.scalarText, !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let micros = Int64(text),
              plausibleTimestamps.contains(micros) else {
            throw TrackingEventError("ts", "must be UTC microseconds since 1970 as a whole number (got \(value.serialized().prefix(40)))")
        }
        return micros
    }

    /// FNV-1a over the fields without the queue envelope, keys in sorted
    /// order, so a redelivery or a producer's retry hashes alike.
    static func hash(sortedFields fields: [(key: String, value: JSONValue)]) -> Int64 {
        var hasher = FNV1a()
        for (key, value) in fields where !MessageEnvelope.fieldNames.contains(key) {
            hasher.add(key)
            hasher.add(value)
        }
        return Int64(bitPattern: hasher.value)
    }

    /// 64-bit FNV-1a over a JSON value's structure and text, fed directly
    /// (no serialization); each part is tagged so that no two different
    /// values feed the same bytes.
    struct FNV1a {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325

        mutating func byte(_ b: UInt8) {
            value ^= UInt64(b)
            value = value &* 0x0000_0100_0000_01b3
        }

        mutating func add(_ text: String) {
            var text = text
            text.withUTF8 { for b in $0 { byte(b) } }
            byte(0xff)  // never part of UTF-8: ends the text
        }

        mutating func add(_ value: JSONValue) {
            switch value {
            case .null: byte(0)
            case .bool(let b): byte(b ? 2 : 1)
            case .number(let n): byte(3); add(n)
            case .string(let s): byte(4); add(s)
            case .array(let items):
                byte(5)
                for item in items { add(item) }
                byte(6)
            case .object(let members):
                byte(7)
                for key in members.keys.sorted() { add(key); add(members[key]!) }
                byte(8)
            }
        }
    }

    /// `ts` as a date.
    public var date: Date { TrackingEvent.date(micros: ts) }

    /// Microseconds since 1970 as a date.
    public static func date(micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }

    /// A date as whole microseconds since 1970.
    public static func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
}
