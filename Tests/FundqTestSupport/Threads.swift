import Foundation
import Synchronization

/// Runs `count` bodies on real threads (not the test's task pool, which
/// blocking queue calls would starve) and waits for all of them. Each body
/// gets its index and a log whose `failed` flag tells it that another
/// thread failed (so waiting loops can give up); errors are rethrown.
public func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int, ThreadFailures) throws -> Void) throws {
    let errors = ThreadFailures()
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            defer { group.leave() }
            do { try body(index, errors) } catch { errors.record("thread \(index): \(error)") }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
    group.wait()
    let failures = errors.messages
    if !failures.isEmpty { throw TestSetupError(failures.joined(separator: "; ")) }
}

/// Errors collected from threads.
public final class ThreadFailures: Sendable {
    private let entries = Mutex<[String]>([])

    init() {}

    func record(_ message: String) { entries.withLock { $0.append(message) } }

    /// The errors so far.
    public var messages: [String] { entries.withLock { $0 } }

    /// Whether any thread failed.
    public var failed: Bool { !messages.isEmpty }
}

/// A thread-safe multiset of strings, for counting deliveries across threads.
public final class DeliveryLog: Sendable {
    private let entries = Mutex<[String: Int]>([:])

    /// An empty log.
    public init() {}

    /// Records one delivery of `key`.
    public func record(_ key: String) { entries.withLock { $0[key, default: 0] += 1 } }

    /// Every key with its count.
    public var counts: [String: Int] { entries.withLock { $0 } }

    /// Total deliveries recorded.
    public var total: Int { entries.withLock { $0.values.reduce(0, +) } }
}
