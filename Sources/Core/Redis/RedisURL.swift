/// Where a Redis server is: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port (6379 when not given).
    public var port: Int
    /// Logical database index (`SELECT`).
    public var database: Int
    /// ACL user name, if any.
    public var user: String?
    /// Password, if any. Never printed: ``description`` masks it.
    public var password: String?

    /// Parses a `redis://` URL, saying exactly what is wrong when it cannot.
    public init(parsing text: String) throws(ConfigurationError) {
        let prefix = "redis://"
        guard text.hasPrefix(prefix) else {
            throw ConfigurationError("queue URL '\(RedisURL.masked(text))' must start with redis://")
        }
        var rest = Substring(text.dropFirst(prefix.count))
        user = nil
        password = nil
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let u = credentials[..<colon]
                user = u.isEmpty ? nil : RedisURL.percentDecoded(u)
                password = RedisURL.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                password = RedisURL.percentDecoded(credentials)
            }
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw ConfigurationError("queue URL '\(RedisURL.masked(text))' has an invalid port '\(rest[rest.index(after: colon)...])'")
            }
            port = p
            rest = rest[..<colon]
        } else {
            port = 6379
        }
        guard !rest.isEmpty else { throw ConfigurationError("queue URL '\(RedisURL.masked(text))' has no host") }
        host = String(rest)
        if path.isEmpty {
            database = 0
        } else if let db = Int(path), db >= 0 {
            database = db
        } else {
            throw ConfigurationError("queue URL '\(RedisURL.masked(text))' has an invalid database '\(path)' (expected a number)")
        }
    }

    /// `HOST:PORT`.
    public var endpoint: String { "\(host):\(port)" }

    /// The URL with the password masked.
    public var description: String {
        var s = "redis://"
        if user != nil || password != nil { s += "\(user ?? ""):***@" }
        return s + "\(host):\(port)/\(database)"
    }

    static func masked(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://") else { return text }
        return String(text[..<scheme.upperBound]) + "***" + String(text[at...])
    }

    static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let utf8 = s.utf8
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == UInt8(ascii: "%"), let h1 = utf8.index(i, offsetBy: 1, limitedBy: utf8.endIndex), h1 < utf8.endIndex,
               let h2 = utf8.index(i, offsetBy: 2, limitedBy: utf8.endIndex), h2 < utf8.endIndex,
               let v = UInt8(String(decoding: [utf8[h1], utf8[h2]], as: UTF8.self), radix: 16) {
                bytes.append(v)
                i = utf8.index(i, offsetBy: 3)
            } else {
                bytes.append(b)
                i = utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
