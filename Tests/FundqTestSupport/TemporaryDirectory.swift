import Foundation

/// A fresh folder under the system's temporary directory, removed on deinit.
public final class TemporaryDirectory {
    /// The folder's path.
    public let path: String

    /// Creates a new empty folder whose name starts with `prefix`.
    public init(prefix: String = "fundq-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = (base as NSString).appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the folder.
    public func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

/// Waits until `condition` holds, polling, for at most `timeout` seconds.
/// Returns whether it held (tests assert on the result; nothing is timed).
public func eventually(timeout: Double = 30, poll: Double = 0.02, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: poll)
    }
    return try condition()
}

/// A unique name for a queue used by one test.
public func uniqueQueueName(_ prefix: String = "test") -> String {
    "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())"
}
