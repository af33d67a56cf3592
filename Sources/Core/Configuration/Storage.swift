public import Foundation

/// Where fundq keeps its queues and databases: the embedded SQLite file by
/// default, Redis for queues with `--queue-url` / `FUNDQ_QUEUE_URL`, MariaDB
/// with `--db-url` / `FUNDQ_DB_URL`.
public struct StorageConfiguration: Sendable, Equatable {
    /// `redis://…`, or `nil` for the embedded file.
    public var queueURL: String?
    /// `mysql://…`, or `nil` for the embedded file.
    public var databaseURL: String?
    /// Folder of the embedded file.
    public var dataDirectory: String

    /// The default folder of the embedded file.
    public static let defaultDataDirectory = "./var"

    /// Resolves settings: explicit values first, then the environment
    /// (`FUNDQ_QUEUE_URL`, `FUNDQ_DB_URL`, `FUNDQ_DATA_DIR`), then defaults.
    public init(queueURL: String? = nil, databaseURL: String? = nil, dataDirectory: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        func nonEmpty(_ s: String?) -> String? { (s?.isEmpty ?? true) ? nil : s }
        self.queueURL = nonEmpty(queueURL) ?? nonEmpty(environment["FUNDQ_QUEUE_URL"])
        self.databaseURL = nonEmpty(databaseURL) ?? nonEmpty(environment["FUNDQ_DB_URL"])
        self.dataDirectory = nonEmpty(dataDirectory) ?? nonEmpty(environment["FUNDQ_DATA_DIR"]) ?? Self.defaultDataDirectory
    }

    /// Path of the embedded SQLite file.
    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("fundq.sqlite") }
}

/// The opened queue backend and damaged store for one process. Not
/// `Sendable`: it owns connections; open one per task.
public final class Storage {
    /// The queue backend.
    public let queue: any MessageQueue
    /// The damaged store.
    public let damaged: any DamagedStore
    /// The database holding the stores (the embedded file or MariaDB).
    public let database: any SQLConnection
    /// The embedded database, when any store uses it.
    public let sqlite: SQLiteDatabase?

    /// Opens what `configuration` names. The embedded file is created and
    /// migrated on open; a MariaDB schema older than this build is refused
    /// (run `fundq db migrate`).
    public init(_ configuration: StorageConfiguration) throws {
        var sqlite: SQLiteDatabase? = nil
        func embedded() throws -> SQLiteDatabase {
            if let sqlite { return sqlite }
            let db = try Storage.openEmbedded(configuration)
            sqlite = db
            return db
        }
        if let url = configuration.databaseURL {
            let mariadb = MariaDBConnection(url: try DatabaseURL(parsing: url))
            try SchemaMigrator.check(mariadb)
            database = mariadb
        } else {
            database = try embedded()
        }
        damaged = SQLDamagedStore(connection: database)
        if let url = configuration.queueURL {
            queue = RedisQueue(url: try RedisURL(parsing: url))
        } else {
            queue = SQLiteQueue(database: try embedded())
        }
        self.sqlite = sqlite
    }

    /// Opens (creating and migrating) the embedded SQLite file.
    public static func openEmbedded(_ configuration: StorageConfiguration) throws -> SQLiteDatabase {
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError("cannot create the data directory \(configuration.dataDirectory): \(error.localizedDescription)")
        }
        let db = try SQLiteDatabase(path: configuration.sqlitePath)
        try SchemaMigrator.migrate(db)
        return db
    }

    /// Opens the configured database without checking its schema (for
    /// `fundq db migrate`).
    public static func openDatabase(_ configuration: StorageConfiguration) throws -> any SQLConnection {
        if let url = configuration.databaseURL {
            return MariaDBConnection(url: try DatabaseURL(parsing: url))
        }
        return try openEmbedded(configuration)
    }
}
