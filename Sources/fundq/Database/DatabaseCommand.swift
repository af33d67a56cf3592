import ArgumentParser
import Backends
import Core

/// `fundq db …`: the database schema.
struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the database schema; show where the bytes are.",
        subcommands: [DatabaseMigrateCommand.self, DatabaseStatusCommand.self, DatabaseStatsCommand.self]
    )
}

/// `fundq db migrate`.
struct DatabaseMigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the schema migrations this fundq needs (safe to run again, and from several processes).")

    @OptionGroup var storage: StorageOptions

    func run() throws {
        let database = try Storage.openDatabase(storage.configuration)
        let applied = try SchemaMigrator.migrate(database)
        if applied.isEmpty {
            Output.note("\(database.location) is at schema version \(SchemaMigrator.currentVersion); nothing to do")
        } else {
            Output.note("\(database.location): applied migration\(applied.count == 1 ? "" : "s") "
                + "\(applied.map(String.init).joined(separator: ", ")); now at version \(SchemaMigrator.currentVersion)")
        }
    }
}

/// `fundq db status`.
struct DatabaseStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print the database's schema version and the one this fundq needs; exit 1 when they differ.")

    @OptionGroup var storage: StorageOptions

    @Flag(help: "Print the result as JSON (still exit 1 when the versions differ).")
    var json = false

    func run() throws {
        let database = try Storage.openDatabase(storage.configuration, readOnly: true)
        let installed = try SchemaMigrator.installedVersion(database)
        if json {
            try Output.json(.object(["database": .string(database.location), "schema_version": Output.number(installed),
                                     "expected_schema_version": Output.number(SchemaMigrator.currentVersion),
                                     "up_to_date": .bool(installed == SchemaMigrator.currentVersion)]))
        } else {
            try Output.line("\(database.location): schema version \(installed), this fundq needs \(SchemaMigrator.currentVersion)")
        }
        try SchemaMigrator.check(database)
    }
}
