public import Foundation

/// The provenance fields stamped on every message at push time
/// (`source_name, source_type, source_host, source_run_id, source_version,
/// source_enqueued_time`), the same fields the PHP producers write.
public struct MessageEnvelope: Sendable {
    /// What pushed the message ("fundq", "donation-form").
    public var sourceName: String
    /// The kind of producer ("cli", "listener", "consumer").
    public var sourceType: String
    /// Host name of the producer.
    public var sourceHost: String
    /// Run identifier of the producing process (its pid, as the PHP producers do).
    public var sourceRunID: Int
    /// fundq's version.
    public var sourceVersion: String

    /// The names of the envelope fields.
    public static let fieldNames = [
        "source_name", "source_type", "source_host", "source_run_id", "source_version", "source_enqueued_time",
    ]

    /// An envelope for this process.
    public init(sourceName: String = "fundq", sourceType: String = "cli",
                sourceHost: String = ProcessInfo.processInfo.hostName,
                sourceRunID: Int = Int(ProcessInfo.processInfo.processIdentifier),
                sourceVersion: String = FundqVersion.current) {
        self.sourceName = sourceName
        self.sourceType = sourceType
        self.sourceHost = sourceHost
        self.sourceRunID = sourceRunID
        self.sourceVersion = sourceVersion
    }

    /// Returns `body` (a validated JSON object whose top-level keys are
    /// `existingKeys`) with the envelope fields it does not already have added.
    /// The producer's own bytes are kept as they are: fields are spliced in
    /// before the closing brace, so amounts and ids are never re-encoded.
    /// Fields already present are kept, so a forwarded or requeued message
    /// keeps its original provenance.
    public func stamp(_ body: [UInt8], existingKeys: Set<String>, enqueuedAt: Date) -> [UInt8] {
        var addition = ""
        func add(_ key: String, _ literal: String) {
            guard !existingKeys.contains(key) else { return }
            if !addition.isEmpty || !existingKeys.isEmpty { addition += "," }
            JSONValue.writeString(key, to: &addition)
            addition += ":" + literal
        }
        func quoted(_ s: String) -> String {
            var out = ""
            JSONValue.writeString(s, to: &out)
            return out
        }
        add("source_name", quoted(sourceName))
        add("source_type", quoted(sourceType))
        add("source_host", quoted(sourceHost))
        add("source_run_id", String(sourceRunID))
        add("source_version", quoted(sourceVersion))
        add("source_enqueued_time", String(Int(enqueuedAt.timeIntervalSince1970)))
        guard !addition.isEmpty else { return body }
        // The closing brace is the last non-whitespace byte of a valid object.
        var end = body.count - 1
        while end >= 0, body[end] == 0x20 || body[end] == 0x0a || body[end] == 0x0d || body[end] == 0x09 { end -= 1 }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + addition.utf8.count)
        out.append(contentsOf: body[..<end])
        out.append(contentsOf: addition.utf8)
        out.append(contentsOf: body[end...])
        return out
    }
}

/// The version of this build of fundq.
public enum FundqVersion {
    /// The version string.
    public static let current = "0.1.0"
}
