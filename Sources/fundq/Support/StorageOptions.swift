import ArgumentParser
import Backends
import Core
import MariaDBDriver
import RedisDriver

/// Where the stores are: shared by every command that opens them.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("queue-url"), help: ArgumentHelp(
        "Redis for the queues: redis://[:PASSWORD@]HOST:PORT[/DB] or redis+unix:///PATH[?db=N] "
            + "(env FUNDQ_QUEUE_URL or FUNDQ_QUEUE_URL_FILE; password also from "
            + "FUNDQ_QUEUE_PASSWORD[_FILE] or FUNDQ_SECRETS_FILE). Default: the embedded SQLite file.", valueName: "url"))
    var queueURL: String?

    @Option(name: .customLong("db-url"), help: ArgumentHelp(
        "Database for the stores: mysql://USER[:PASS]@HOST:PORT/DB[?ssl-mode=verify-identity&ssl-ca=PATH] or "
            + "mysql+unix://USER[:PASS]@/SOCKET/DB "
            + "(env FUNDQ_DB_URL or FUNDQ_DB_URL_FILE; password also from "
            + "FUNDQ_DB_PASSWORD[_FILE] or FUNDQ_SECRETS_FILE). Default: the embedded SQLite file.", valueName: "url"))
    var databaseURL: String?

    @Option(name: .customLong("data-dir"),
            help: ArgumentHelp("Folder of the embedded SQLite file (env FUNDQ_DATA_DIR, default ./var).", valueName: "dir"))
    var dataDirectory: String?

    /// A malformed URL given as a flag is a usage error (exit 2); the
    /// message names the flag and never shows a password.
    func validate() throws {
        if let queueURL, !queueURL.isEmpty {
            do { _ = try RedisURL(parsing: queueURL) } catch { throw ValidationError("--queue-url: \(error)") }
        }
        if let databaseURL, !databaseURL.isEmpty {
            do { _ = try DatabaseURL(parsing: databaseURL) } catch { throw ValidationError("--db-url: \(error)") }
        }
    }

    /// The resolved configuration (flags, then environment, then defaults).
    var configuration: StorageConfiguration {
        StorageConfiguration(queueURL: queueURL, databaseURL: databaseURL, dataDirectory: dataDirectory)
    }

    /// Opens the stores (creating and migrating the embedded file).
    func open() throws -> Storage {
        try Storage(configuration)
    }

    /// Opens the stores for a command that only looks: nothing is created
    /// or written (a missing embedded file is an error naming its path).
    func openReadOnly() throws -> Storage {
        try Storage(configuration, readOnly: true)
    }
}
