import Foundation

/// Durations of individual operations, for throughput and percentiles.
public struct LatencySamples: Sendable {
    /// Each operation's duration, in seconds.
    public private(set) var seconds: [Double] = []
    /// Operations each sample stands for (a batch counts its messages).
    public private(set) var operations = 0
    /// Total wall time of the run, in seconds.
    public var wallSeconds = 0.0

    /// An empty set.
    public init() {}

    /// Records one sample of `operations` operations.
    public mutating func record(_ duration: Duration, operations: Int = 1) {
        seconds.append(duration.seconds)
        self.operations += operations
    }

    /// Operations per second over the wall time.
    public var throughput: Double { wallSeconds > 0 ? Double(operations) / wallSeconds : 0 }

    /// The `p`-th percentile (0…100) of the samples, in seconds.
    public func percentile(_ p: Double) -> Double {
        guard !seconds.isEmpty else { return 0 }
        let sorted = seconds.sorted()
        let rank = Int((p / 100 * Double(sorted.count - 1)).rounded())
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// CPU seconds (user + system) this process has used so far: beside a
    /// wall time, it tells waiting from working.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }

    /// Times `body` once per call, recording `operations` operations.
    @discardableResult
    public mutating func measure<T>(operations: Int = 1, _ body: () throws -> T) rethrows -> T {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try body()
        record(clock.now - start, operations: operations)
        return result
    }
}
