@testable import Core
@testable import CurlHTTP
import Foundation
import Testing

/// The pure decisions behind the HTTP client: which resolved addresses
/// plain http may reach.
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
}
