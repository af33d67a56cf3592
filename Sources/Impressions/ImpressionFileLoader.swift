internal import CZlib
import Foundation

/// How a file load ended.
public enum FileLoadResult: Sendable, Equatable {
    /// Loaded now: `events` read; `restarted` when a half-loaded earlier
    /// attempt was rolled back first.
    case loaded(events: Int, restarted: Bool)
    /// Loaded before (with that many events): skipped.
    case alreadyLoaded(events: Int64)
}

/// Loads a JSON-lines file (plain or gzip) from the old pipeline, exactly
/// once per file: the file is known by its size and CRC-32, staged in
/// chunks under that key, and merged in one final transaction. Not
/// `Sendable`: it owns the store; one per task.
public final class ImpressionFileLoader {
    /// Where the counts go.
    public let store: ImpressionStore
    /// Events aggregated in memory before they are staged.
    public var flushEvents: Int
    /// Seconds a claim lasts without renewal (renewed at every stage).
    public var lease: Double

    /// A loader writing to `store`.
    public init(store: ImpressionStore, flushEvents: Int = 2_000_000, lease: Double = 600) {
        self.store = store
        self.flushEvents = flushEvents
        self.lease = lease
    }

    /// The file's identity: `SIZE-CRC32` of its bytes as stored.
    public static func fileKey(path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ImpressionsError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var crc: UInt = crc32(0, nil, 0)
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer, size)
            if n < 0 {
                if errno == EINTR { continue }
                throw ImpressionsError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            crc = crc32(crc, buffer.assumingMemoryBound(to: UInt8.self), UInt32(n))
            total += Int64(n)
        }
        return "\(total)-" + String(format: "%08x", UInt32(truncatingIfNeeded: crc))
    }

    /// Loads `path`; `progress` is called now and then with (bytes read, file size, events).
    public func load(path: String, progress: ((Int64, Int64, Int) -> Void)? = nil) throws -> FileLoadResult {
        let key = try ImpressionFileLoader.fileKey(path: path)
        let host = ProcessInfo.processInfo.hostName
        let claim = try store.claimFile(key: key, path: path, host: host, pid: getpid(), lease: lease) { holder, pid in
            holder == host && kill(pid, 0) != 0 && errno == ESRCH
        }
        let token: String
        let restarted: Bool
        switch claim {
        case .alreadyLoaded(let events): return .alreadyLoaded(events: events)
        case .busy(let holder, let pid, let until):
            throw ImpressionsError("\(path) is being loaded by pid \(pid) on \(holder) (claim until \(until)); try again later")
        case .claimed(let t, let r):
            token = t
            restarted = r
        }
        let reader = try EventFileReader(path: path)
        let batch = ImpressionBatch()
        var events = 0
        try reader.forEachLine(oversize: { batch.addOversize($0) }) { line in
            batch.add(line)
            if batch.events >= flushEvents {
                events += batch.events
                try store.stage(batch, fileKey: key, token: token, lease: lease)
                batch.clear()
                progress?(reader.position, reader.size, events)
            } else if batch.events & 0xFFFF == 0 {
                progress?(reader.position, reader.size, events + batch.events)
            }
            return true
        }
        events += batch.events
        try store.stage(batch, fileKey: key, token: token, lease: lease)
        try store.finishFile(key: key, token: token)
        progress?(reader.size, reader.size, events)
        return .loaded(events: events, restarted: restarted)
    }
}
