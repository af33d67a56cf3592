import Foundation

/// A `fundq ipn` child serving one processor's notifications on a free
/// loopback port: pointed at a sandbox, writing to its own data folder.
public struct NotificationListener {
    /// The sandbox the processor's settings point at.
    public let fixture: SandboxFixture
    /// The listener's data folder (its queues and damaged store).
    public let directory: TemporaryDirectory
    /// The child process.
    public let process: SpawnedProcess
    /// The port it listens on.
    public let port: Int

    /// `http://127.0.0.1:PORT/ipn`.
    public var url: String { "http://127.0.0.1:\(port)/ipn" }

    /// Starts `fundq ipn --processor processor --port PORT` plus `flags`, with
    /// the sandbox's environment and `settings` (under a descriptor limit when given).
    public static func start(processor: String, _ flags: [String] = [], settings: [String: String] = [:],
                             fileDescriptorLimit: Int? = nil) throws -> NotificationListener {
        let fixture = try SandboxFixture()
        let directory = try TemporaryDirectory()
        let port = try FreePort.find()
        var environment = fixture.environment(settings)
        environment["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        environment["FUNDQ_DATA_DIR"] = directory.path
        let arguments = ["ipn", "--processor", processor, "--port", String(port)] + flags
        let process = try fileDescriptorLimit.map {
            try FundqProcess.spawn(arguments, fileDescriptorLimit: $0, environment: environment, outputIn: directory)
        } ?? FundqProcess.spawn(arguments, environment: environment, outputIn: directory)
        return NotificationListener(fixture: fixture, directory: directory, process: process, port: port)
    }
}
