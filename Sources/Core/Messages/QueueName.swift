/// Checks queue names. A queue name is also a Redis key shared with the PHP
/// producers, so it is kept to a safe alphabet, and the `fundq:` prefix is
/// reserved for fundq's own bookkeeping keys.
public enum QueueName {
    /// Longest accepted name.
    public static let maximumLength = 200

    /// Throws a ``MessageError`` unless `name` is a valid queue name.
    public static func validate(_ name: String) throws(MessageError) {
        guard !name.isEmpty else { throw MessageError(.invalidQueueName(name, reason: "it is empty")) }
        guard name.utf8.count <= maximumLength else {
            throw MessageError(.invalidQueueName(name, reason: "longer than \(maximumLength) bytes"))
        }
        for scalar in name.unicodeScalars {
            let ok = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                || scalar == "-" || scalar == "_" || scalar == "." || scalar == ":"
            guard ok else {
                throw MessageError(.invalidQueueName(name, reason: "only letters, digits and - _ . : are allowed"))
            }
        }
        guard !name.hasPrefix("fundq:") else {
            throw MessageError(.invalidQueueName(name, reason: "the fundq: prefix is reserved for fundq's own keys"))
        }
    }
}
