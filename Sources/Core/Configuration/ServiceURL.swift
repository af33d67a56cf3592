/// The parts of a `SCHEME://[[USER]:PASSWORD@]HOST[:PORT][/PATH]` URL, as
/// used for Redis and MariaDB. Errors show the URL only as
/// ``SecretMasking/url(_:)`` masks it, and never echo a part of it that
/// could be a password.
package struct ServiceURL: Sendable, Equatable {
    package var user: String?
    package var password: String?
    package var host: String
    package var port: Int?
    package var path: String

    /// Parses `text`, which must start with `scheme://`; `what` names the
    /// setting in errors ("queue URL", "database URL").
    package init(parsing text: String, scheme: String, what: String) throws(ConfigurationError) {
        let prefix = scheme + "://"
        guard text.hasPrefix(prefix) else {
            throw ConfigurationError("\(what) '\(ServiceURL.masked(text))' must start with \(prefix)")
        }
        var rest = Substring(text.dropFirst(prefix.count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let u = credentials[..<colon]
                user = u.isEmpty ? nil : ServiceURL.percentDecoded(u)
                password = ServiceURL.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                user = ServiceURL.percentDecoded(credentials)
            }
        }
        path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            let portText = rest[rest.index(after: colon)...]
            guard let p = Int(portText), (1...65535).contains(p) else {
                // Not echoed: what stands where the port should be may be a password (redis://HOST:PASSWORD).
                throw ConfigurationError("\(what) '\(ServiceURL.masked(text))' has an invalid port (expected a number from 1 to 65535)")
            }
            port = p
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw ConfigurationError("\(what) '\(ServiceURL.masked(text))' has no host") }
        guard SecretMasking.isHostPort(rest) else {
            // A host holding ':' (an '@' forgotten between user:password and the host).
            throw ConfigurationError("\(what) '\(ServiceURL.masked(text))' has an invalid host (expected HOST:PORT after the '@')")
        }
        host = String(rest)
    }

    /// Parses `SCHEME://[[USER]:PASSWORD@]/ABSOLUTE/PATH` (a Unix socket):
    /// the credentials, percent-decoded, and the path.
    package static func unixSocket(parsing text: String, scheme: String, what: String) throws(ConfigurationError)
        -> (user: String?, password: String?, path: String) {
        let prefix = scheme + "://"
        guard text.hasPrefix(prefix) else { throw ConfigurationError("\(what) '\(masked(text))' must start with \(prefix)") }
        let rest = Substring(text.dropFirst(prefix.count))
        guard let slash = rest.firstIndex(of: "/"), rest.index(after: slash) < rest.endIndex else {
            throw ConfigurationError("\(what) '\(masked(text))' names no socket (\(prefix)[USER:PASSWORD@]/PATH/TO/SOCKET)")
        }
        var credentials = rest[..<slash]
        guard credentials.isEmpty || credentials.hasSuffix("@") else {
            throw ConfigurationError("\(what) '\(masked(text))' has something other than USER:PASSWORD@ before the socket's path")
        }
        credentials = credentials.dropLast()
        var user: String?, password: String?
        if let colon = credentials.firstIndex(of: ":") {
            user = credentials[..<colon].isEmpty ? nil : percentDecoded(credentials[..<colon])
            password = percentDecoded(credentials[credentials.index(after: colon)...])
        } else if !credentials.isEmpty {
            user = percentDecoded(credentials)
        }
        return (user, password, String(rest[slash...]))
    }

    /// `text` with its credentials masked, whatever its shape.
    package static func masked(_ text: String) -> String { SecretMasking.url(text) }

    package static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(s.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%"), i + 2 < utf8.count,
               let v = UInt8(String(decoding: utf8[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(v)
                i += 3
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
