/// A failed HTTP exchange: what went wrong and with which URL (its query
/// string, which may carry credentials, is never shown).
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Kind: Sendable, Equatable {
        /// The URL cannot be used.
        case invalidURL(String)
        /// Plain `http://` to a host that is not loopback.
        case insecureURL
        /// No connection could be made.
        case connectionFailed(String)
        /// The connect or total timeout passed.
        case timedOut
        /// The answer was larger than the limit.
        case responseTooLarge(limit: Int)
        /// TLS failed (certificate, handshake).
        case tls(String)
        /// Any other transport failure (reset, protocol error).
        case transport(String)
    }

    /// What went wrong.
    public let kind: Kind
    /// The URL, without its query string.
    public let url: String
    /// Why, when the kind alone does not say (e.g. what a refused host resolved to).
    public var detail: String? = nil

    /// A failure of `kind` with `url` (shown without its query string), and
    /// `detail` when the kind alone does not say why.
    package init(kind: Kind, url: String, detail: String? = nil) {
        self.kind = kind
        self.url = url
        self.detail = detail
    }

    /// One line for an operator.
    public var description: String {
        switch kind {
        case .invalidURL(let why): return "invalid URL \(url): \(why)"
        case .insecureURL:
            let why = detail.map { " (\($0))" } ?? ""
            return "refusing plain http:// to \(url): only loopback addresses may be reached without TLS\(why)"
        case .connectionFailed(let why): return "cannot connect to \(url): \(why)"
        case .timedOut: return "no complete answer from \(url) in time"
        case .responseTooLarge(let limit): return "answer from \(url) is larger than \(limit) bytes"
        case .tls(let why): return "TLS failure with \(url): \(why)"
        case .transport(let why): return "transport failure with \(url): \(why)"
        }
    }
}
