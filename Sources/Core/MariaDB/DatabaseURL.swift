/// Where a MariaDB database is: `mysql://USER[:PASSWORD]@HOST[:PORT]/DB`
/// (`mariadb://` is accepted too).
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

    /// Parses a `mysql://` URL, saying exactly what is wrong when it cannot.
    /// `password` (from a file or the environment) is used when the URL has none.
    public init(parsing text: String, password external: String? = nil) throws(ConfigurationError) {
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

    /// `HOST:PORT`.
    public var endpoint: String { "\(host):\(port)" }

    /// The URL with the password masked.
    public var description: String { "mysql://\(user):***@\(host):\(port)/\(database)" }
}
