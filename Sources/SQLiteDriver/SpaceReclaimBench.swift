public import Core
import Foundation
import Synchronization

/// Measures what giving space back costs a producer (`fundq bench
/// reclaim`): push latency on the embedded file with no reclaim running
/// (the baseline), while another connection reclaims a drained queue's free
/// pages in steps (as the consumers do), and while it reclaims them in one
/// single step (what the steps avoid).
public struct SpaceReclaimBench {
    /// The embedded file.
    public let path: String
    /// Messages pushed and drained before each reclaim.
    public let messages: Int
    /// A message body (about 600 bytes in the scenario).
    public let body: [UInt8]
    /// Pushes timed for the baseline.
    public let baselinePushes: Int
    /// Seconds between the starts of two pushes (a producer with a steady
    /// rate, as web servers are; 0: back to back).
    public let pushInterval: Double

    /// A bench on the file at `path`.
    public init(path: String, messages: Int, body: [UInt8], baselinePushes: Int = 500, pushInterval: Double = 0.005) {
        self.path = path
        self.messages = messages
        self.body = body
        self.baselinePushes = baselinePushes
        self.pushInterval = pushInterval
    }

    /// Pushes one message, timed, then waits for the next push's turn.
    private func pacedPush(_ queue: SQLiteQueue, _ name: String, into samples: inout LatencySamples) throws {
        let clock = ContinuousClock()
        let start = clock.now
        try samples.measure { try queue.append([body], to: name) }
        let left = pushInterval - (clock.now - start).seconds
        if left > 0 { Thread.sleep(forTimeInterval: left) }
    }

    /// One phase's figures.
    public struct Phase: Sendable {
        /// What was measured.
        public var name: String
        /// Each push's latency.
        public var pushes = LatencySamples()
        /// Pages the reclaim gave back (0 for the baseline).
        public var pagesReclaimed = 0
        /// How long the reclaim ran, in seconds (0 for the baseline).
        public var reclaimSeconds = 0.0
    }

    /// Runs the three phases.
    public func run() throws -> [Phase] {
        let db = try SQLiteDatabase(path: path)
        try SchemaMigrator.migrate(db)
        let queue = SQLiteQueue(database: db)
        queue.reclaimPolicy = nil  // the bench decides when space goes back
        let name = "fundq-bench-reclaim-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? queue.removeAll(name) }
        try db.reclaimFreePages(keeping: 0, maximumSteps: .max)

        var baseline = Phase(name: "push, no reclaim running")
        for _ in 0..<baselinePushes { try pacedPush(queue, name, into: &baseline.pushes) }
        try queue.removeAll(name)
        try db.reclaimFreePages(keeping: 0, maximumSteps: .max)

        var phases = [baseline]
        let steps = SQLiteDatabase.reclaimStepPages
        phases.append(try pushWhileReclaiming("push during a reclaim in \(steps)-page steps", queue, name, stepPages: steps))
        phases.append(try pushWhileReclaiming("push during a reclaim in one step", queue, name, stepPages: .max))
        return phases
    }

    /// Fills and drains the queue, then pushes one message at a time while
    /// another connection gives the free pages back.
    private func pushWhileReclaiming(_ title: String, _ queue: SQLiteQueue, _ name: String, stepPages: Int) throws -> Phase {
        try fillAndDrain(queue, name)
        let done = Mutex<(pages: Int, seconds: Double, error: String?)?>(nil)
        let started = DispatchSemaphore(value: 0)
        let path = self.path
        let thread = Thread {
            let clock = ContinuousClock()
            do {
                let reclaimer = try SQLiteDatabase(path: path)
                started.signal()
                let start = clock.now
                let pages = try reclaimer.reclaimFreePages(keeping: 0, maximumSteps: .max, stepPages: stepPages)
                let seconds = (clock.now - start).seconds
                done.withLock { $0 = (pages, seconds, nil) }
            } catch {
                started.signal()
                done.withLock { $0 = (0, 0, "\(error)") }
            }
        }
        thread.start()
        started.wait()
        var phase = Phase(name: title)
        while done.withLock({ $0 }) == nil { try pacedPush(queue, name, into: &phase.pushes) }
        let result = done.withLock { $0 }!
        if let error = result.error { throw ConfigurationError("the reclaiming connection failed: \(error)") }
        phase.pagesReclaimed = result.pages
        phase.reclaimSeconds = result.seconds
        try queue.removeAll(name)
        try queue.database.reclaimFreePages(keeping: 0, maximumSteps: .max)
        return phase
    }

    private func fillAndDrain(_ queue: SQLiteQueue, _ name: String) throws {
        var pushed = 0
        while pushed < messages {
            let n = min(500, messages - pushed)
            try queue.append(Array(repeating: body, count: n), to: name)
            pushed += n
        }
        while true {
            let claimed = try queue.claim(from: name, limit: 1_000, lease: .seconds(600))
            if claimed.isEmpty { return }
            _ = try queue.acknowledge(claimed.map(\.receipt), in: name)
        }
    }
}
