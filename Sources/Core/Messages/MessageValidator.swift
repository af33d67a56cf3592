/// Validates what producers push: a JSON object, no larger than a limit.
public struct MessageValidator: Sendable {
    /// Largest accepted message, in bytes (default 1 MiB).
    public var maximumBytes: Int
    /// The JSON parser used.
    public var parser: JSONParser

    /// A validator accepting messages up to `maximumBytes`.
    public init(maximumBytes: Int = 1 << 20, parser: JSONParser = JSONParser()) {
        self.maximumBytes = maximumBytes
        self.parser = parser
    }

    /// The top-level keys of `body`, after checking it exactly as
    /// ``validate(_:)`` does, without building its values (the fast path).
    public func keys(_ body: [UInt8]) throws(MessageError) -> Set<String> {
        guard body.count <= maximumBytes else {
            throw MessageError(.tooLarge(size: body.count, limit: maximumBytes))
        }
        let keys: Set<String>?
        do {
            keys = try parser.objectKeys(body)
        } catch {
            throw MessageError(.invalidJSON(error))
        }
        guard let keys else { _ = try validate(body); return [] }  // not an object: let validate name what it is
        return keys
    }

    /// The top-level members of `body`, or an error saying why it is not an
    /// acceptable message (too large, invalid UTF-8 or JSON with its
    /// position, or a JSON value that is not an object).
    public func validate(_ body: [UInt8]) throws(MessageError) -> [String: JSONValue] {
        guard body.count <= maximumBytes else {
            throw MessageError(.tooLarge(size: body.count, limit: maximumBytes))
        }
        let value: JSONValue
        do {
            value = try parser.parse(body)
        } catch {
            throw MessageError(.invalidJSON(error))
        }
        switch value {
        case .object(let members): return members
        case .array: throw MessageError(.notAnObject(found: "an array"))
        case .string: throw MessageError(.notAnObject(found: "a string"))
        case .number: throw MessageError(.notAnObject(found: "a number"))
        case .bool: throw MessageError(.notAnObject(found: "a boolean"))
        case .null: throw MessageError(.notAnObject(found: "null"))
        }
    }
}
