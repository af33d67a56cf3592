/// Why a document is not valid JSON, and where: the byte offset plus the line
/// and column a person would look at.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the problem, from 0.
    public let offset: Int
    /// Line of the problem, from 1.
    public let line: Int
    /// Column (in bytes) of the problem, from 1.
    public let column: Int
    /// What is wrong at that position.
    public let reason: String

    /// "invalid JSON at line 1, column 7 (byte 6): expected ':' after object key".
    public var description: String {
        "invalid JSON at line \(line), column \(column) (byte \(offset)): \(reason)"
    }
}
