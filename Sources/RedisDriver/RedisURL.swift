public import Core

/// Where a Redis server is: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`,
/// or on a Unix socket: `redis+unix://[[USER]:PASSWORD@]/PATH/TO/SOCKET[?db=N]`.
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
    /// The Unix socket, when the URL names one (then host and port are unused).
    public var socketPath: String?

    /// Parses a `redis://` URL, saying exactly what is wrong when it cannot.
    /// `password` (from a file or the environment) is used when the URL has
    /// none; then a lone `redis://NAME@HOST` names the ACL user.
    public init(parsing text: String, password external: String? = nil) throws(ConfigurationError) {
        if text.hasPrefix("redis+unix:") {
            self = try Self.socket(text, password: external)
            return
        }
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

    /// `redis+unix://[USER:PASSWORD@]/PATH[?db=N]`.
    private init(socketPath: String, database: Int, user: String?, password: String?) {
        (host, port) = ("localhost", 0)
        (self.socketPath, self.database, self.user, self.password) = (socketPath, database, user, password)
    }

    static func socket(_ text: String, password external: String?) throws(ConfigurationError) -> RedisURL {
        let parts = try ServiceURL.unixSocket(parsing: text, scheme: "redis+unix", what: "queue URL")
        var path = Substring(parts.path)
        var database = 0
        if let query = path.firstIndex(of: "?") {
            guard path[query...].hasPrefix("?db="), let db = Int(path[path.index(query, offsetBy: 4)...]), db >= 0 else {
                throw ConfigurationError("queue URL '\(ServiceURL.masked(text))' has an invalid query (expected ?db=N)")
            }
            database = db
            path = path[..<query]
        }
        return RedisURL(socketPath: String(path), database: database, user: parts.user, password: parts.password ?? external)
    }

    /// `HOST:PORT`, or the socket's path.
    public var endpoint: String { socketPath ?? "\(host):\(port)" }

    /// The URL with the password masked.
    public var description: String {
        let credentials = user != nil || password != nil ? "\(user ?? ""):***@" : ""
        if let socketPath { return "redis+unix://\(credentials)\(socketPath)?db=\(database)" }
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }
}
