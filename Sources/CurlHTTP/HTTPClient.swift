internal import CCurl
public import Core
import Foundation

/// An HTTP request.
public struct HTTPRequest: Sendable {
    /// `GET` or `POST`.
    public var method: String
    /// Absolute URL.
    public var url: String
    /// Header lines.
    public var headers: [String: String]
    /// The body (for POST).
    public var body: [UInt8]

    /// A request.
    public init(method: String = "POST", url: String, headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// An HTTP response.
public struct HTTPResponse: Sendable {
    /// Status code.
    public var status: Int
    /// The body.
    public var body: [UInt8]
    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// A response.
    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// HTTP over libcurl. One client owns one `CURL*` easy handle, so
/// connections are kept alive and reused between requests; use it from one
/// task or thread at a time (it is not `Sendable`), one client per worker
/// for concurrency. TLS verification is always on, and plain `http://` is
/// accepted only when the host resolves to loopback addresses alone (the
/// connection is pinned to the addresses checked). No proxy is used unless
/// the configuration names one; the environment's proxy variables never apply.
public final class HTTPClient {
    /// The version of libcurl linked (with its TLS library and features).
    public static var libraryVersion: String { String(cString: fundq_curl_version()) }
    /// The limits.
    public let configuration: HTTPClientConfiguration
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// `curl_global_init`, once per process, before the first handle (the
    /// runtime runs a static initializer exactly once, thread-safely).
    private static let globalReady: Bool = curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK

    /// A client with `configuration`.
    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) throws(HTTPError) {
        guard HTTPClient.globalReady, let handle = curl_easy_init() else {
            throw HTTPError(kind: .transport("cannot initialise libcurl"), url: "-")
        }
        self.configuration = configuration
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// The URL without its query string or credentials, for messages.
    static func shown(_ url: String) -> String {
        SecretMasking.url(String(url.prefix { $0 != "?" }))
    }

    /// Refuses URLs that are not https, or http to a host that does not
    /// resolve to loopback addresses alone (it resolves the host to decide).
    public static func check(_ url: String) throws(HTTPError) {
        _ = try HTTPRoute.check(url)
    }

    /// Collects the answer, refusing more than `limit` bytes.
    final class Sink {
        var bytes: [UInt8] = []
        let limit: Int
        var overflowed = false
        init(limit: Int) { self.limit = limit }
    }

    /// Sends `request` and returns the answer (any status). Transport
    /// failures throw a typed ``HTTPError``.
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let route = try HTTPRoute.check(request.url)
        let shown = HTTPClient.shown(request.url)
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = Sink(limit: configuration.maximumResponseBytes)
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
            headers = curl_slist_append(headers, "\(name): \(value)")
        }
        headers = curl_slist_append(headers, "Expect:")  // no 100-continue round trip
        var pins: UnsafeMutablePointer<curl_slist>? = nil
        for entry in route.resolveEntries { pins = curl_slist_append(pins, entry) }
        defer {
            curl_slist_free_all(headers)
            curl_slist_free_all(pins)
        }
        // A proxy only when configured, and never for plain http (loopback): "" overrides the environment's variables.
        let proxy = route.scheme == "https" ? configuration.proxy ?? "" : ""

        let code: CURLcode = request.body.withUnsafeBytes { body in
            withExtendedLifetime(sink) {
                let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
                _ = fundq_curl_setopt_string(handle, CURLOPT_URL, request.url)
                _ = fundq_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                _ = fundq_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = fundq_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
                _ = fundq_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
                _ = fundq_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.wholeMilliseconds))
                _ = fundq_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(configuration.totalTimeout.wholeMilliseconds))
                _ = fundq_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
                _ = fundq_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
                _ = fundq_curl_setopt_slist(handle, CURLOPT_RESOLVE, pins)
                _ = fundq_curl_setopt_string(handle, CURLOPT_PROXY, proxy)
                _ = fundq_curl_setopt_string(handle, CURLOPT_NOPROXY, proxy.isEmpty ? "*" : "")
                if route.scheme == "http" {
                    // Pinned above; and whatever address libcurl ends up with, it may connect to loopback only.
                    _ = fundq_curl_setopt_opensocket_function(handle) { _, _, target in
                        guard let target else { return -1 }
                        let offset = MemoryLayout<curl_sockaddr>.offset(of: \curl_sockaddr.addr)!
                        guard HTTPRoute.isLoopback(family: target.pointee.family, address: UnsafeRawPointer(target) + offset) else {
                            return -1  // CURL_SOCKET_BAD: libcurl reports a failed connect
                        }
                        let fd = socket(target.pointee.family, target.pointee.socktype, target.pointee.protocol)
                        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                        return fd
                    }
                }
                _ = fundq_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
                _ = fundq_curl_setopt_write_function(handle) { data, size, count, userdata in
                    guard let userdata, let data else { return 0 }
                    let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
                    let n = size * count
                    if sink.bytes.count + n > sink.limit {
                        sink.overflowed = true
                        return 0  // makes libcurl stop with CURLE_WRITE_ERROR
                    }
                    data.withMemoryRebound(to: UInt8.self, capacity: n) {
                        sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
                    }
                    return n
                }
                if request.method == "POST" {
                    _ = fundq_curl_setopt_long(handle, CURLOPT_POST, 1)
                    _ = fundq_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                    let fields = UnsafeMutableRawPointer(mutating: body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                    _ = fundq_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, fields)
                } else {
                    _ = fundq_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
                }
                return curl_easy_perform(handle)
            }
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_WRITE_ERROR where sink.overflowed:
                throw HTTPError(kind: .responseTooLarge(limit: configuration.maximumResponseBytes), url: shown)
            case CURLE_OPERATION_TIMEDOUT:
                throw HTTPError(kind: .timedOut, url: shown)
            case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
                throw HTTPError(kind: .connectionFailed(detail), url: shown)
            case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
                throw HTTPError(kind: .tls(detail), url: shown)
            default:
                throw HTTPError(kind: .transport(detail), url: shown)
            }
        }
        var status = 0
        _ = fundq_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, body: sink.bytes)
    }
}
