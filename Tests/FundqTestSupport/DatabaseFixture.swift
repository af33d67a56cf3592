public import Backends
public import Core
import Foundation
import MariaDBDriver

/// The database backends every store test runs against.
public enum DatabaseKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The embedded SQLite file.
    case sqlite
    /// A real mariadbd (started by scripts/test.sh).
    case mariadb

    /// The backend's name.
    public var description: String { rawValue }
}

/// A fresh, migrated database for one test: a new SQLite file, or a new
/// database on the MariaDB server named by `FUNDQ_TEST_MYSQL_URL` (dropped
/// again on deinit).
public final class DatabaseFixture {
    /// Which backend.
    public let kind: DatabaseKind
    /// A folder for the embedded file and anything else the test writes.
    public let directory: TemporaryDirectory
    /// `mysql://…` for MariaDB; nil for SQLite.
    public let databaseURL: String?
    private let admin: MariaDBConnection?
    private let databaseName: String?

    /// A fixture for `kind`, migrated to the current schema.
    public init(_ kind: DatabaseKind, migrate: Bool = true) throws {
        self.kind = kind
        directory = try TemporaryDirectory(prefix: "fundq-db-\(kind)")
        switch kind {
        case .sqlite:
            databaseURL = nil
            admin = nil
            databaseName = nil
        case .mariadb:
            guard let shared = ProcessInfo.processInfo.environment["FUNDQ_TEST_MYSQL_URL"], !shared.isEmpty else {
                throw TestSetupError("FUNDQ_TEST_MYSQL_URL is not set: run the tests with scripts/test.sh, which starts mariadbd")
            }
            let base = try DatabaseURL(parsing: shared)
            let name = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
            let adminConnection = MariaDBConnection(url: base)
            try adminConnection.executeScript("CREATE DATABASE \(name) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            var url = base
            url.database = name
            admin = adminConnection
            databaseName = name
            databaseURL = "mysql://\(url.user):\(url.password ?? "")@\(url.host):\(url.port)/\(name)"
        }
        if migrate { try SchemaMigrator.migrate(try openDatabase()) }
    }

    deinit {
        if let admin, let databaseName { try? admin.executeScript("DROP DATABASE IF EXISTS \(databaseName)") }
    }

    /// Storage settings for this fixture (queues in its SQLite file).
    public var configuration: StorageConfiguration {
        StorageConfiguration(queueURL: nil, databaseURL: databaseURL, dataDirectory: directory.path, environment: [:])
    }

    /// A new connection to the fixture's database.
    public func openDatabase() throws -> any SQLConnection {
        try Storage.openDatabase(configuration)
    }

    /// Command-line flags selecting this fixture's database.
    public var flags: [String] {
        var f = ["--data-dir", directory.path]
        if let databaseURL { f += ["--db-url", databaseURL] }
        return f
    }
}
