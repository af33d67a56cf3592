import Foundation

/// The measurements behind `fundq bench impressions`.
public enum ImpressionsBench {
    /// One measured run.
    public struct Run: Sendable {
        /// Events handled.
        public var events: Int
        /// Wall-clock seconds.
        public var seconds: Double
        /// CPU seconds of this process (user + system) during the run.
        public var cpuSeconds: Double
        /// Distinct keys aggregated (0 where not applicable).
        public var keys: Int
        /// Events per wall-clock second.
        public var perSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }
        /// Events per CPU second (per core).
        public var perCPUSecond: Double { cpuSeconds > 0 ? Double(events) / cpuSeconds : 0 }
    }

    /// CPU seconds used by this process so far.
    public static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }

    /// Times `body`, which returns (events, keys).
    public static func measure(_ body: () throws -> (Int, Int)) rethrows -> Run {
        let cpu0 = cpuSeconds()
        let clock = ContinuousClock()
        let t0 = clock.now
        let (events, keys) = try body()
        let elapsed = clock.now - t0
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Run(events: events, seconds: seconds, cpuSeconds: cpuSeconds() - cpu0, keys: keys)
    }

    /// Writes `count` synthetic events (10% poison) as JSON lines to `path`.
    public static func writeEvents(count: Int, to path: String, seed: UInt64 = 42) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path) else {
            throw ImpressionsError("cannot create \(path)")
        }
        defer { try? out.close() }
        var generator = SyntheticImpressions(seed: seed)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 21)
        for _ in 0..<count {
            buffer.append(contentsOf: generator.event().bytes)
            buffer.append(0x0A)
            if buffer.count >= 1 << 20 {
                try out.write(contentsOf: buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try out.write(contentsOf: buffer)
    }

    /// Reads `path` and scans and aggregates every event in memory.
    public static func scanFile(_ path: String) throws -> Run {
        let batch = ImpressionBatch()
        return try measure {
            let reader = try EventFileReader(path: path)
            try reader.forEachLine(oversize: { batch.addOversize($0) }) { line in
                batch.add(line)
                return true
            }
            return (batch.events, batch.keyCount)
        }
    }

    /// The baseline: Foundation's JSONDecoder on the first `limit` events of `path`.
    public static func decodeWithJSONDecoder(_ path: String, limit: Int) throws -> Run {
        let reader = try EventFileReader(path: path)
        var lines: [Data] = []
        try reader.forEachLine(oversize: { _ in }) { line in
            lines.append(Data(line))
            return lines.count < limit
        }
        let decoder = JSONDecoder()
        var counts: [String: Int64] = [:]
        return measure {
            for line in lines {
                guard let event = try? decoder.decode(DecodableImpression.self, from: line) else { continue }
                counts[event.event.banner ?? "", default: 0] += 1
            }
            return (lines.count, counts.count)
        }
    }

    struct DecodableImpression: Decodable {
        struct UserAgent: Decodable { var is_bot: Bool? }
        struct Event: Decodable {
            var banner: String?
            var campaign: String?
            var country: String?
            var uselang: String?
            var project: String?
            var device: String?
            var result: String?
            var impressionEventSampleRate: Double?
        }
        var dt: String
        var userAgent: UserAgent?
        var event: Event
    }
}
