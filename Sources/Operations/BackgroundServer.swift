import Core
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Synchronization

/// A Hummingbird application serving a router on its own event loops beside
/// a process's synchronous run loop: started (and bound) before the
/// initializer returns, stopped by cancelling its task.
struct BackgroundServer: Sendable {
    /// The port bound (the one asked for, or the one picked for 0).
    let port: Int
    private let task: Task<Void, any Error>

    /// Serves `router` on `host:port`; connections idle for `idleTimeoutSeconds` are closed.
    init(router: Router<BasicRequestContext>, idleTimeoutSeconds: Int64? = nil, host: String, port: Int, name: String,
         logger: Logger) throws {
        try self.init(router: router, http: .init(idleTimeout: idleTimeoutSeconds.map { .seconds($0) }), host: host, port: port,
                      name: name, maximumConnections: nil, logger: logger)
    }

    /// Serves `router` on `host:port` with HTTP/1.1 settings `http`, at most
    /// `maximumConnections` at once (further ones wait in the listen backlog).
    init(router: Router<BasicRequestContext>, http: HTTP1Channel.Configuration, host: String, port: Int, name: String,
         maximumConnections: Int?, logger: Logger) throws {
        let bound = Mutex<Int?>(nil)
        let failure = Mutex<String?>(nil)
        let listening = DispatchSemaphore(value: 0)
        let cap: (any AvailableConnectionsDelegate)? = maximumConnections.map { MaximumAvailableConnections($0) }
        let app = Application(
            router: router, server: .http1(configuration: http),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: name,
                                                    availableConnectionsDelegate: cap),
            onServerRunning: { channel in
                bound.withLock { $0 = channel.localAddress?.port }
                listening.signal()
            },
            logger: logger)
        task = Task.detached {
            do {
                try await app.run()
            } catch {
                failure.withLock { $0 = "\(error)" }
                listening.signal()
                throw error
            }
        }
        listening.wait()
        if let why = failure.withLock({ $0 }) { throw ConfigurationError("cannot serve \(name) on \(host):\(port): \(why)") }
        self.port = bound.withLock { $0 } ?? port
    }

    /// Stops serving.
    func stop() { task.cancel() }
}
