public import Core
public import Foundation
public import MariaDBDriver
public import RedisDriver
public import SQLiteDriver

/// Where fundq keeps its queues and databases: the embedded SQLite file by
/// default, Redis for queues with `--queue-url` / `FUNDQ_QUEUE_URL`, MariaDB
/// with `--db-url` / `FUNDQ_DB_URL`. So that no password need be on a
/// command line, the URLs may also come from `FUNDQ_QUEUE_URL_FILE` /
/// `FUNDQ_DB_URL_FILE` or the secrets file, and a URL without a password
/// takes it from `FUNDQ_QUEUE_PASSWORD` / `FUNDQ_DB_PASSWORD` (or their
/// `_FILE`, or the secrets file): see ``SecretSettings``.
public struct StorageConfiguration: Sendable, Equatable {
    /// `redis://…` from the flag or `FUNDQ_QUEUE_URL`, or `nil` (then the
    /// URL files, else the embedded file).
    public var queueURL: String?
    /// `mysql://…` from the flag or `FUNDQ_DB_URL`, or `nil` (then the URL
    /// files, else the embedded file).
    public var databaseURL: String?
    /// Folder of the embedded file.
    public var dataDirectory: String
    /// Where URLs and passwords kept off the command line are read from.
    public var secrets: SecretSettings
    /// Where `queueURL` and `databaseURL` came from ("--queue-url",
    /// "FUNDQ_QUEUE_URL"), named in errors about them.
    public var queueURLSource = "--queue-url", databaseURLSource = "--db-url"

    /// The default folder of the embedded file.
    public static let defaultDataDirectory = "./var"

    /// The settings naming the queues' Redis and its password.
    public static let queueURLSetting = "FUNDQ_QUEUE_URL", queuePasswordSetting = "FUNDQ_QUEUE_PASSWORD"
    /// The settings naming the MariaDB database and its password.
    public static let databaseURLSetting = "FUNDQ_DB_URL", databasePasswordSetting = "FUNDQ_DB_PASSWORD"

    /// Resolves settings: explicit values first, then the environment
    /// (`FUNDQ_QUEUE_URL`, `FUNDQ_DB_URL`, `FUNDQ_DATA_DIR`), then defaults.
    public init(queueURL: String? = nil, databaseURL: String? = nil, dataDirectory: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        func nonEmpty(_ s: String?) -> String? { (s?.isEmpty ?? true) ? nil : s }
        self.queueURL = nonEmpty(queueURL) ?? nonEmpty(environment[Self.queueURLSetting])
        self.databaseURL = nonEmpty(databaseURL) ?? nonEmpty(environment[Self.databaseURLSetting])
        if nonEmpty(queueURL) == nil { queueURLSource = Self.queueURLSetting }
        if nonEmpty(databaseURL) == nil { databaseURLSource = Self.databaseURLSetting }
        self.dataDirectory = nonEmpty(dataDirectory) ?? nonEmpty(environment["FUNDQ_DATA_DIR"]) ?? Self.defaultDataDirectory
        secrets = SecretSettings(environment: environment.filter { $0.key.hasPrefix("FUNDQ_") })
    }

    /// Path of the embedded SQLite file.
    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("fundq.sqlite") }

    /// The queues' Redis server, or nil for the embedded file.
    public func redisURL() throws(ConfigurationError) -> RedisURL? {
        var found = queueURL, source = queueURLSource
        if found == nil {
            (found, source) = (try secrets.fromFiles(Self.queueURLSetting), "\(Self.queueURLSetting)_FILE or the secrets file")
        }
        guard let text = found else { return nil }
        do {
            return try RedisURL(parsing: text, password: try secrets.value(Self.queuePasswordSetting))
        } catch {
            throw ConfigurationError("\(source): \(error.description)")
        }
    }

    /// The MariaDB database, or nil for the embedded file.
    public func mariaDBURL() throws(ConfigurationError) -> DatabaseURL? {
        var found = databaseURL, source = databaseURLSource
        if found == nil {
            (found, source) = (try secrets.fromFiles(Self.databaseURLSetting), "\(Self.databaseURLSetting)_FILE or the secrets file")
        }
        guard let text = found else { return nil }
        do {
            return try DatabaseURL(parsing: text, password: try secrets.value(Self.databasePasswordSetting))
        } catch {
            throw ConfigurationError("\(source): \(error.description)")
        }
    }
}

/// The opened queue backend and damaged store for one process. Not
/// `Sendable`: it owns connections; open one per task.
public final class Storage: OpenedStores {
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
    /// (run `fundq db migrate`). With `readOnly` (commands that only look),
    /// nothing is created, migrated or written: a missing embedded file is an
    /// error naming the path looked at, and the file is opened read-only.
    /// Storages opened with one `sqliteWriteGate` take turns at writing the
    /// embedded file inside the process (see ``SQLiteWriteGate``); MariaDB
    /// and Redis ignore it.
    public init(_ configuration: StorageConfiguration, readOnly: Bool = false, sqliteWriteGate: SQLiteWriteGate? = nil) throws {
        // Both URLs are checked before anything is opened.
        let mariaDBURL = try configuration.mariaDBURL(), redisURL = try configuration.redisURL()
        var sqlite: SQLiteDatabase? = nil
        func embedded() throws -> SQLiteDatabase {
            if let sqlite { return sqlite }
            let db = try Storage.openEmbedded(configuration, readOnly: readOnly, writeGate: sqliteWriteGate)
            sqlite = db
            return db
        }
        if let mariaDBURL {
            let mariadb = MariaDBConnection(url: mariaDBURL)
            try SchemaMigrator.check(mariadb)
            database = mariadb
        } else {
            database = try embedded()
        }
        damaged = SQLDamagedStore(connection: database)
        if let redisURL {
            queue = RedisQueue(url: redisURL)
        } else if readOnly && sqlite == nil && !FileManager.default.fileExists(atPath: configuration.sqlitePath) {
            // Queues in an embedded file that does not exist: a command reading only the database works; one reading a queue says so.
            queue = MissingEmbeddedQueue(missing: Storage.missingStore(configuration))
        } else {
            queue = SQLiteQueue(database: try embedded())
        }
        self.sqlite = sqlite
    }

    /// Opens (creating and migrating) the embedded SQLite file; with
    /// `readOnly`, opens an existing one for reading and checks its schema.
    public static func openEmbedded(_ configuration: StorageConfiguration, readOnly: Bool = false,
                                    writeGate: SQLiteWriteGate? = nil) throws -> SQLiteDatabase {
        if readOnly {
            let db = try openExisting(configuration)
            try SchemaMigrator.check(db)
            return db
        }
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw ConfigurationError("cannot create the data directory \(configuration.dataDirectory): \(error.localizedDescription)")
        }
        let db = try SQLiteDatabase(path: configuration.sqlitePath, writeGate: writeGate)
        try SchemaMigrator.migrate(db)
        return db
    }

    /// Opens the configured database without checking its schema (for
    /// `fundq db migrate`; with `readOnly`, for `fundq db status`: an
    /// embedded file must exist and is only read).
    public static func openDatabase(_ configuration: StorageConfiguration, readOnly: Bool = false,
                                    writeGate: SQLiteWriteGate? = nil) throws -> any SQLConnection {
        if let url = try configuration.mariaDBURL() {
            return MariaDBConnection(url: url)
        }
        return readOnly ? try openExisting(configuration) : try openEmbedded(configuration, writeGate: writeGate)
    }

    /// The embedded file opened read-only; an error naming the path when there is none.
    static func openExisting(_ configuration: StorageConfiguration) throws -> SQLiteDatabase {
        let path = configuration.sqlitePath
        guard FileManager.default.fileExists(atPath: path) else { throw missingStore(configuration) }
        return try SQLiteDatabase(path: path, readOnly: true)
    }

    /// The error of a command that only reads, run where there is no embedded file.
    static func missingStore(_ configuration: StorageConfiguration) -> ConfigurationError {
        ConfigurationError("no fundq store at \(configuration.sqlitePath) (nothing was created: this command only reads); "
            + "run it where the store is, or give --data-dir (FUNDQ_DATA_DIR), --queue-url or --db-url")
    }
}

/// The queues of a read-only command when they would be in an embedded file
/// that does not exist: every use throws the error naming the path.
final class MissingEmbeddedQueue: MessageQueue {
    let missing: ConfigurationError

    init(missing: ConfigurationError) {
        self.missing = missing
    }

    var location: String { "(no embedded file)" }
    func append(_ bodies: [[UInt8]], to queue: String) throws { throw missing }
    func claim(from queue: String, limit: Int, lease: Duration) throws -> [DeliveredMessage] { throw missing }
    func acknowledge(_ receipts: [DeliveryReceipt], in queue: String) throws -> Int { throw missing }
    func acknowledgeAndClaim(_ receipts: [DeliveryReceipt], in queue: String, limit: Int, lease: Duration) throws
        -> (acknowledged: Int, claimed: [DeliveredMessage]) { throw missing }
    func release(_ receipts: [DeliveryReceipt], in queue: String, countingDelivery: Bool) throws { throw missing }
    func peek(_ queue: String) throws -> [UInt8]? { throw missing }
    func stats(_ queue: String) throws -> QueueStats { throw missing }
    func queueNames() throws -> [String] { throw missing }
    func removeAll(_ queue: String) throws { throw missing }
}
