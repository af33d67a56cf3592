public import Foundation
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
/// adapters talk to it exactly as to a processor.
public final class LoopbackHTTPServer: Sendable {
    /// The port it listens on.
    public let port: Int
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    private let handler: @Sendable (HTTPServerRequest) -> HTTPServerReply

    /// Listens on 127.0.0.1:`port` (0 picks a free port) and serves
    /// requests with `handler` on background threads.
    public init(port: Int = 0, handler: @escaping @Sendable (HTTPServerRequest) -> HTTPServerReply) throws {
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

    private func acceptLoop() {
        while !stopped.load(ordering: .relaxed) {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            var one: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let thread = Thread { [self] in serve(connection) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var buffer: [UInt8] = []
        var open = true
        defer { if open { close(fd) } }
        while let request = readRequest(fd, &buffer) {
            switch handler(request) {
            case .response(let status, let contentType, let body, let delay):
                if delay > .zero { Thread.sleep(forTimeInterval: delay.seconds) }
                let head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: keep-alive\r\n\r\n"
                guard writeAll(fd, Array(head.utf8) + body) else { return }
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

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Reads one request (head and Content-Length body); nil at EOF or on garbage.
    private func readRequest(_ fd: Int32, _ buffer: inout [UInt8]) -> HTTPServerRequest? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var chunk = [UInt8](repeating: 0, count: 65_536)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65_536, 0) }
            if n <= 0 { return false }
            buffer += chunk[0..<n]
            return true
        }
        var headEnd: Int? = nil
        while headEnd == nil {
            if buffer.count >= 4 {
                for i in 0...(buffer.count - 4) where buffer[i..<i + 4].elementsEqual(separator) { headEnd = i; break }
            }
            if headEnd == nil {
                guard buffer.count < 65_536, fill() else { return nil }
            }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        // Only Content-Length bodies: a chunked body would be misread, so the connection is refused instead.
        guard headers["transfer-encoding"] == nil else { return nil }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard length >= 0, length <= 16 << 20 else { return nil }
        let bodyStart = headEnd! + 4
        while buffer.count < bodyStart + length {
            guard fill() else { return nil }
        }
        let body = Array(buffer[bodyStart..<bodyStart + length])
        buffer.removeFirst(bodyStart + length)
        let target = String(requestLine[1])
        return HTTPServerRequest(method: String(requestLine[0]), path: String(target.prefix { $0 != "?" }), headers: headers, body: body)
    }
}

/// A sandbox that could not start.
public struct HTTPServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
