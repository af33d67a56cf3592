import Core
import Foundation
import FundqTestSupport
import MariaDBDriver
import SQLiteDriver
import Testing

/// Commands that only look never write: no store created where there is
/// none, a read-only file opened as it is, a SELECT-only MariaDB user served.
@Suite("Read-only commands")
struct ReadOnlyTests {
    static let readCommands: [[String]] = [
        ["queue", "stats"], ["queue", "peek", "pending"], ["pending", "list"], ["pending", "show", "paypal", "x"], ["damaged", "list"],
        ["damaged", "show", "1"], ["rectify", "log"], ["tracking", "list"], ["tracking", "show", "1"], ["impressions", "report"],
        ["impressions", "rejects"], ["db", "status"],
    ]

    @Test func aReadCommandWhereThereIsNoStoreCreatesNoneAndSaysWhereItLooked() throws {
        let dir = try TemporaryDirectory()
        let dataDirectory = dir.file("var")
        for command in Self.readCommands {
            let r = try FundqProcess.run(command + ["--data-dir", dataDirectory])
            #expect(r.status == 1, "\(command): \(r.stdout)")
            #expect(r.stderr.contains("no fundq store at \(dataDirectory)/fundq.sqlite"), "\(command): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dataDirectory), "\(command) created \(dataDirectory)")
        }
    }

    /// Runs fundq as another user (nobody) when the tests run as root, else
    /// as this user: either way a user who may not write the store.
    static func runAsReader(_ arguments: [String]) throws -> FundqProcess.Result {
        guard getuid() == 0 else { return try FundqProcess.run(arguments) }
        return try FundqProcess.run(arguments, wrappedBy: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    }

    @Test func aUserWhoMayOnlyReadTheFileCanLookAndIsToldWhenHeMayNot() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        let path = dir.file("fundq.sqlite")
        let rows = (1...3).map { #"{"gateway":"paypal","order_id":"ro-\#($0)","date":1764000000}"# }.joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", "pending", "--lines"] + flags, stdin: rows).status == 0)
        #expect(try FundqProcess.run(["consume", "pending"] + flags).status == 0)
        #expect(try FundqProcess.run(["queue", "push", "donations"] + flags, stdin: validDonation(1)).status == 0)
        // Readable by all, writable by nobody but its owner; the folder too (no -wal or -shm may be created).
        #expect(chmod(dir.path, getuid() == 0 ? 0o755 : 0o555) == 0 && chmod(path, 0o444) == 0)
        defer { chmod(dir.path, 0o755) }
        for command in [["queue", "stats"], ["pending", "list"], ["damaged", "list"], ["rectify", "log"], ["db", "status"]] {
            let r = try Self.runAsReader(command + flags)
            #expect(r.status == 0, "\(command): \(r.stderr)")
        }
        let stats = try Self.runAsReader(["queue", "stats"] + flags)
        #expect(stats.lines.contains { $0.hasPrefix("donations ") }, "\(stats.stdout)")
        let listed = try Self.runAsReader(["pending", "list"] + flags)
        #expect(listed.stdout.components(separatedBy: "ro-").count - 1 == 3, "\(listed.stdout)")
        let mode = try SQLiteDatabase(path: path, readOnly: true).query("PRAGMA journal_mode", []).first?.first?.string
        #expect(mode == "wal")

        // Not even readable: SQLite's error 14 says permission denied, and on which path.
        #expect(chmod(path, 0o200) == 0)
        let denied = try Self.runAsReader(["queue", "stats"] + flags)
        #expect(denied.status == 1)
        #expect(denied.stderr.contains("permission denied: this user may not read \(path)"), "\(denied.stderr)")
    }

    @Test func dbStatusServesASelectOnlyUserAndAPasswordErrorIsAConnectionError() throws {
        let db = try DatabaseFixture(.mariadb)
        let url = try DatabaseURL(parsing: try #require(db.databaseURL))
        let admin = MariaDBConnection(url: url)
        let user = "ro_" + UUID().uuidString.prefix(8).lowercased()
        try admin.executeScript("CREATE USER '\(user)'@'127.0.0.1' IDENTIFIED BY 'reader-pw'")
        defer { try? admin.executeScript("DROP USER '\(user)'@'127.0.0.1'") }
        try admin.executeScript("GRANT SELECT ON \(url.database).* TO '\(user)'@'127.0.0.1'")
        let reader = "mysql://\(user):reader-pw@\(url.host):\(url.port)/\(url.database)"
        let dir = try TemporaryDirectory()
        let status = try FundqProcess.run(["db", "status", "--db-url", reader, "--data-dir", dir.path])
        #expect(status.status == 0, "\(status.stderr)")
        let version = SchemaMigrator.currentVersion
        #expect(status.stdout.contains("schema version \(version), this fundq needs \(version)"), "\(status.stdout)")
        let listed = try FundqProcess.run(["pending", "list", "--db-url", reader, "--data-dir", dir.path])
        #expect(listed.status == 0, "\(listed.stderr)")

        let wrong = "mysql://\(user):not-the-password@\(url.host):\(url.port)/\(url.database)"
        let refused = try FundqProcess.run(["db", "status", "--db-url", wrong, "--data-dir", dir.path])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("cannot connect to MariaDB at \(url.host):\(url.port) (while connecting as \(user) to database"),
                "\(refused.stderr)")
        #expect(refused.stderr.contains("error 1045") && !refused.stderr.contains("CREATE") && !refused.stderr.contains("not-the-password"))
    }
}
