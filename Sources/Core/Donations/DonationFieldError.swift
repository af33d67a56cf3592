public import Foundation

/// Why a donation or pending message cannot be stored: which field, and
/// what is wrong with it. Values are quoted only for non-personal fields.
public struct DonationFieldError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field at fault.
    public let field: String
    /// What is wrong.
    public let reason: String

    /// An error about `field`.
    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    /// "field 'gross': must be greater than 0 (got \"0\")".
    public var description: String { "field '\(field)': \(reason)" }
}

/// Reading typed fields out of a message's top-level members.
struct MessageFields {
    let members: [String: JSONValue]

    /// Longest accepted identifier (the database columns' size). Longer
    /// values are refused, never cut.
    static let maximumIdentifierLength = 255

    /// A non-empty string or number field as text, or nil when
    /// absent/empty/null. A boolean, array or object is refused: `true` is
    /// neither an amount, a date nor an identifier.
    func text(_ name: String) throws(DonationFieldError) -> String? {
        guard let value = members[name] else { return nil }
        switch value {
        case .null: return nil
        case .string(let s): return s.isEmpty ? nil : s
        case .number(let n): return n
        case .bool, .array, .object: throw DonationFieldError(name, "must be a string or a number, not a JSON \(value.kindName)")
        }
    }

    /// An identifier field: at most 255 characters.
    func identifier(_ name: String) throws(DonationFieldError) -> String? {
        guard let value = try text(name) else { return nil }
        // VARCHAR(255) counts code points, not user-perceived characters.
        let length = value.unicodeScalars.count
        guard length <= MessageFields.maximumIdentifierLength else {
            throw DonationFieldError(name, "is \(length) characters long, over the limit of \(MessageFields.maximumIdentifierLength)")
        }
        return value
    }

    /// A required identifier field.
    func requiredIdentifier(_ name: String) throws(DonationFieldError) -> String {
        guard let value = try identifier(name) else { throw DonationFieldError(name, "is missing") }
        return value
    }

    /// `date` as unix seconds within ``UnixTime/plausibleRange``.
    func unixDate(_ name: String, now: Date = Date()) throws(DonationFieldError) -> Double? {
        guard let value = try text(name) else { return nil }
        guard let seconds = UnixTime.seconds(value) else {
            throw DonationFieldError(name, "must be unix seconds as a decimal number (got \"\(value.prefix(40))\")")
        }
        guard UnixTime.plausibleRange(now: now).contains(seconds) else {
            let hint = UnixTime.plausibleRange(now: now).contains(seconds / 1000) ? ", which looks like milliseconds" : ""
            throw DonationFieldError(name, "must be unix seconds between 2000-01-01 and one day from now (got \(value.prefix(40))\(hint))")
        }
        return seconds
    }
}

extension JSONValue {
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// Unix timestamps as messages carry them.
public enum UnixTime {
    /// 2000-01-01T00:00:00Z.
    static let earliest = 946_684_800.0

    /// The dates a message may plausibly carry: from 2000-01-01 to one day
    /// after `now` (clock skew). Anything else is a unit mistake
    /// (milliseconds), a typo or garbage, and is refused before any store
    /// sees it.
    public static func plausibleRange(now: Date = Date()) -> ClosedRange<Double> {
        earliest...(now.timeIntervalSince1970 + 86_400)
    }

    /// `text` as seconds when it is a JSON-style decimal number ("1764000000",
    /// "1764000000.25", "1.764e9"); nil for "nan", "inf", hex and the like.
    public static func seconds(_ text: String) -> Double? {
        var sawDigit = false
        for (offset, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): break
            default: return nil
            }
            if offset > 40 { return nil }
        }
        guard sawDigit, let value = Double(text), value.isFinite else { return nil }
        return value
    }
}
