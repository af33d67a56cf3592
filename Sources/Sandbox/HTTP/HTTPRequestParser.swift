import Core
import Foundation

/// A request the server will not serve: the status to answer, then close.
public struct HTTPRefusal: Error, Sendable, Equatable {
    /// 400, 408, 411, 413, 431, 501, 503.
    public let status: Int
    /// One line for the client and the log.
    public let reason: String
}

/// Reads HTTP/1.1 requests out of the bytes of one connection: a pure state
/// machine (bytes in, steps out), so every refusal is decided without I/O.
/// It never holds more than the header limit plus the body limit plus
/// what was fed beyond them in one go.
struct HTTPRequestParser {
    /// What the bytes so far amount to.
    enum Step {
        /// A request is incomplete: feed more bytes.
        case needMore
        /// A whole request; `keepAlive` is false when the client asked to close.
        case request(HTTPServerRequest, keepAlive: Bool)
        /// A request that is refused; the connection closes after the answer.
        case refuse(HTTPRefusal)
    }

    private struct Head {
        let method: String
        let target: String
        let headers: [String: String]
        let bodyStart: Int
        let bodyLength: Int
        let keepAlive: Bool
    }

    let limits: HTTPServerLimits
    private var buffer: [UInt8] = []
    private var scanned = 0
    private var head: Head?

    init(limits: HTTPServerLimits) { self.limits = limits }

    /// Whether part of a request has arrived (the request timeout runs).
    var hasPartialRequest: Bool { !buffer.isEmpty }

    /// Adds bytes read from the connection.
    mutating func append(_ bytes: ArraySlice<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next step: a request, a refusal, or a need for more bytes.
    mutating func next() -> Step {
        if head == nil {
            guard let end = headEnd() else {
                if buffer.count > limits.maximumHeaderBytes { return .refuse(Self.headerTooLarge(limits)) }
                return .needMore
            }
            if end > limits.maximumHeaderBytes { return .refuse(Self.headerTooLarge(limits)) }
            switch Self.parseHead(buffer[0..<end], bodyStart: end + 4, limits: limits) {
            case .success(let parsed): head = parsed
            case .failure(let refusal): return .refuse(refusal)
            }
        }
        guard let head, buffer.count >= head.bodyStart + head.bodyLength else { return .needMore }
        let body = Array(buffer[head.bodyStart..<head.bodyStart + head.bodyLength])
        buffer.removeFirst(head.bodyStart + head.bodyLength)
        scanned = 0
        self.head = nil
        let path = String(head.target.prefix { $0 != "?" })
        return .request(HTTPServerRequest(method: head.method, path: path, headers: head.headers, body: body), keepAlive: head.keepAlive)
    }

    private static func headerTooLarge(_ limits: HTTPServerLimits) -> HTTPRefusal {
        HTTPRefusal(status: 431, reason: "request line and header fields exceed \(limits.maximumHeaderBytes) bytes")
    }

    /// Where the blank line ending the head starts, scanning only new bytes.
    private mutating func headEnd() -> Int? {
        guard buffer.count >= 4 else { return nil }
        var i = max(0, scanned - 3)
        while i <= buffer.count - 4 {
            if buffer[i] == 13, buffer[i + 1] == 10, buffer[i + 2] == 13, buffer[i + 3] == 10 { return i }
            i += 1
        }
        scanned = buffer.count
        return nil
    }

    private static func parseHead(_ bytes: ArraySlice<UInt8>, bodyStart: Int, limits: HTTPServerLimits) -> Result<Head, HTTPRefusal> {
        func bad(_ why: String) -> Result<Head, HTTPRefusal> { .failure(HTTPRefusal(status: 400, reason: why)) }
        var lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard requestLine.count == 3, !requestLine[0].isEmpty, !requestLine[1].isEmpty, requestLine[2].hasPrefix("HTTP/1.") else {
            return bad("malformed request line")
        }
        var headers: [String: String] = [:]
        var lengths: Set<String> = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
                  !line[..<colon].contains(where: { $0 == " " || $0 == "\t" }) else { return bad("malformed header field") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "content-length" { lengths.insert(value) }
            headers[name] = value
        }
        let method = String(requestLine[0])
        if headers["transfer-encoding"] != nil {
            return .failure(HTTPRefusal(status: 501, reason: "Transfer-Encoding is not supported: send a Content-Length body"))
        }
        let length: Int
        switch lengths.count {
        case 0:
            guard !["POST", "PUT", "PATCH"].contains(method) else {
                return .failure(HTTPRefusal(status: 411, reason: "a \(method) needs a Content-Length"))
            }
            length = 0
        case 1:
            let text = lengths.first!
            guard (1...18).contains(text.count), text.utf8.allSatisfy({ (48...57).contains($0) }), let n = Int(text) else {
                return bad("Content-Length '\(text.prefix(40))' is not a non-negative integer")
            }
            length = n
        default:
            return bad("conflicting Content-Length fields")
        }
        guard length <= limits.maximumBodyBytes else {
            return .failure(HTTPRefusal(status: 413, reason: "a body of \(length) bytes exceeds the limit of \(limits.maximumBodyBytes)"))
        }
        let connection = headers["connection"]?.lowercased() ?? ""
        let keepAlive = requestLine[2] == "HTTP/1.1" ? !connection.contains("close") : connection.contains("keep-alive")
        return .success(Head(method: method, target: String(requestLine[1]), headers: headers, bodyStart: bodyStart,
                             bodyLength: length, keepAlive: keepAlive))
    }
}
