import Core
import Foundation

/// When an elastic ``RectifierPool`` starts another worker. Pure: the pool
/// samples the CPU its process left unused every tick and asks ``next(idle:processors:)``.
///
/// A worker is a thread that waits while its processor answers. When the
/// processors are slow (a real one answers in 200–500 ms) the workers wait
/// and the process hardly uses the CPU: another worker adds throughput, up
/// to each processor's `concurrency`. When they answer in a millisecond the
/// CPU is the limit, and every worker past that point only adds its own
/// cost: its connections, its thread's caches, its share of the database's
/// work (`fundq bench rectify` on two cores measured 4 workers at 10–15%
/// less CPU per orphan than 16). So the pool starts with one worker per
/// processor and, while the process leaves at least half the CPU unused,
/// gives each processor one more per step (up to its `concurrency`: from 1
/// to 4 in three steps of three 200 ms ticks, about 1.8 s).
public struct WorkerGrowth: Sendable {
    /// One processor's workers, as the pool sees them.
    public struct Workers: Sendable, Equatable {
        /// The processor's name.
        public var name: String
        /// Its workers started so far.
        public var started: Int
        /// Of those, the ones that have ended, for whatever reason (out of due rows, the limit or the time
        /// spent, a stop, an open circuit, a failure): then no worker is added for it.
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

    /// The unused share of the CPU (0–1) over a tick from which the workers count as waiting.
    public let idleThreshold: Double
    /// Ticks in a row the CPU must stay unused before a worker is added (the
    /// run's first claims, or one slow flush of half a second, are not a reason to grow).
    public let patience: Int
    private var idleTicks = 0

    /// Growth past `idleThreshold` idle for `patience` ticks in a row.
    public init(idleThreshold: Double = 0.5, patience: Int = 3) {
        self.idleThreshold = idleThreshold
        self.patience = max(1, patience)
    }

    /// The processors to start one more worker for after a tick whose unused
    /// share was `idle` (nil: not measurable; then every tick grows, as if
    /// the CPU were unused): once it has been unused for
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

/// Where an elastic ``RectifierPool`` reads how much of the CPU it left unused over its last tick.
public protocol IdleSampling {
    /// The share of the CPU (0–1) left unused since the previous sample, or nil when it cannot be known.
    mutating func sample() -> Double?
}

/// The share of the machine's cores this process left unused between two
/// samples: its CPU time (user and system) against the wall clock times the
/// cores. The process's own figure, not the machine's: workers waiting on a
/// real processor use almost none of it however busy the host is with other
/// work, and workers waiting on a simulator inside the process (the
/// sandbox) use it all. Time the process spends waiting on its disk counts
/// as unused: a long flush can add a worker.
public struct ProcessIdleSampler: IdleSampling, Sendable {
    private var last: (cpu: Double, at: ContinuousClock.Instant)
    /// The cores the share is of.
    public let cores: Int

    /// A sampler counting `cores` cores (default: the machine's); it takes its starting point now.
    public init(cores: Int? = nil) {
        self.cores = cores ?? ProcessInfo.processInfo.activeProcessorCount
        last = (LatencySamples.processCPUSeconds(), ContinuousClock.now)
    }

    public mutating func sample() -> Double? {
        let now = (cpu: LatencySamples.processCPUSeconds(), at: ContinuousClock.now)
        defer { last = now }
        return Self.unusedShare(cpuSeconds: now.cpu - last.cpu, wallSeconds: (now.at - last.at).seconds, cores: cores)
    }

    /// `1 − cpuSeconds / (wallSeconds × cores)`, kept within 0–1; nil without a wall time or a core.
    public static func unusedShare(cpuSeconds: Double, wallSeconds: Double, cores: Int) -> Double? {
        guard wallSeconds > 0, cores > 0 else { return nil }
        return min(1, max(0, 1 - cpuSeconds / (wallSeconds * Double(cores))))
    }
}
