public import Foundation
public import Logging
import Synchronization

/// A long-running process's entry in the ``ProcessRegistry``. The run loop
/// says what it is doing and bumps its counters (cheap: memory only); a
/// thread of the heartbeat's own, on its own database connection, writes
/// them every interval, so a long transaction in the loop never holds up a
/// heartbeat and a heartbeat never joins the loop's transaction. A process
/// that is killed stops beating and shows as dead after three intervals; one
/// that stops cleanly (``stop()``) removes its row.
public final class Heartbeat: Sendable {
    private struct State {
        var doing: String
        var doingSince: Date
        var counters: [String: Int] = [:]
        var stopped = false
    }

    /// The process's registry id.
    public let id: String
    /// Its role.
    public let role: String
    /// Seconds between heartbeats.
    public let interval: Double
    private let startedAt: Date
    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger

    /// Registers the process (synchronously, so a broken database fails the
    /// start) and starts beating every `interval` seconds on a thread of its
    /// own with a connection from `connect`.
    public init(role: String, interval: Double, doing: String = "starting", logger: Logger,
                connect: @escaping @Sendable () throws -> any SQLConnection) throws {
        let now = Date()
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        let host = ProcessInfo.processInfo.hostName
        id = "\(host):\(pid):\(Int64(now.timeIntervalSince1970 * 1000))"
        self.role = role
        self.interval = interval
        self.logger = logger
        startedAt = now
        state = Mutex(State(doing: doing, doingSince: now))
        let registry = ProcessRegistry(connection: try connect())
        try registry.write(record(at: now))
        try registry.prune(at: now)
        let thread = Thread { [self] in beat(connect) }
        thread.name = "fundq-heartbeat"
        thread.start()
    }

    /// Says what the process is doing now (kept until the next change).
    public func doing(_ what: String) {
        state.withLock { s in
            guard s.doing != what else { return }
            s.doing = what
            s.doingSince = Date()
        }
    }

    /// Adds `amount` to counter `name`.
    public func count(_ name: String, by amount: Int = 1) {
        guard amount != 0 else { return }
        state.withLock { $0.counters[name, default: 0] += amount }
    }

    /// Sets counter `name` (a gauge-like figure, such as a time).
    public func set(_ name: String, to value: Int) {
        state.withLock { $0.counters[name] = value }
    }

    /// Stops beating and removes the process's row; waits for the thread.
    public func stop() {
        let first = state.withLock { s in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
        wake.signal()
        finished.wait()
    }

    private func record(at now: Date) -> ProcessRecord {
        let s = state.withLock { $0 }
        return ProcessRecord(id: id, role: role, host: ProcessInfo.processInfo.hostName,
                             pid: Int(ProcessInfo.processInfo.processIdentifier), startedAt: startedAt, heartbeatAt: now,
                             intervalSeconds: interval, doing: s.doing, doingSince: s.doingSince, counters: s.counters)
    }

    private func beat(_ connect: @Sendable () throws -> any SQLConnection) {
        var beats = 0
        var registry: ProcessRegistry?
        while wake.wait(timeout: .now() + interval) == .timedOut {
            beats += 1
            do {
                // Its own connection, opened again after an outage.
                if registry == nil { registry = ProcessRegistry(connection: try connect()) }
                try registry?.write(record(at: Date()))
                // Pruning is everyone's chore, done now and then.
                if beats % 100 == 0 { try registry?.prune() }
            } catch {
                registry = nil
                logger.warning("heartbeat not written (the process goes on): \(error)", metadata: ["role": "\(role)"])
            }
        }
        do {
            try (registry ?? ProcessRegistry(connection: try connect())).remove(id: id)
        } catch {
            logger.warning("could not remove this process from the registry; it will show as dead: \(error)")
        }
        finished.signal()
    }
}
