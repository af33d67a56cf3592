import Core
public import Foundation

/// A private mariadbd child process (its own data folder and port), for
/// tests that stop and restart the database. Stopped on deinit.
public final class MariaDBServer {
    /// The TCP port it listens on.
    public let port: Int
    /// Its folder (data directory, socket, error log).
    public let directory: TemporaryDirectory
    private var process: Process?
    /// The certificates it serves TLS with, if any.
    public let certificates: TestCertificates?

    /// Password of the `fundq` user the server is set up with.
    public static let password = "fundq-private-test"

    /// Initialises a data directory, starts the server and creates database
    /// `fundq` and user `fundq` for TCP; with `certificates`, it also offers TLS.
    public init(certificates: TestCertificates? = nil) throws {
        self.certificates = certificates
        port = try FreePort.find()
        directory = try TemporaryDirectory(prefix: "fundq-mariadb")
        let install = Process()
        install.executableURL = try Executables.find("mariadb-install-db")
        install.arguments = ["--no-defaults", "--user=root", "--datadir=\(directory.file("data"))",
                             "--auth-root-authentication-method=socket", "--skip-test-db"]
        install.standardOutput = FileHandle.nullDevice
        install.standardError = FileHandle.nullDevice
        try install.run()
        install.waitUntilExit()
        guard install.terminationStatus == 0 else { throw TestSetupError("mariadb-install-db failed") }
        try start()
        try administer("CREATE DATABASE fundq; CREATE USER 'fundq'@'127.0.0.1' IDENTIFIED BY '\(MariaDBServer.password)'; "
                           + "GRANT ALL ON fundq.* TO 'fundq'@'127.0.0.1';")
    }

    /// Runs `sql` as root over the server's socket.
    public func administer(_ sql: String) throws {
        let client = Process()
        client.executableURL = try Executables.find("mariadb")
        client.arguments = ["--no-defaults", "--socket=\(directory.file("mysql.sock"))", "-uroot", "-e", sql]
        try client.run()
        client.waitUntilExit()
        guard client.terminationStatus == 0 else { throw TestSetupError("root could not run \(sql.prefix(60))") }
    }

    deinit { stop(signal: SIGKILL) }

    /// `mysql://fundq:…@127.0.0.1:PORT/fundq`.
    public var url: String { "mysql://fundq:\(MariaDBServer.password)@127.0.0.1:\(port)/fundq" }

    /// Starts (or restarts) the server on the same port and data, and waits
    /// until it accepts connections.
    public func start() throws {
        let p = Process()
        p.executableURL = try Executables.find("mariadbd")
        p.arguments = ["--no-defaults", "--user=root", "--datadir=\(directory.file("data"))", "--socket=\(directory.file("mysql.sock"))",
                       "--port=\(port)", "--bind-address=127.0.0.1", "--skip-name-resolve", "--character-set-server=utf8mb4",
                       "--collation-server=utf8mb4_unicode_ci", "--innodb-buffer-pool-size=64M",
                       "--log-error=\(directory.file("error.log"))"]
            + (certificates.map { ["--ssl-ca=\($0.authority)", "--ssl-cert=\($0.serverCertificate)", "--ssl-key=\($0.serverKey)"] } ?? [])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let up = eventually(timeout: 60, poll: 0.1) {
            FileManager.default.fileExists(atPath: directory.file("mysql.sock")) && (try? probe()) == true
        }
        guard up else {
            throw TestSetupError("mariadbd on port \(port) did not start: "
                + "\((try? String(contentsOfFile: directory.file("error.log"), encoding: .utf8)) ?? "")")
        }
    }

    private func probe() throws -> Bool {
        let admin = Process()
        admin.executableURL = try Executables.find("mariadb-admin")
        admin.arguments = ["--no-defaults", "--socket=\(directory.file("mysql.sock"))", "-uroot", "ping"]
        admin.standardOutput = FileHandle.nullDevice
        admin.standardError = FileHandle.nullDevice
        try admin.run()
        admin.waitUntilExit()
        return admin.terminationStatus == 0
    }

    /// Stops the server with `signal` and waits for it to exit.
    public func stop(signal: Int32 = SIGTERM) {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, signal)
        p.waitUntilExit()
        process = nil
    }
}
