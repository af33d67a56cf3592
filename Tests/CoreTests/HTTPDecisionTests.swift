@testable import Core
import Foundation
import Testing

/// The pure decisions behind the HTTP client and server: which resolved
/// addresses plain http may reach, and how request bytes are read or refused.
@Suite("HTTP decisions")
struct HTTPDecisionTests {
    @Test func plainHTTPNeedsEveryResolvedAddressToBeLoopbackAndPinsThem() throws {
        let both = try HTTPRoute.check("http://processor.test:8080/x") { _ in .success(["127.0.0.1", "::1"]) }
        #expect(both.resolveEntries == ["-processor.test:8080", "processor.test:8080:127.0.0.1,[::1]"])
        #expect(throws: HTTPError.self) { try HTTPRoute.check("http://127.0.0.1.test/") { _ in .success(["127.0.0.1", "10.1.2.3"]) } }
        #expect(throws: HTTPError.self) { try HTTPRoute.check("http://127.test/") { _ in .success(["192.0.2.7"]) } }
        #expect(throws: HTTPError.self) { try HTTPRoute.check("http://127.test/") { _ in .failure(ResolutionFailure(description: "no")) } }
        let https = try HTTPRoute.check("https://processor.test/") { _ in Issue.record("https is not resolved here"); return .success([]) }
        #expect(https.port == 443 && https.resolveEntries.isEmpty)
        #expect(["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.2"].allSatisfy(HTTPRoute.isLoopback))
        #expect(!["10.0.0.1", "::", "::2", "::ffff:10.0.0.1", "128.0.0.1", "localhost"].contains(where: HTTPRoute.isLoopback))
    }

    @Test func theConnectTimeGateLetsOnlyLoopbackSocketAddressesThrough() {
        func v4(_ text: String) -> Bool {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, text, &a.sin_addr)
            return withUnsafeBytes(of: a) { HTTPRoute.isLoopback(family: AF_INET, address: $0.baseAddress!) }
        }
        func v6(_ text: String) -> Bool {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            inet_pton(AF_INET6, text, &a.sin6_addr)
            return withUnsafeBytes(of: a) { HTTPRoute.isLoopback(family: AF_INET6, address: $0.baseAddress!) }
        }
        #expect(v4("127.0.0.1") && v4("127.9.9.9") && v6("::1") && v6("::ffff:127.0.0.1"))
        #expect(!v4("10.0.0.1") && !v4("192.0.2.1") && !v6("2001:db8::1") && !v6("::ffff:10.0.0.1"))
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
}
