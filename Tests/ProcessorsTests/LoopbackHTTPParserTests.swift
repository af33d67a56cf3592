import Core
import Foundation
@testable import Sandbox
import Testing

/// How the sandbox's home-made server reads request bytes or refuses them.
@Suite("Loopback HTTP parser")
struct LoopbackHTTPParserTests {
    @Test func requestsAreReadAcrossChunksAndPipelinedAndRefusalsCarryTheirStatus() {
        #expect(steps(["POST /a?q=1 HTTP/1.1\r\nContent-", "Length: 3\r\n\r\nab", "cGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.0\r\n\r\n"])
            == ["POST /a abc", "GET /b ", "GET /c  close"])
        let small = HTTPServerLimits(maximumHeaderBytes: 256, maximumBodyBytes: 10)
        #expect(steps([String(repeating: "a", count: 300)], limits: small) == ["431"])
        #expect(steps(["POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"], limits: small) == ["413"])
        #expect(steps(["POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"]) == ["400"])
        #expect(steps(["POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"]) == ["400"])
        #expect(steps(["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc"]) == ["501"])
        #expect(steps(["PUT / HTTP/1.1\r\n\r\n"]) == ["411"])
        #expect(steps(["GET / HTTP/1.1\r\n folded\r\n\r\n"]) == ["400"])
        #expect(steps(["GET / HTTP/1.1\r\nConnection: close\r\n\r\n"]) == ["GET /  close"])
    }

    func steps(_ chunks: [String], limits: HTTPServerLimits = HTTPServerLimits()) -> [String] {
        var parser = HTTPRequestParser(limits: limits)
        var out: [String] = []
        for chunk in chunks {
            parser.append(ArraySlice(Array(chunk.utf8)))
            loop: while true {
                switch parser.next() {
                case .needMore: break loop
                case .request(let r, let keepAlive): out.append("\(r.method) \(r.path) \(r.text)\(keepAlive ? "" : " close")")
                case .refuse(let refusal): out.append("\(refusal.status)"); break loop
                }
            }
        }
        return out
    }
}
