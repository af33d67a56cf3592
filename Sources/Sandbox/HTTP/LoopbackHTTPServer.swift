public import Core
import Foundation
public import Logging
import Synchronization

/// A request as ``LoopbackHTTPServer`` hands it over.
public struct HTTPServerRequest: Sendable {
    /// `GET`, `POST`, …
    public let method: String
    /// The path, query string removed.
    public let path: String
    /// Header fields, names lowercased.
    public let headers: [String: String]
    /// The body.
    public let body: [UInt8]
    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// The answer to a request: a response (possibly late), or a
/// misbehaviour at the socket level (for the sandbox) that a web framework would hide.
public enum HTTPServerReply: Sendable {
    /// An HTTP response after `delay`.
    case response(status: Int, contentType: String, body: [UInt8], delay: Duration)
    /// The connection is reset (TCP RST) without an answer.
    case reset
    /// Nothing is sent for `duration`, then the connection is closed.
    case stall(Duration)

    /// A 200 response with `text`.
    public static func ok(_ text: String, contentType: String, delay: Duration = .zero) -> HTTPServerReply {
        .response(status: 200, contentType: contentType, body: Array(text.utf8), delay: delay)
    }
}

/// A small HTTP/1.1 server on a loopback port, one thread per connection,
/// keep-alive, `Content-Length` bodies. Real sockets and real HTTP, so
/// adapters talk to it exactly as to a processor. Bounded by
/// ``HTTPServerLimits``: connections beyond the cap are answered 503 at
/// once (with `Retry-After`, costing neither a thread nor a buffer);
/// oversized, unframed or slow requests are answered 431, 413, 411, 400, 501
/// or 408 and closed (the request timeout also bounds each write); accept failures (out of file descriptors,
/// memory) are logged and retried after a pause, never the end of accepting.
public final class LoopbackHTTPServer: Sendable {
    /// The port it listens on.
    public let port: Int
    /// The limits it enforces.
    public let limits: HTTPServerLimits
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    private let active = Atomic<Int>(0)
    private let logger: Logger
    private let handler: @Sendable (HTTPServerRequest) -> HTTPServerReply

    /// Listens on 127.0.0.1:`port` (0 picks a free port) and serves
    /// requests with `handler` on background threads, within `limits`.
    public init(port: Int = 0, limits: HTTPServerLimits = HTTPServerLimits(), logger: Logger = Logger(label: "fundq.http.server"),
                handler: @escaping @Sendable (HTTPServerRequest) -> HTTPServerReply) throws {
        guard limits.maximumConnections >= 1, limits.maximumHeaderBytes >= 256, limits.maximumBodyBytes >= 0,
              limits.requestTimeout > .zero, limits.idleTimeout > .zero else {
            throw HTTPServerError("server limits must be positive (connections ≥ 1, header bytes ≥ 256, timeouts > 0)")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError("socket(): \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 128) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw HTTPServerError("cannot listen on 127.0.0.1:\(port): \(why)")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.limits = limits
        self.logger = logger
        listener = fd
        self.handler = handler
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops accepting connections.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    /// Connections being served now.
    public var activeConnections: Int { active.load(ordering: .relaxed) }

    private func acceptLoop() {
        var failures = AcceptFailures()
        var refusedForCapacity = 0
        while !stopped.load(ordering: .relaxed) {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                let code = errno
                if stopped.load(ordering: .relaxed) { return }
                if code == EINTR || code == ECONNABORTED { continue }  // a signal; a client gone before accept
                if let message = failures.record(code) { logger.error("\(message)") }
                Thread.sleep(forTimeInterval: failures.pause.seconds)
                continue
            }
            if let message = failures.recovered() { logger.notice("\(message)") }
            guard active.load(ordering: .relaxed) < limits.maximumConnections else {
                if refusedForCapacity == 0 {
                    logger.warning("\(limits.maximumConnections) connections already open (the limit): answering 503 to further ones")
                }
                refusedForCapacity += 1
                refuseAtOnce(connection)
                continue
            }
            if refusedForCapacity > 0 {
                logger.notice("below the connection limit again after answering 503 to \(refusedForCapacity) connections")
                refusedForCapacity = 0
            }
            active.add(1, ordering: .relaxed)
            var one: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var sendTimeout = timeval(tv_sec: Int(limits.requestTimeout.components.seconds), tv_usec: 0)
            if sendTimeout.tv_sec == 0 { sendTimeout.tv_usec = Int(max(1, limits.requestTimeout.wholeMilliseconds) * 1000) }
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in
                serve(connection)
                active.subtract(1, ordering: .relaxed)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Answers 503 without blocking the accept loop, then closes; what the
    /// client already sent is read first so that the close is not a reset.
    private func refuseAtOnce(_ fd: Int32) {
        let body = Array("503 Service Unavailable: \(limits.maximumConnections) connections already open, try again\n".utf8)
        let answer = Self.head(status: 503, contentType: "text/plain", length: body.count, extra: "Retry-After: 1\r\n", keepAlive: false)
            + body
        _ = answer.withUnsafeBytes { send(fd, $0.baseAddress!, answer.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        while scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress!, 4096, Int32(MSG_DONTWAIT)) }) > 0 {}
        close(fd)
    }

    private func serve(_ fd: Int32) {
        var parser = HTTPRequestParser(limits: limits)
        var open = true
        defer { if open { close(fd) } }
        while true {
            switch nextRequest(fd, &parser) {
            case .closed:
                return
            case .refused(let refusal):
                refuse(fd, refusal)
                return
            case .request(let request, let keepAlive):
                switch handler(request) {
                case .response(let status, let contentType, let body, let delay):
                    if delay > .zero { Thread.sleep(forTimeInterval: delay.seconds) }
                    let head = Self.head(status: status, contentType: contentType, length: body.count, keepAlive: keepAlive)
                    guard writeAll(fd, head + body), keepAlive else { return }
                case .reset:
                    var linger = linger(l_onoff: 1, l_linger: 0)
                    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
                    close(fd)
                    open = false
                    return
                case .stall(let duration):
                    Thread.sleep(forTimeInterval: duration.seconds)
                    return
                }
            }
        }
    }

    private enum ConnectionEvent {
        case request(HTTPServerRequest, keepAlive: Bool)
        case refused(HTTPRefusal)
        case closed
    }

    /// Reads until the parser has a request or a refusal, within the idle
    /// timeout (no byte yet: close quietly) and the request timeout (408).
    private func nextRequest(_ fd: Int32, _ parser: inout HTTPRequestParser) -> ConnectionEvent {
        let clock = ContinuousClock()
        var started: ContinuousClock.Instant? = parser.hasPartialRequest ? clock.now : nil
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            switch parser.next() {
            case .request(let request, let keepAlive): return .request(request, keepAlive: keepAlive)
            case .refuse(let refusal): return .refused(refusal)
            case .needMore: break
            }
            let deadline = started.map { $0 + limits.requestTimeout } ?? clock.now + limits.idleTimeout
            guard Self.waitReadable(fd, until: deadline, clock: clock) else {
                guard started != nil else { return .closed }
                return .refused(HTTPRefusal(status: 408, reason: "the request did not arrive within \(limits.requestTimeout)"))
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return .closed }
            if started == nil { started = clock.now }
            parser.append(chunk[0..<n])
        }
    }

    /// Whether `fd` has bytes (or EOF) to read before `deadline`.
    private static func waitReadable(_ fd: Int32, until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Bool {
        while true {
            let left = deadline - clock.now
            guard left > .zero else { return false }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, Int32(min(left.wholeMilliseconds + 1, 60_000)))
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { return true }  // recv reports the error
        }
    }

    /// Answers a refused request and closes, reading (and dropping) what the
    /// client still sends for a short while so that the answer is not lost
    /// to a reset.
    private func refuse(_ fd: Int32, _ refusal: HTTPRefusal) {
        let body = Array("\(refusal.status) \(Self.reasonPhrase(refusal.status)): \(refusal.reason)\n".utf8)
        let head = Self.head(status: refusal.status, contentType: "text/plain", length: body.count, keepAlive: false)
        guard writeAll(fd, head + body) else { return }
        shutdown(fd, Int32(SHUT_WR))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(2)
        var drained = 0
        var scratch = [UInt8](repeating: 0, count: 16_384)
        while drained < 4 << 20, Self.waitReadable(fd, until: deadline, clock: clock) {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { return }
            drained += n
        }
    }

    private static func head(status: Int, contentType: String, length: Int, extra: String = "", keepAlive: Bool) -> [UInt8] {
        Array(("HTTP/1.1 \(status) \(reasonPhrase(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(length)\r\n"
            + "\(extra)Connection: \(keepAlive ? "keep-alive" : "close")\r\n\r\n").utf8)
    }

    static func reasonPhrase(_ status: Int) -> String {
        let phrases = [200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
                       411: "Length Required", 413: "Content Too Large", 431: "Request Header Fields Too Large",
                       500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable"]
        return phrases[status] ?? (status < 400 ? "OK" : "Error")
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }
}

/// Failed `accept` calls in a row: one log line when they start (with the
/// reason) and one when accepting works again, and a pause that grows from
/// 10 ms to 1 s meanwhile so that a full descriptor table does not spin.
struct AcceptFailures {
    private(set) var count = 0
    private(set) var pause: Duration = .milliseconds(10)

    /// Records a failure with `code`; the line to log when it is the first.
    mutating func record(_ code: Int32) -> String? {
        count += 1
        if count > 1 { pause = min(pause * 2, .seconds(1)) }
        guard count == 1 else { return nil }
        let hint = code == EMFILE || code == ENFILE ? " (out of file descriptors: raise ulimit -n or lower --max-connections)" : ""
        return "accept() failed: \(String(cString: strerror(code)))\(hint); retrying with a pause until it works again"
    }

    /// Records a success; the line to log when failures preceded it.
    mutating func recovered() -> String? {
        defer { count = 0; pause = .milliseconds(10) }
        return count > 0 ? "accepting connections again after \(count) failed accept() calls" : nil
    }
}

/// A sandbox that could not start.
public struct HTTPServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
