public import Core
import Foundation

/// TLS to MariaDB, from a database URL's query:
/// `?ssl-mode=verify-identity&ssl-ca=PATH[&ssl-cert=PATH&ssl-key=PATH]`.
public struct DatabaseTLS: Sendable, Equatable {
    /// How much of the server's certificate is checked.
    public enum Mode: String, Sendable, CaseIterable {
        /// No TLS (the same as no `ssl-mode`).
        case disabled
        /// TLS or no connection; the certificate is not checked.
        case required
        /// TLS, and the certificate must be signed by `ssl-ca`.
        case verifyCA = "verify-ca"
        /// TLS, signed by `ssl-ca`, and issued for the URL's host (its SAN).
        case verifyIdentity = "verify-identity"
    }

    /// How much is checked.
    public var mode: Mode
    /// The CA certificate (PEM) the server's certificate must be signed by.
    public var certificateAuthority: String?
    /// A client certificate (PEM), for servers that require one (`REQUIRE X509`).
    public var clientCertificate: String?
    /// The client certificate's private key (PEM).
    public var clientKey: String?

    /// Settings as given (no check: ``DatabaseURL`` checks what it parses).
    public init(mode: Mode, certificateAuthority: String? = nil, clientCertificate: String? = nil, clientKey: String? = nil) {
        self.mode = mode
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
    }

    /// Whether `text` is short and made of ASCII letters, digits, `-` and `_`
    /// only: safe to echo in an error (anything else may be part of a secret).
    static func isPlainToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 32 && text.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f
        }
    }

    /// The parameters this parser knows.
    static let parameterNames = ["ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"]

    /// Parses a URL's query (the text after `?`); nil when it asks for no
    /// TLS. `shown` is the URL as errors may show it (masked).
    static func parse(query: Substring, shown: String) throws(ConfigurationError) -> DatabaseTLS? {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name = String(pair.prefix { $0 != "=" })
            guard parameterNames.contains(name) else {
                // Only a name that looks like a TLS parameter is echoed: a '?' in an unencoded password starts a "query" of its rest.
                let named = isPlainToken(name) && name.lowercased().hasPrefix("ssl") ? "'\(name)'"
                    : "(not shown: if a password holds '?' or '@', percent-encode them)"
                throw ConfigurationError("database URL '\(shown)' has an unknown parameter \(named) "
                    + "(known: \(parameterNames.joined(separator: ", ")))")
            }
            guard values[name] == nil else { throw ConfigurationError("database URL '\(shown)' gives \(name) twice") }
            let value = ServiceURL.percentDecoded(pair.dropFirst(name.count + 1))
            guard pair.contains("="), !value.isEmpty else { throw ConfigurationError("database URL '\(shown)' gives \(name) no value") }
            values[name] = value
        }
        let mode = try values["ssl-mode"].map { text throws(ConfigurationError) -> Mode in
            let spelled = text.lowercased().replacingOccurrences(of: "_", with: "-")
            guard let mode = Mode(rawValue: spelled) else {
                throw ConfigurationError("database URL '\(shown)' has an invalid ssl-mode \(isPlainToken(text) ? "'\(text)'" : "value") "
                    + "(expected \(Mode.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return mode
        } ?? (values.isEmpty ? .disabled : .verifyIdentity)
        let tls = DatabaseTLS(mode: mode, certificateAuthority: values["ssl-ca"], clientCertificate: values["ssl-cert"],
                              clientKey: values["ssl-key"])
        try tls.check(shown: shown)
        return mode == .disabled ? nil : tls
    }

    /// Refuses contradictory settings and files that cannot be read.
    private func check(shown: String) throws(ConfigurationError) {
        let files = [("ssl-ca", certificateAuthority), ("ssl-cert", clientCertificate), ("ssl-key", clientKey)]
        if mode == .disabled, let given = files.first(where: { $0.1 != nil }) {
            throw ConfigurationError("database URL '\(shown)' gives \(given.0) with ssl-mode=disabled")
        }
        if (mode == .verifyCA || mode == .verifyIdentity) && certificateAuthority == nil {
            throw ConfigurationError("database URL '\(shown)': ssl-mode=\(mode.rawValue) needs ssl-ca=PATH "
                + "(the CA certificate that signed the server's)")
        }
        if (clientCertificate == nil) != (clientKey == nil) {
            throw ConfigurationError("database URL '\(shown)': ssl-cert and ssl-key go together")
        }
        for case let (name, path?) in files where !FileManager.default.isReadableFile(atPath: path) {
            let problem = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ConfigurationError("database URL '\(shown)': the \(name) file \(path) \(problem)")
        }
    }

    /// The query that gives these settings back (`?ssl-mode=…`).
    var query: String {
        let parts = [("ssl-mode", mode.rawValue), ("ssl-ca", certificateAuthority), ("ssl-cert", clientCertificate),
                     ("ssl-key", clientKey)]
        return "?" + parts.compactMap { name, value in value.map { "\(name)=\($0)" } }.joined(separator: "&")
    }
}
