public import Backends
import Core
import Foundation

/// Queues and database together, as a consumer sees them: a private
/// redis-server (consumers use the fixed queue names `pending` and
/// `donations`, so tests running at once must not share a server) or the
/// embedded file, and a fresh SQLite or MariaDB database.
public final class StackFixture {
    /// The database.
    public let database: DatabaseFixture
    /// The private Redis server, when queues are in Redis.
    public let redis: RedisServer?

    /// A stack with queues on `queue` and stores on `database`.
    public init(queue: QueueBackendKind, database: DatabaseKind) throws {
        self.database = try DatabaseFixture(database)
        redis = queue == .redis ? try RedisServer() : nil
    }

    /// Storage settings for the stack.
    public var configuration: StorageConfiguration {
        StorageConfiguration(queueURL: redis?.url, databaseURL: database.databaseURL, dataDirectory: database.directory.path,
                             environment: [:])
    }

    /// Opens new connections to the stack.
    public func open() throws -> Storage { try Storage(configuration) }

    /// Command-line flags selecting the stack.
    public var flags: [String] {
        var f = database.flags
        if let redis { f += ["--queue-url", redis.url] }
        return f
    }
}
