/// Why a message was refused: not JSON, not an object, too large, or a bad
/// queue name. The description says what and where.
public struct MessageError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case invalidJSON(JSONParseError)
        case notAnObject(found: String)
        case tooLarge(size: Int, limit: Int)
        case invalidQueueName(String, reason: String)
        case missingField(String)
    }

    let kind: Kind
    /// Where the message came from ("line 3 of donations.jsonl"), if known.
    public var location: String?

    init(_ kind: Kind, location: String? = nil) {
        self.kind = kind
        self.location = location
    }

    /// Returns this error with `location` set.
    public func at(_ location: String) -> MessageError {
        var copy = self
        copy.location = location
        return copy
    }

    /// One line: what is wrong, and where.
    public var description: String {
        let what: String
        switch kind {
        case .invalidJSON(let e): what = "message is not valid JSON: \(e)"
        case .notAnObject(let found): what = "message must be a JSON object, found \(found)"
        case .tooLarge(let size, let limit): what = "message is \(size) bytes, over the limit of \(limit) bytes"
        case .invalidQueueName(let name, let reason): what = "invalid queue name '\(name)': \(reason)"
        case .missingField(let field): what = "message has no '\(field)' field"
        }
        return location.map { "\($0): \(what)" } ?? what
    }

    /// The JSON parse error, when that is the reason.
    public var parseError: JSONParseError? {
        if case .invalidJSON(let e) = kind { return e }
        return nil
    }
}
