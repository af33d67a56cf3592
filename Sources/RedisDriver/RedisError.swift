public import Core

/// An error talking to Redis: unreachable, an I/O failure, or an error reply.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case unreachable(reason: String)
        case io(reason: String)
        case reply(String)
        case unexpectedReply(String)
    }

    let kind: Kind
    /// `HOST:PORT` of the server.
    public let endpoint: String
    /// What fundq was doing ("pushing to donations").
    public let context: String

    /// One line for an operator: what failed, where, and why.
    public var description: String {
        switch kind {
        case .unreachable(let reason):
            return "cannot reach Redis at \(endpoint): \(reason)" + (context.isEmpty ? "" : " (while \(context))")
        case .io(let reason):
            return "lost the connection to Redis at \(endpoint) while \(context): \(reason)"
        case .reply(let message):
            return "Redis at \(endpoint) answered an error while \(context): \(message)"
        case .unexpectedReply(let what):
            return "unexpected reply from Redis at \(endpoint) while \(context): \(what)"
        }
    }

    /// Whether the server could not be reached or the connection broke (as
    /// opposed to the server refusing the command).
    public var isConnectionFailure: Bool {
        switch kind {
        case .unreachable, .io: return true
        case .reply, .unexpectedReply: return false
        }
    }

    /// Whether the error reply is Redis's "script not in cache".
    var isNoScript: Bool {
        if case .reply(let message) = kind { return message.hasPrefix("NOSCRIPT") }
        return false
    }
}

extension RedisError: ClassifiedFailure {
    /// A lost or refused connection is an outage; anything else is unknown.
    public var handlingFailure: HandlingFailure { isConnectionFailure ? .outage : .unknown }
}
