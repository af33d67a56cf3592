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

    /// A non-empty scalar field as text, or nil when absent/empty/null.
    func text(_ name: String) throws(DonationFieldError) -> String? {
        guard let value = members[name] else { return nil }
        switch value {
        case .null: return nil
        case .string(let s): return s.isEmpty ? nil : s
        case .number(let n): return n
        case .bool(let b): return b ? "1" : "0"
        case .array, .object: throw DonationFieldError(name, "must be a string or a number, not a JSON \(value.kindName)")
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

    /// `date` as unix seconds.
    func unixDate(_ name: String) throws(DonationFieldError) -> Double? {
        guard let value = try text(name) else { return nil }
        guard let seconds = Double(value), seconds.isFinite, seconds > 0 else {
            throw DonationFieldError(name, "must be unix seconds (got \"\(value.prefix(40))\")")
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
