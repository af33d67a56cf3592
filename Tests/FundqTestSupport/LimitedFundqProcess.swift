import Foundation

extension FundqProcess {
    /// Starts `fundq ARGS` through `sh -c 'ulimit -n LIMIT; exec …'`, so the
    /// child runs with at most `fileDescriptorLimit` open files.
    public static func spawn(_ arguments: [String], fileDescriptorLimit: Int, environment: [String: String] = [:],
                             outputIn directory: TemporaryDirectory) throws -> SpawnedProcess {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -n \(fileDescriptorLimit) && exec \"$0\" \"$@\"", try binary().path] + arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["FUNDQ_QUEUE_URL", "FUNDQ_DB_URL"] { env.removeValue(forKey: key) }
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
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return SpawnedProcess(process: p, stdoutPath: outPath, stderrPath: errPath)
    }
}

extension SpawnedProcess {
    /// What it has written to standard error so far.
    public var standardErrorSoFar: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Its thread count, from /proc (Linux).
    public var threadCount: Int? { procStatus("Threads:") }

    /// Its open file descriptors, from /proc (Linux).
    public var openFileDescriptors: Int? { try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count }

    /// Its resident memory in KiB, from /proc (Linux).
    public var residentKiB: Int? { procStatus("VmRSS:") }

    private func procStatus(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return nil }
        return Int(line.dropFirst(field.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
}
