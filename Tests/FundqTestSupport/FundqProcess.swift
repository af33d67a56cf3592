public import Foundation

/// The built `fundq` executable, run as a real child process.
public enum FundqProcess {
    /// What a finished run printed and how it exited.
    public struct Result: Sendable {
        /// Exit status.
        public let status: Int32
        /// Standard output.
        public let stdout: String
        /// Standard error.
        public let stderr: String
        /// Standard output split into non-empty lines.
        public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    }

    /// Path of the `fundq` binary built beside the test bundle
    /// (`FUNDQ_BINARY` overrides).
    public static func binary() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["FUNDQ_BINARY"] { return URL(fileURLWithPath: override) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("fundq")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw TestSetupError("cannot find the fundq binary near \(CommandLine.arguments[0]); run swift build first or set FUNDQ_BINARY")
    }

    /// Starts `fundq ARGS` with standard output and error sent to files in
    /// `directory`; the caller waits for or kills it. Its embedded store is
    /// `directory/var` unless `environment` or `--data-dir` says otherwise:
    /// never the package's ./var, which tests running at once would share.
    /// `wrappedBy` runs it through another command (`setpriv --reuid=…` to
    /// run as another user).
    public static func spawn(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                             outputIn directory: TemporaryDirectory, wrappedBy wrapper: [String] = []) throws -> SpawnedProcess {
        let p = Process()
        if let command = wrapper.first {
            p.executableURL = URL(fileURLWithPath: command)
            p.arguments = Array(wrapper.dropFirst()) + [try binary().path] + arguments
        } else {
            p.executableURL = try binary()
            p.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "FUNDQ_QUEUE_URL")
        env.removeValue(forKey: "FUNDQ_DB_URL")
        env.removeValue(forKey: "FUNDQ_DATA_DIR")
        for name in ["FUNDQ_QUEUE_URL_FILE", "FUNDQ_DB_URL_FILE", "FUNDQ_QUEUE_PASSWORD", "FUNDQ_QUEUE_PASSWORD_FILE", "FUNDQ_DB_PASSWORD",
                     "FUNDQ_DB_PASSWORD_FILE", "FUNDQ_SECRETS_FILE"] {
            env.removeValue(forKey: name)
        }
        env["FUNDQ_DATA_DIR"] = directory.file("var")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let id = UUID().uuidString.prefix(8)
        let outPath = directory.file("out-\(id)")
        let errPath = directory.file("err-\(id)")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let input = Pipe()
        p.standardInput = input
        try p.run()
        if let stdin { try input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        return SpawnedProcess(process: p, stdoutPath: outPath, stderrPath: errPath)
    }

    /// Runs `fundq ARGS` to completion (its embedded store, unless one is
    /// given, is in a new temporary directory).
    public static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                           wrappedBy wrapper: [String] = []) throws -> Result {
        let dir = try TemporaryDirectory(prefix: "fundq-run")
        let spawned = try spawn(arguments, stdin: stdin, environment: environment, outputIn: dir, wrappedBy: wrapper)
        return spawned.wait()
    }
}

/// A running `fundq` child process.
public final class SpawnedProcess {
    /// The process.
    public let process: Process
    let stdoutPath: String
    let stderrPath: String

    init(process: Process, stdoutPath: String, stderrPath: String) {
        self.process = process
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// Its pid.
    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal`.
    public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for it to exit and collects its output.
    public func wait() -> FundqProcess.Result {
        process.waitUntilExit()
        return FundqProcess.Result(
            status: process.terminationStatus,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}
