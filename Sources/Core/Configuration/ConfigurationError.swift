/// A configuration mistake: a bad URL, a bad value, a missing setting. The
/// message names the setting and what is wrong with it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
