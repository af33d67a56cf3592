import Foundation

/// Limits of an HTTP client (`HTTPClient` in CurlHTTP): timeouts, the
/// largest answer, the proxy.
public struct HTTPClientConfiguration: Sendable {
    /// Longest wait for a connection.
    public var connectTimeout: Duration
    /// Longest wait for a whole exchange.
    public var totalTimeout: Duration
    /// Largest accepted answer.
    public var maximumResponseBytes: Int
    /// The proxy for `https://` requests (`http://host:port`, `socks5h://…`),
    /// or nil for none. `http_proxy`, `https_proxy`, `ALL_PROXY` and
    /// `no_proxy` in the environment are always ignored, and plain `http://`
    /// (loopback only) never goes through a proxy.
    public var proxy: String?

    /// Limits; the defaults suit processor APIs.
    public init(connectTimeout: Duration = .seconds(5), totalTimeout: Duration = .seconds(30), maximumResponseBytes: Int = 1 << 20,
                proxy: String? = nil) {
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maximumResponseBytes = maximumResponseBytes
        self.proxy = proxy
    }

    /// Refuses a proxy URL that libcurl would not read as a proxy.
    public static func checkProxy(_ proxy: String) throws(HTTPError) {
        let scheme = proxy.prefix { $0 != ":" }.lowercased()
        guard ["http", "https", "socks5", "socks5h"].contains(scheme), proxy.contains("://"),
              !(URLComponents(string: proxy)?.host ?? "").isEmpty else {
            throw HTTPError(kind: .invalidURL("a proxy must be http://, https://, socks5:// or socks5h://HOST:PORT"),
                            url: "(proxy, not shown)")
        }
    }
}
