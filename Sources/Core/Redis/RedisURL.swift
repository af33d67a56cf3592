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
    /// `password` (from a file or the environment) is used when the URL has
    /// none; then a lone `redis://NAME@HOST` names the ACL user.
    public init(parsing text: String, password external: String? = nil) throws(ConfigurationError) {
        var parts = try ServiceURL(parsing: text, scheme: "redis", what: "queue URL")
        if parts.password == nil, let external {
            parts.password = external
        } else if parts.password == nil, let user = parts.user, !text.contains(":\(user)@") {
            // redis://PASSWORD@HOST: a lone credential is Redis's password.
            parts.password = user
            parts.user = nil
        }
        host = parts.host
        port = parts.port ?? 6379
        user = parts.user
        password = parts.password
        if parts.path.isEmpty {
            database = 0
        } else if let db = Int(parts.path), db >= 0 {
            database = db
        } else {
            // The path is not shown: it is not a number, and may be anything (a password in the wrong place).
            let shown = text.hasSuffix(parts.path) ? String(text.dropLast(parts.path.count)) + "…" : text
            throw ConfigurationError("queue URL '\(ServiceURL.masked(shown))' has an invalid database (expected a number)")
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
}
