public import Backends
public import Core
public import Foundation
public import Rectifier

/// One queue on the status screen.
public struct QueueStatus: Sendable, Equatable {
    /// The queue.
    public var queue: String
    /// Messages waiting.
    public var waiting: Int
    /// Messages handed out and not yet acknowledged.
    public var inFlight: Int
    /// Seconds since the oldest message was enqueued.
    public var oldestAge: Double?
    /// Messages of this queue in the damaged store.
    public var damaged: Int

    /// A row.
    public init(queue: String, waiting: Int, inFlight: Int, oldestAge: Double?, damaged: Int) {
        self.queue = queue
        self.waiting = waiting
        self.inFlight = inFlight
        self.oldestAge = oldestAge
        self.damaged = damaged
    }
}

/// Everything `fundq status` shows, gathered in one go.
public struct StatusReport: Sendable {
    /// When it was gathered.
    public var time: Date
    /// Every queue with messages waiting, in flight or damaged.
    public var queues: [QueueStatus]
    /// Open pending rows per gateway.
    public var pending: [PendingCounts]
    /// The rectifier's latest decision per processor and its last hour's decisions by action.
    public var rectifier: [RectifierActivity]
    /// Registered processes (dead ones included until pruned).
    public var processes: [ProcessRecord]
    /// The database's schema version.
    public var schemaVersion: Int
    /// The schema version this build expects.
    public var expectedSchemaVersion: Int
    /// The database's total size and largest tables (nil when it could not be measured).
    public var storage: StorageSummary?

    /// A report.
    public init(time: Date, queues: [QueueStatus], pending: [PendingCounts], rectifier: [RectifierActivity],
                processes: [ProcessRecord], schemaVersion: Int, expectedSchemaVersion: Int, storage: StorageSummary? = nil) {
        self.time = time
        self.queues = queues
        self.pending = pending
        self.rectifier = rectifier
        self.processes = processes
        self.schemaVersion = schemaVersion
        self.expectedSchemaVersion = expectedSchemaVersion
        self.storage = storage
    }

    /// The window of the rectifier's recent outcomes.
    public static let rectifierWindow: TimeInterval = 3600

    /// Reads the stores.
    public static func gather(_ storage: Storage, at now: Date = Date()) throws -> StatusReport {
        let counts = StoreCounts(connection: storage.database)
        let damaged = try counts.damagedByQueue()
        var queues: [QueueStatus] = []
        for name in Set(try storage.queue.queueNames()).union(damaged.keys).sorted() {
            let stats = try storage.queue.stats(name)
            let row = QueueStatus(queue: name, waiting: stats.waiting, inFlight: stats.inFlight, oldestAge: stats.oldestAge(at: now),
                                  damaged: damaged[name] ?? 0)
            if row.waiting + row.inFlight + row.damaged > 0 { queues.append(row) }
        }
        return StatusReport(
            time: now, queues: queues, pending: try counts.pending(at: now),
            rectifier: try DecisionLog(connection: storage.database).activity(since: now.addingTimeInterval(-rectifierWindow), now: now),
            processes: try ProcessRegistry(connection: storage.database).list(),
            schemaVersion: try SchemaMigrator.installedVersion(storage.database), expectedSchemaVersion: SchemaMigrator.currentVersion,
            storage: try DatabaseStats.summary(storage.database))
    }

    /// `processor`'s circuit as the live rectifiers last reported it: "open"
    /// when one of them has it open, "closed" when one reported it closed,
    /// nil when no live rectifier has reported it.
    public func circuit(of processor: String) -> String? {
        let reported = live(role: "rectify").compactMap { $0.counters["circuit_open.\(processor)"] }
        if reported.isEmpty { return nil }
        return reported.contains(1) ? "open" : "closed"
    }

    /// Live processes whose role is `role`.
    public func live(role: String) -> [ProcessRecord] {
        processes.filter { $0.role == role && !$0.isDead(at: time) }
    }
}
