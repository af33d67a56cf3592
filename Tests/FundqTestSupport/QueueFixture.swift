public import Backends
import Core
import Foundation

/// The queue backends every contract test runs against.
public enum QueueBackendKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// The embedded SQLite file.
    case sqlite
    /// A real redis-server.
    case redis

    /// The backend's name.
    public var description: String { rawValue }
}

/// Everything one test needs for one backend: a data folder, a Redis
/// server (the shared one, or a private one), a unique queue name, and a
/// way to open connections (one per thread or process).
public final class QueueFixture {
    /// Which backend.
    public let kind: QueueBackendKind
    /// The embedded file's folder (also holds the damaged store).
    public let directory: TemporaryDirectory
    /// A private server, when no shared one was given.
    public let privateRedis: RedisServer?
    /// The storage settings for this fixture.
    public let configuration: StorageConfiguration
    /// A queue name no other test uses.
    public let queueName: String

    /// A fixture for `kind`.
    public init(_ kind: QueueBackendKind) throws {
        self.kind = kind
        directory = try TemporaryDirectory(prefix: "fundq-\(kind)")
        var queueURL: String? = nil
        if kind == .redis {
            if let shared = RedisServer.sharedURL {
                privateRedis = nil
                queueURL = shared
            } else {
                let server = try RedisServer()
                privateRedis = server
                queueURL = server.url
            }
        } else {
            privateRedis = nil
        }
        configuration = StorageConfiguration(queueURL: queueURL, databaseURL: nil, dataDirectory: directory.path, environment: [:])
        queueName = uniqueQueueName()
    }

    /// Opens a new set of connections.
    public func open() throws -> Storage { try Storage(configuration) }

    /// Command-line flags selecting this fixture's stores.
    public var flags: [String] {
        var f = ["--data-dir", directory.path]
        if let url = configuration.queueURL { f += ["--queue-url", url] }
        return f
    }
}
