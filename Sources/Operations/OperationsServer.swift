import Core
import Foundation
import Hummingbird
public import Logging

/// What `/ready` asks: each backend by name, nil when it answers, else why not.
public typealias ReadinessCheck = @Sendable () -> [(backend: String, problem: String?)]

/// The HTTP endpoints of a long-running process (`--metrics-listen`), on
/// Hummingbird: `/metrics` (Prometheus text), `/health` (the process is
/// alive and serving) and `/ready` (its backends answer: 200, else 503
/// naming each one that does not). It runs on Hummingbird's own event loop
/// threads beside the process's synchronous run loop; checks and samples
/// that block on the stores run on a dispatch queue, not on the event loop.
public final class OperationsServer: Sendable {
    /// The address served.
    public let host: String
    /// The port served (the one bound when 0 was asked for).
    public let port: Int
    private let server: BackgroundServer

    /// Binds `host:port` and starts serving; returns once the socket listens.
    /// `render` produces the `/metrics` body; `ready` checks the backends.
    public init(host: String, port: Int, logger: Logger, render: @escaping @Sendable () -> [UInt8],
                ready: @escaping ReadinessCheck) throws {
        let router = Router()
        router.get("health") { _, _ in "ok\n" }
        router.get("metrics") { _, _ in
            let body = try await Blocking.run(render)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("ready") { _, _ in
            let results = try await Blocking.run(ready)
            let failing = results.filter { $0.problem != nil }
            let lines = results.map { "\($0.backend): \($0.problem.map { SecretMasking.urls(in: $0) } ?? "ok")" }
            let text = lines.joined(separator: "\n") + "\n"
            return Response(status: failing.isEmpty ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        server = try BackgroundServer(router: router, host: host, port: port, name: "metrics", logger: logger)
        self.host = host
        self.port = server.port
    }

    /// Stops serving.
    public func stop() {
        server.stop()
    }

    /// Parses `HOST:PORT` (`127.0.0.1:9101`, `[::1]:9101`).
    public static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
