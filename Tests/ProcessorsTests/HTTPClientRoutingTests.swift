import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Sandbox
import Testing

/// Where processor calls may go: plain http only to hosts that resolve to
/// loopback (decided on the addresses, not the name's text), and through a
/// proxy only when the processor's YAML names one — never because of
/// `http_proxy`, `HTTPS_PROXY` or `ALL_PROXY` in the environment.
@Suite("HTTP client routing")
struct HTTPClientRoutingTests {
    /// A listener standing in for a proxy: it records every request line and answers 502.
    final class ProxyRecorder {
        let log = DeliveryLog()
        let server: LoopbackHTTPServer
        init() throws {
            let log = self.log
            server = try LoopbackHTTPServer { request in
                log.record("\(request.method) \(request.path) \(request.text)")
                return .response(status: 502, contentType: "text/plain", body: Array("no\n".utf8), delay: .zero)
            }
        }
        var url: String { "http://127.0.0.1:\(server.port)" }
        deinit { server.stop() }
    }

    func insecure(_ client: HTTPClient, _ url: String) -> String? {
        do {
            _ = try client.send(HTTPRequest(method: "GET", url: url))
            return nil
        } catch {
            return error.kind == .insecureURL ? error.description : nil
        }
    }

    @Test func plainHTTPIsDecidedOnTheResolvedAddressesNotTheNamesText() throws {
        let server = try LoopbackHTTPServer { _ in .ok("fine", contentType: "text/plain") }
        defer { server.stop() }
        let client = try HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(5), totalTimeout: .seconds(10)))
        for name in ["127.0.0.1.example.invalid", "127.evil", "127.0.0.1.", "[::ffff:10.0.0.1]", "10.0.0.1"] {
            let refusal = insecure(client, "http://\(name):\(server.port)/x?PWD=secret")
            #expect(refusal != nil, "\(name) is refused before any connection")
            #expect(refusal?.contains("secret") == false)
        }
        #expect(insecure(client, "http://127.evil:\(server.port)/")?.contains("not known to be loopback") == true)
        #expect(throws: HTTPError.self) { try HTTPClient.check("http://127.0.0.1.example.invalid/") }
        // Names and addresses that are loopback still work, pinned to what was checked.
        for host in ["127.0.0.1", "localhost", "127.1"] {
            #expect(try client.send(HTTPRequest(method: "GET", url: "http://\(host):\(server.port)/")).text == "fine", "\(host)")
        }
        try HTTPClient.check("https://api-3t.paypal.com/nvp")  // https is not resolved here: TLS decides
    }

    func runStatus(_ f: SandboxFixture, _ extra: [String: String]) throws -> FundqProcess.Result {
        var env = f.environment(extra)
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = try TemporaryDirectory().path
        return try FundqProcess.run(["processor", "paypal", "status", "EC-7", "--json"], environment: env)
    }

    func environmentProxies(_ proxy: ProxyRecorder) -> [String: String] {
        var env: [String: String] = ["no_proxy": "", "NO_PROXY": ""]
        for name in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] { env[name] = proxy.url }
        return env
    }

    @Test func theEnvironmentsProxiesNeverSeeAProcessorCall() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-7", outcome: .pendingPoke)
        let proxy = try ProxyRecorder()
        let loopback = try runStatus(f, environmentProxies(proxy))
        #expect(loopback.status == 0, "\(loopback.stderr)")
        #expect(loopback.stdout.contains("pending-poke"))
        let unresolvable = ["FUNDQ_PAYPAL_ENDPOINT": "https://api.paypal.example.invalid/nvp"]
        let remote = try runStatus(f, environmentProxies(proxy).merging(unresolvable) { $1 })
        #expect(remote.status != 0, "the name does not resolve, and no proxy resolves it instead")
        #expect(proxy.log.counts.isEmpty, "the proxy received: \(proxy.log.counts.keys.sorted())")
    }

    @Test func aProxyNamedInTheYAMLCarriesHTTPSButNeverPlainLoopbackHTTP() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-7", outcome: .pendingPoke)
        let proxy = try ProxyRecorder()
        let loopback = try runStatus(f, ["FUNDQ_PAYPAL_PROXY": proxy.url])
        #expect(loopback.status == 0, "\(loopback.stderr)")
        #expect(proxy.log.counts.isEmpty, "plain http goes straight to loopback")
        let remote = try runStatus(f, ["FUNDQ_PAYPAL_PROXY": proxy.url, "FUNDQ_PAYPAL_ENDPOINT": "https://api.paypal.example.invalid/nvp"])
        #expect(remote.status != 0, "the stand-in proxy answers 502")
        #expect(proxy.log.counts.keys.contains { $0.hasPrefix("CONNECT api.paypal.example.invalid:443") }, "\(proxy.log.counts)")
        #expect(!proxy.log.counts.keys.contains { $0.contains(Sandbox.paypalPassword) })
    }

    @Test func theProxyKeyIsReadAndCheckedWithoutShowingIt() throws {
        let base = "endpoint: https://example.org/api\n"
        let c = try ProcessorConfiguration.parse(base + "proxy: http://proxy.internal:3128\n", name: "x", source: "x.yaml",
                                                 environment: [:])
        #expect(c.proxy == "http://proxy.internal:3128")
        #expect(c.httpConfiguration.proxy == "http://proxy.internal:3128")
        #expect(try ProcessorConfiguration.parse(base, name: "x", source: "x.yaml", environment: [:]).httpConfiguration.proxy == nil)
        let env = try ProcessorConfiguration.parse(base, name: "x", source: "x.yaml",
                                                   environment: ["FUNDQ_X_PROXY": "socks5h://127.0.0.1:1080"])
        #expect(env.proxy == "socks5h://127.0.0.1:1080")
        do {
            _ = try ProcessorConfiguration.parse(base + "proxy: ftp://user:hunter2@proxy\n", name: "x", source: "x.yaml", environment: [:])
            Issue.record("an ftp proxy was accepted")
        } catch {
            #expect("\(error)".contains("x.yaml: proxy"))
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}
