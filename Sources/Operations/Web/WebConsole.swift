public import Backends
import Core
import Foundation
import Hummingbird
public import Logging
import Rectifier

/// `fundq web`: the operator's console on Hummingbird. Every page needs a
/// session (signed in with the console token); every action is a POST that
/// needs the session, its CSRF token, a same-origin request and a reason,
/// and is done through ``ManualActions`` (so it lands in the audit log).
public final class WebConsole: Sendable {
    /// The address served.
    public let host: String
    /// The port served.
    public let port: Int
    private let server: BackgroundServer

    /// Starts serving `host:port` for the stores `storage` names; returns once it listens.
    public init(host: String, port: Int, token: String, storage: StorageConfiguration, logger: Logger) throws {
        let sessions = WebSessions(token: token)
        let router = Router()
        router.middlewares.add(WebAccessLog(logger: logger))
        WebRoutes(sessions: sessions, storage: storage).add(to: router)
        server = try BackgroundServer(router: router, idleTimeoutSeconds: 30, host: host, port: port, name: "the console", logger: logger)
        self.host = host
        self.port = server.port
    }

    /// Stops serving.
    public func stop() { server.stop() }

    /// Whether `host` is a loopback address (the console refuses others unless told).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// One line per request on the logger: method, path, status, milliseconds.
struct WebAccessLog<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let ms = Int((ContinuousClock.now - start) / .milliseconds(1))
        logger.info("\(request.method) \(request.uri.path) \(response.status.code) \(ms) ms")
        return response
    }
}
