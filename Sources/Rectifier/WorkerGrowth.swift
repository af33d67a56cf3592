import Foundation

/// When an elastic ``RectifierPool`` starts another worker. Pure: the pool
/// samples the machine's idle CPU every tick and asks ``next(idle:processors:)``.
///
/// A worker is a thread that waits while its processor answers. When the
/// processors are slow (a real one answers in 200–500 ms) the workers wait
/// and the CPU idles: another worker adds throughput, up to each
/// processor's `concurrency`. When they answer in a millisecond the CPU is
/// the limit, and every worker past that point only adds its own cost: its
/// connections, its thread's caches, its share of the database's work
/// (`fundq bench rectify` on two cores measured 4 workers at 10% less CPU
/// per orphan than 16). So the pool starts with one worker per processor
/// and, while the machine stays idle, gives each processor one more at a
/// time (up to its `concurrency`, from 1 to 4 in three steps: about 1.2 s).
public struct WorkerGrowth: Sendable {
    /// One processor's workers, as the pool sees them.
    public struct Workers: Sendable, Equatable {
        /// The processor's name.
        public var name: String
        /// Its workers started so far.
        public var started: Int
        /// Of those, the ones that ran out of due rows (then its rows are all taken: no worker is added).
        public var finished: Int
        /// Its configured `concurrency`: workers never exceed it.
        public var limit: Int

        /// A processor's workers.
        public init(name: String, started: Int, finished: Int, limit: Int) {
            self.name = name
            self.started = started
            self.finished = finished
            self.limit = limit
        }
    }

    /// The idle share of the machine's CPU (0–1) over a tick above which it counts as waiting.
    public let idleThreshold: Double
    /// Ticks in a row the machine must wait before a worker is added (one
    /// slow flush or the run's first claims are not a reason to grow).
    public let patience: Int
    private var idleTicks = 0

    /// Growth past `idleThreshold` idle for `patience` ticks in a row.
    public init(idleThreshold: Double = 0.2, patience: Int = 2) {
        self.idleThreshold = idleThreshold
        self.patience = max(1, patience)
    }

    /// The processors to start one more worker for after a tick whose idle
    /// share was `idle` (nil: not measurable here; then every tick grows, as
    /// if the machine were idle): once the machine has been idle for
    /// `patience` ticks, every processor with room (fewer workers than its
    /// limit, none run out of rows), in the order given.
    public mutating func next(idle: Double?, processors: [Workers]) -> [String] {
        if let idle, idle < idleThreshold {
            idleTicks = 0
            return []
        }
        idleTicks += 1
        guard idleTicks >= patience || idle == nil else { return [] }
        idleTicks = 0
        return processors.filter { $0.finished == 0 && $0.started < $0.limit }.map(\.name)
    }
}

/// Where an elastic ``RectifierPool`` reads how idle the machine was over its last tick.
public protocol IdleSampling {
    /// The idle share of the CPU (0–1) since the previous sample, or nil when it cannot be known.
    mutating func sample() -> Double?
}

/// The machine's idle CPU share between two samples, from `/proc/stat`;
/// nil where there is no such file. Time waiting on the disk (`iowait`) is
/// not idle here: a slow flush holds every worker at the database, and more
/// workers would only wait there too.
public struct MachineIdleSampler: IdleSampling, Sendable {
    private var last: (idle: Double, total: Double)?

    /// A sampler; its first ``sample()`` only takes a starting point.
    public init() {
        last = Self.read()
    }

    /// The idle share since the previous sample (nil when `/proc/stat` cannot be read).
    public mutating func sample() -> Double? {
        guard let now = Self.read() else { return nil }
        defer { last = now }
        guard let last, now.total > last.total else { return nil }
        return (now.idle - last.idle) / (now.total - last.total)
    }

    /// The first line of `/proc/stat`: `cpu user nice system idle iowait irq softirq steal …`.
    static func read() -> (idle: Double, total: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return nil }
        return (fields[3], fields.prefix(8).reduce(0, +))
    }
}
