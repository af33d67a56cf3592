import Foundation

/// A TCP connection to a loopback port that sends exactly the bytes it is
/// given, for tests that must speak malformed, oversized or slow HTTP that
/// a real client library would refuse to send.
public final class RawHTTPConnection {
    /// The socket.
    public let fd: Int32
    private var received: [UInt8] = []
    private var sawEOF = false

    /// An answer as read from the wire.
    public struct Answer: Sendable {
        /// The status code.
        public let status: Int
        /// The head, as text.
        public let head: String
        /// The body (by Content-Length).
        public let body: String
    }

    /// Connects to 127.0.0.1:`port`.
    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket(): \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw TestSetupError("connect to 127.0.0.1:\(port): \(why)")
        }
    }

    deinit { close(fd) }

    /// Sends `text` (all of it, or throws when the peer is gone).
    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Sends `bytes`.
    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestSetupError("send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// Reads whatever arrives within `timeout` seconds; false when nothing did.
    @discardableResult
    public func poll(timeout: Double) -> Bool {
        guard !sawEOF else { return false }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Foundation.poll(&entry, 1, Int32(timeout * 1000)) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n <= 0 { sawEOF = true } else { received += chunk[0..<n] }
        return true
    }

    /// The first complete answer, waiting up to `timeout` seconds; nil when
    /// none came (the connection was dropped without one, or is still silent).
    public func answer(timeout: Double = 60) -> Answer? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let answer = parsed() { return answer }
            if sawEOF || Date() >= deadline { return nil }
            poll(timeout: min(1, max(0.01, deadline.timeIntervalSinceNow)))
        }
    }

    /// Whether the server closed the connection (EOF or reset) within `timeout` seconds.
    public func closedByServer(timeout: Double = 60) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !sawEOF, Date() < deadline { poll(timeout: min(1, max(0.01, deadline.timeIntervalSinceNow))) }
        return sawEOF
    }

    /// Whether anything (bytes or a close) has arrived so far, without waiting.
    public var heardAnything: Bool {
        poll(timeout: 0)
        return sawEOF || !received.isEmpty
    }

    private func parsed() -> Answer? {
        let blankLine: [UInt8] = [13, 10, 13, 10]
        guard let end = received.indices.dropLast(3).first(where: { received[$0..<$0 + 4].elementsEqual(blankLine) }) else { return nil }
        let head = String(decoding: received[0..<end], as: UTF8.self)
        let fields = head.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        let length = lengthLine.flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        guard received.count >= end + 4 + length else { return nil }
        return Answer(status: status, head: head, body: String(decoding: received[(end + 4)..<(end + 4 + length)], as: UTF8.self))
    }
}
