import Core
public import Foundation
import RedisDriver

/// A real redis-server child process on a free loopback port, for tests that
/// need their own server (to kill or restart it). Stopped on deinit.
public final class RedisServer {
    /// The port it listens on.
    public let port: Int
    /// Its working folder (AOF files live here).
    public let directory: TemporaryDirectory
    /// Whether it writes an append-only file fsynced on every write.
    public let durable: Bool
    /// The password clients must give (`requirepass`), if any.
    public let password: String?
    private var process: Process?

    /// Starts a server; with `durable`, `appendonly yes` and `appendfsync always`;
    /// with `password`, `requirepass`.
    public init(durable: Bool = false, port: Int? = nil, password: String? = nil) throws {
        self.port = try port ?? FreePort.find()
        self.directory = try TemporaryDirectory(prefix: "fundq-redis")
        self.durable = durable
        self.password = password
        try start()
    }

    deinit { kill(signal: SIGKILL) }

    /// The server's URL (without the password).
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts (or restarts) the server on the same port and folder, and waits
    /// until it answers PING.
    public func start() throws {
        let p = Process()
        p.executableURL = try Executables.find("redis-server")
        var args = ["--bind", "127.0.0.1", "--port", String(port), "--dir", directory.path, "--save", "", "--protected-mode", "no"]
        args += durable ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        if let password { args += ["--requirepass", password] }
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let connection = RedisConnection(url: try RedisURL(parsing: url, password: password), connectTimeoutMilliseconds: 200)
        let up = eventually(timeout: 20, poll: 0.01) {
            (try? connection.command("PING", context: "waiting for redis-server")) == .status("PONG")
        }
        guard up else { throw TestSetupError("redis-server on port \(port) did not answer PING") }
    }

    /// Sends `signal` to the server and waits for it to exit.
    public func kill(signal: Int32 = SIGKILL) {
        guard let p = process, p.isRunning else { return }
        Foundation.kill(p.processIdentifier, signal)
        p.waitUntilExit()
        process = nil
    }

    /// The Redis URL for the suite: `FUNDQ_TEST_REDIS_URL` when the test
    /// script started a shared server, else `nil` (start a private one).
    public static var sharedURL: String? {
        ProcessInfo.processInfo.environment["FUNDQ_TEST_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A failure to set up a test's environment.
public struct TestSetupError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Finding free loopback ports.
public enum FreePort {
    /// A TCP port nobody listens on right now.
    public static func find() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw TestSetupError("bind() failed") }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Locating programs the tests run.
public enum Executables {
    /// The full path of `name` on PATH (or in /usr/sbin, /usr/bin).
    public static func find(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
            let candidate = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw TestSetupError("\(name) not found on PATH: run scripts/test.sh, which installs it")
    }
}
