import Core
import Foundation
import FundqTestSupport
import MariaDBDriver
import RedisDriver
import Testing

/// Redis and MariaDB over Unix sockets: `redis+unix:///PATH`,
/// `mysql+unix://USER:PASSWORD@/PATH/DB`.
@Suite("Unix sockets")
struct UnixSocketTests {
    @Test func queuesInARedisListeningOnAUnixSocket() throws {
        let dir = try TemporaryDirectory()
        let socket = dir.file("redis.sock")
        let server = Process()
        server.executableURL = try Executables.find("redis-server")
        server.arguments = ["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--dir", dir.path, "--save", "",
                            "--appendonly", "no"]
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let url = "redis+unix://\(socket)"
        let ping = RedisConnection(url: try RedisURL(parsing: url), connectTimeoutMilliseconds: 200)
        #expect(eventually(timeout: 20, poll: 0.02) { (try? ping.command("PING", context: "waiting")) == .status("PONG") })

        let flags = ["--queue-url", url, "--data-dir", dir.path]
        #expect(try FundqProcess.run(["queue", "push", "crm"] + flags, stdin: #"{"n":1}"#).status == 0)
        let stats = try FundqProcess.run(["queue", "stats", "crm", "--json"] + flags)
        #expect(stats.status == 0 && stats.stdout.contains(#""waiting":1"#), "\(stats.stdout) \(stats.stderr)")
        let popped = try FundqProcess.run(["queue", "pop", "crm"] + flags)
        #expect(popped.lines.count == 1 && popped.lines[0].hasPrefix(#"{"n":1,"#), "\(popped.stdout)")

        let missing = try FundqProcess.run(["queue", "stats", "--queue-url", "redis+unix://:sock-secret-pw@\(dir.file("none.sock"))",
                                            "--data-dir", dir.path])
        #expect(missing.status == 1 && missing.stderr.contains(dir.file("none.sock")), "\(missing.stderr)")
        #expect(!missing.stderr.contains("sock-secret-pw"))
    }

    @Test func aMariaDBDatabaseOverItsUnixSocket() throws {
        let db = try DatabaseFixture(.mariadb)
        let url = try DatabaseURL(parsing: try #require(db.databaseURL))
        let admin = MariaDBConnection(url: url)
        let socket = try #require(try admin.query("SELECT @@socket", []).first?.first?.string)
        let user = "sock_" + UUID().uuidString.prefix(8).lowercased()
        try admin.executeScript("CREATE USER '\(user)'@'localhost' IDENTIFIED BY 'sock-pw'")
        defer { try? admin.executeScript("DROP USER '\(user)'@'localhost'") }
        try admin.executeScript("GRANT ALL ON \(url.database).* TO '\(user)'@'localhost'")
        let dir = try TemporaryDirectory()
        let flags = ["--db-url", "mysql+unix://\(user):sock-pw@\(socket)/\(url.database)", "--data-dir", dir.path]
        let status = try FundqProcess.run(["db", "status"] + flags)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.hasPrefix("mysql+unix://\(user):***@\(socket)/\(url.database): schema version"), "\(status.stdout)")
        #expect(try FundqProcess.run(["queue", "push", "pending"] + flags,
                                     stdin: #"{"gateway":"paypal","order_id":"u-1","date":1764000000}"#).status == 0)
        #expect(try FundqProcess.run(["consume", "pending"] + flags).status == 0)
        let listed = try FundqProcess.run(["pending", "list"] + flags)
        #expect(listed.status == 0 && listed.stdout.contains("u-1"), "\(listed.stdout) \(listed.stderr)")
    }
}
