internal import CCurl
import Core
import Foundation

/// Where a request may go, decided before anything is sent: the URL as
/// libcurl itself parses it, and for plain `http://` the host's addresses,
/// resolved here, every one of them loopback, to which libcurl is then
/// pinned (`CURLOPT_RESOLVE`) so that no second resolution can differ.
struct HTTPRoute: Equatable {
    /// `http` or `https`.
    let scheme: String
    /// The host as libcurl will look it up (IPv6 literals in brackets).
    let host: String
    /// The port, the scheme's default when the URL names none.
    let port: Int
    /// For `http://` to a name: its loopback addresses, for `CURLOPT_RESOLVE`.
    let pinnedAddresses: [String]

    /// The `CURLOPT_RESOLVE` entries: drop any cached address, then pin the checked ones.
    var resolveEntries: [String] {
        guard !pinnedAddresses.isEmpty else { return [] }
        let addresses = pinnedAddresses.map { $0.contains(":") ? "[\($0)]" : $0 }
        return ["-\(host):\(port)", "\(host):\(port):\(addresses.joined(separator: ","))"]
    }

    /// Checks `url` (https anywhere; http only when the host resolves to
    /// loopback addresses alone) and returns where it goes.
    static func check(_ url: String,
                      resolve: (String) -> Result<[String], ResolutionFailure> = resolveHost) throws(HTTPError) -> HTTPRoute {
        let shown = HTTPClient.shown(url)
        let (scheme, host, port) = try parts(of: url)
        switch scheme {
        case "https":
            return HTTPRoute(scheme: scheme, host: host, port: port, pinnedAddresses: [])
        case "http":
            let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            if isNumeric(bare) {
                guard isLoopback(bare) else { throw HTTPError(kind: .insecureURL, url: shown, detail: "\(bare) is not a loopback address") }
                return HTTPRoute(scheme: scheme, host: host, port: port, pinnedAddresses: [])
            }
            guard bare.utf8.allSatisfy({ $0 < 128 }), !bare.hasSuffix(".") else {
                throw HTTPError(kind: .insecureURL, url: shown, detail: "host '\(bare)' must be a plain ASCII name without a trailing dot")
            }
            let addresses: [String]
            switch resolve(bare) {
            case .success(let found): addresses = found
            case .failure(let why): throw HTTPError(kind: .insecureURL, url: shown, detail: "\(why), so it is not known to be loopback")
            }
            let foreign = addresses.filter { !isLoopback($0) }
            guard !addresses.isEmpty, foreign.isEmpty else {
                let found = foreign.joined(separator: ", ")
                throw HTTPError(kind: .insecureURL, url: shown, detail: "\(bare) resolves to \(found), which is not loopback")
            }
            return HTTPRoute(scheme: scheme, host: host, port: port, pinnedAddresses: addresses)
        default:
            throw HTTPError(kind: .invalidURL("scheme \(scheme) is not http or https"), url: shown)
        }
    }

    /// Scheme, host and port exactly as libcurl parses `url`.
    private static func parts(of url: String) throws(HTTPError) -> (String, String, Int) {
        let shown = HTTPClient.shown(url)
        guard let handle = curl_url() else { throw HTTPError(kind: .transport("cannot allocate a libcurl URL"), url: shown) }
        defer { curl_url_cleanup(handle) }
        guard curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK else {
            throw HTTPError(kind: .invalidURL("not an absolute http(s) URL"), url: shown)
        }
        func part(_ which: CURLUPart, _ flags: UInt32 = 0) -> String? {
            var value: UnsafeMutablePointer<CChar>? = nil
            guard curl_url_get(handle, which, &value, flags) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased(), let host = part(CURLUPART_HOST)?.lowercased(), !host.isEmpty,
              let port = part(CURLUPART_PORT, UInt32(CURLU_DEFAULT_PORT)).flatMap({ Int($0) }) else {
            throw HTTPError(kind: .invalidURL("not an absolute http(s) URL"), url: shown)
        }
        return (scheme, host, port)
    }

    /// Whether `text` is an IPv4 or IPv6 address rather than a name.
    static func isNumeric(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// Whether numeric address `text` is loopback: 127.0.0.0/8, ::1, or 127/8 mapped into IPv6.
    static func isLoopback(_ text: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
        return mapped && bytes[12] == 127
    }

    /// Whether the socket address libcurl is about to connect to is loopback
    /// (the last check for plain http, at connect time, whatever resolved it).
    static func isLoopback(family: Int32, address: UnsafeRawPointer) -> Bool {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch family {
        case AF_INET:
            var v4 = address.loadUnaligned(as: sockaddr_in.self).sin_addr
            guard inet_ntop(AF_INET, &v4, &text, socklen_t(text.count)) != nil else { return false }
        case AF_INET6:
            var v6 = address.loadUnaligned(as: sockaddr_in6.self).sin6_addr
            guard inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count)) != nil else { return false }
        default:
            return false
        }
        return isLoopback(String(cString: text))
    }

    /// Every address `host` resolves to (getaddrinfo), as numeric text.
    static func resolveHost(_ host: String) -> Result<[String], ResolutionFailure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            return .failure(ResolutionFailure(description: "\(host) does not resolve (\(String(cString: gai_strerror(status))))"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var entry = list
        while let current = entry {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = String(cString: text)
                if !addresses.contains(address) { addresses.append(address) }
            }
            entry = current.pointee.ai_next
        }
        return .success(addresses)
    }
}

/// Why a host name has no address.
struct ResolutionFailure: Error, CustomStringConvertible {
    let description: String
}
