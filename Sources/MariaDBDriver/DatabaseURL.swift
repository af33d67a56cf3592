public import Core

/// Where a MariaDB database is: `mysql://USER[:PASSWORD]@HOST[:PORT]/DB`
/// (`mariadb://` is accepted too), with TLS by its query
/// (`?ssl-mode=verify-identity&ssl-ca=PATH`, see ``DatabaseTLS``), or on a
/// Unix socket: `mysql+unix://USER[:PASSWORD]@/PATH/TO/SOCKET/DB` (the last part is the database).
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port (3306 when not given).
    public var port: Int
    /// User name.
    public var user: String
    /// Password, if any. Never printed: ``description`` masks it.
    public var password: String?
    /// Database (schema) name.
    public var database: String
    /// The Unix socket, when the URL names one (then host and port are unused).
    public var socketPath: String?
    /// TLS settings from the query; nil for a plain connection.
    public var tls: DatabaseTLS?

    /// Parses a `mysql://` URL, saying exactly what is wrong when it cannot.
    /// `password` (from a file or the environment) is used when the URL has none.
    public init(parsing whole: String, password external: String? = nil) throws(ConfigurationError) {
        let queryStart = Self.queryStart(whole)
        let text = String(whole[..<queryStart])
        // Never a TLS setting read as part of the host, path or password (TLS silently off).
        if let stray = DatabaseTLS.parameterNames.first(where: { text.contains("\($0)=") }) {
            throw ConfigurationError("database URL '\(ServiceURL.masked(whole))': cannot tell where its query starts "
                + "('\(stray)=' outside it): percent-encode '@' and '?' in the password, or give it by the environment or secrets file")
        }
        if queryStart < whole.endIndex {
            tls = try DatabaseTLS.parse(query: whole[whole.index(after: queryStart)...], shown: ServiceURL.masked(whole))
        }
        if text.hasPrefix("mysql+unix:") || text.hasPrefix("mariadb+unix:") {
            guard tls == nil else {
                throw ConfigurationError("database URL '\(ServiceURL.masked(whole))': TLS is for TCP connections, not a Unix socket")
            }
            let parts = try ServiceURL.unixSocket(parsing: text, scheme: text.hasPrefix("mysql") ? "mysql+unix" : "mariadb+unix",
                                                  what: "database URL")
            guard let user = parts.user else {
                throw ConfigurationError("database URL '\(ServiceURL.masked(text))' has no user (mysql+unix://USER:PASSWORD@/PATH/DB)")
            }
            let slash = parts.path.lastIndex(of: "/")!
            guard slash > parts.path.startIndex, parts.path.index(after: slash) < parts.path.endIndex else {
                let shown = ServiceURL.masked(text)
                throw ConfigurationError("database URL '\(shown)' names no socket and database (mysql+unix://USER@/PATH/DB)")
            }
            (host, port, self.user, password) = ("localhost", 0, user, parts.password ?? external)
            (socketPath, database) = (String(parts.path[..<slash]), String(parts.path[parts.path.index(after: slash)...]))
            return
        }
        let scheme = text.hasPrefix("mariadb://") ? "mariadb" : "mysql"
        let parts = try ServiceURL(parsing: text, scheme: scheme, what: "database URL")
        guard let user = parts.user else {
            throw ConfigurationError("database URL '\(ServiceURL.masked(text))' has no user (mysql://USER:PASSWORD@HOST:PORT/DB)")
        }
        guard !parts.path.isEmpty, !parts.path.contains("/") else {
            throw ConfigurationError("database URL '\(ServiceURL.masked(text))' names no database (mysql://USER:PASSWORD@HOST:PORT/DB)")
        }
        host = parts.host
        port = parts.port ?? 3306
        self.user = user
        password = parts.password ?? external
        database = parts.path
    }

    /// Where the query starts: at the first '?' after the first '@'. A user is
    /// required, so the credentials end before the query; a password may hold
    /// a '?' before an '@', and a file path in the query may hold an '@'. A
    /// password holding '@' and then '?' makes an invalid query (an error),
    /// never a silently plain connection.
    static func queryStart(_ whole: String) -> String.Index {
        let from = whole.firstIndex(of: "@") ?? whole.startIndex
        return whole[from...].firstIndex(of: "?") ?? whole.endIndex
    }

    /// `HOST:PORT`, or the socket's path.
    public var endpoint: String { socketPath ?? "\(host):\(port)" }

    /// The URL with the password masked.
    public var description: String {
        if let socketPath { return "mysql+unix://\(user):***@\(socketPath)/\(database)" }
        return "mysql://\(user):***@\(host):\(port)/\(database)" + (tls?.query ?? "")
    }
}
