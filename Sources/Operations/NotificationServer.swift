public import Core
import Foundation
import Hummingbird
public import Logging
import HummingbirdCore

/// `fundq ipn`'s listener on Hummingbird: every POST (any path) goes, as an
/// ``InboundNotification``, to a blocking handler run off the event loops
/// (a processor's ``NotificationHandler``); other methods are answered 405.
/// Keep-alive and chunked bodies come from Hummingbird; each request is
/// logged (method, path, status) without its body.
public final class NotificationServer: Sendable {
    /// The port bound (the one asked for, or the one picked for 0).
    public let port: Int
    private let server: BackgroundServer

    /// Binds `host:port` with `limits` and serves until ``stop()``.
    public init(host: String, port: Int, limits: HTTPServerLimits, logger: Logger,
                handle: @escaping @Sendable (InboundNotification) -> NotificationReply) throws {
        let router = Router()
        router.add(middleware: AccessLogMiddleware(logger: logger))
        let bodyLimit = limits.maximumBodyBytes
        let requestTimeout = limits.requestTimeout
        router.post("**") { request, _ in
            if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > bodyLimit {
                throw HTTPError(.contentTooLarge, headers: [.connection: "close"], message: "the body exceeds \(bodyLimit) bytes\n")
            }
            let body = try await NotificationServer.collect(request.body, upTo: bodyLimit, within: requestTimeout)
            let notification = InboundNotification(path: request.uri.path, headers: NotificationServer.fields(request.headers),
                                                   body: Array(buffer: body))
            let reply = try await Blocking.run { handle(notification) }
            return Response(status: .init(code: reply.status), headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: reply.text)))
        }
        router.get("**") { _, _ -> Response in
            Response(status: .methodNotAllowed, headers: [.allow: "POST"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: "POST only\n")))
        }
        let idle = limits.idleTimeout.components
        let http = HTTP1Channel.Configuration(
            idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000),
            httpDecoderConfiguration: HTTP1Channel.Configuration.DecoderConfiguration(
                maxHeaderFieldSize: limits.maximumHeaderBytes, maxHeaderListSize: limits.maximumHeaderBytes))
        server = try BackgroundServer(router: router, http: http, host: host, port: port, name: "ipn",
                                      maximumConnections: limits.maximumConnections, logger: logger)
        self.port = server.port
    }

    /// Stops serving.
    public func stop() { server.stop() }

    /// Header fields by lowercased name, repeated ones joined with ", ".
    static func fields(_ headers: HTTPFields) -> [String: String] {
        headers.reduce(into: [:]) { fields, field in
            let name = field.name.canonicalName
            fields[name] = fields[name].map { $0 + ", " + field.value } ?? field.value
        }
    }

    /// The whole body, at most `limit` bytes (413 beyond), arrived within
    /// `timeout` (408 beyond: the read timeout against slow senders, which
    /// the idle timeout, reset by every part read, does not catch).
    static func collect(_ body: RequestBody, upTo limit: Int, within timeout: Duration) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw HTTPError(.requestTimeout, headers: [.connection: "close"], message: "the request did not arrive within \(timeout)\n")
            }
            return buffer
        }
    }
}

/// One access-log line per request, once answered: method, path (no query
/// string), status and time taken. Bodies are never logged.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, status: response.status.code, since: started)
            return response
        } catch let error as any HTTPResponseError {
            log(request, status: error.status.code, since: started)
            throw error
        } catch {
            log(request, status: 500, since: started)
            throw error
        }
    }

    private func log(_ request: Request, status: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        logger.info("\(request.method.rawValue) \(request.uri.path) \(status) \(milliseconds)ms")
    }
}
