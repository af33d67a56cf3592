/// Limits of an HTTP server: how many connections, how large a request and
/// how long it may take. Both of fundq's servers take them (`fundq ipn`'s
/// listener and the sandbox's loopback server); each says how it refuses
/// what goes beyond.
public struct HTTPServerLimits: Sendable {
    /// Connections served at once. Beyond it the sandbox answers `503` and
    /// closes; `fundq ipn` leaves further clients waiting to be accepted.
    public var maximumConnections: Int
    /// Largest request line plus header fields, in bytes.
    public var maximumHeaderBytes: Int
    /// Largest body, in bytes; a `Content-Length` beyond it is answered
    /// `413` without reading the body.
    public var maximumBodyBytes: Int
    /// Longest time from a request's head to its last body byte; beyond it `408`.
    public var requestTimeout: Duration
    /// Longest wait for a request's head on an open connection (its first,
    /// or the next on a kept-alive one); beyond it the connection is closed.
    public var idleTimeout: Duration

    /// Limits; the defaults suit the sandbox (`fundq ipn` sets its own from its options).
    public init(maximumConnections: Int = 128, maximumHeaderBytes: Int = 16_384, maximumBodyBytes: Int = 1 << 20,
                requestTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(15)) {
        self.maximumConnections = maximumConnections
        self.maximumHeaderBytes = maximumHeaderBytes
        self.maximumBodyBytes = maximumBodyBytes
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }
}
