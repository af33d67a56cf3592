public import Core
import Foundation
public import RedisDriver
import Synchronization

/// Keeps each processor's schedule of call slots. A slot is a time (unix
/// seconds); slots are `1 / rate` apart and each is handed out once, so
/// every rectifier sharing the store together stays within the rate.
public protocol CallSlotStore: AnyObject {
    /// Reserves `count` consecutive slots `interval` seconds apart for
    /// `key`, none before `now`; returns the first slot's time.
    func reserve(_ key: String, count: Int, interval: Double, now: Double) throws -> Double
}

/// Slots kept in this process only.
public final class LocalCallSlots: CallSlotStore {
    private var next: [String: Double] = [:]

    /// An empty schedule.
    public init() {}

    public func reserve(_ key: String, count: Int, interval: Double, now: Double) throws -> Double {
        let first = max(next[key] ?? 0, now)
        next[key] = first + Double(count) * interval
        return first
    }
}

/// Slots in the database (table `rectifier_rate`), shared by every process
/// using the same SQLite file or MariaDB database.
public final class DatabaseCallSlots: CallSlotStore {
    let connection: any SQLConnection

    /// A schedule in `connection`'s database (its schema migrated).
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    public func reserve(_ key: String, count: Int, interval: Double, now: Double) throws -> Double {
        let span = Double(count) * interval
        return try Rectifier.retryingTransient {
            try connection.transaction {
                switch connection.dialect {
                case .sqlite:
                    try connection.execute("INSERT OR IGNORE INTO rectifier_rate (name, next_slot) VALUES (?, 0)", [.text(key)])
                    let end = try connection.query("""
                        UPDATE rectifier_rate SET next_slot = max(next_slot, ?) + ? WHERE name = ? RETURNING next_slot
                        """, [.real(now), .real(span), .text(key)]).first?.first?.double
                    return (end ?? now + span) - span
                case .mariadb:
                    try connection.execute("INSERT IGNORE INTO rectifier_rate (name, next_slot) VALUES (?, 0)", [.text(key)])
                    try connection.execute("UPDATE rectifier_rate SET next_slot = GREATEST(next_slot, ?) + ? WHERE name = ?",
                                           [.real(now), .real(span), .text(key)])
                    let end = try connection.query("SELECT next_slot FROM rectifier_rate WHERE name = ?", [.text(key)]).first?.first?.double
                    return (end ?? now + span) - span
                }
            }
        }
    }
}

/// Slots in Redis (key `fundq:rate:NAME`), shared by every process using
/// the same Redis.
public final class RedisCallSlots: CallSlotStore {
    let connection: RedisConnection

    static let script = RedisScript(name: "fundq-rate-reserve", source: """
        local now = tonumber(ARGV[1])
        local span = tonumber(ARGV[2])
        local first = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
        if first < now then first = now end
        redis.call('SET', KEYS[1], string.format('%.6f', first + span), 'EX', 86400)
        return string.format('%.6f', first)
        """)

    /// A schedule in the Redis `connection` talks to.
    public init(connection: RedisConnection) {
        self.connection = connection
    }

    public func reserve(_ key: String, count: Int, interval: Double, now: Double) throws -> Double {
        let span = Double(count) * interval
        let reply = try connection.evaluate(Self.script, keys: ["fundq:rate:\(key)"],
                                            arguments: [Array(String(format: "%.6f", now).utf8), Array(String(format: "%.6f", span).utf8)],
                                            context: "reserving call slots for \(key)")
        guard let text = reply.text, let first = Double(text) else {
            throw ConfigurationError("Redis answered \(reply.shape) when reserving call slots for \(key)")
        }
        return first
    }
}

/// Paces calls to each processor to its configured rate over every worker
/// of this process and, with a shared ``CallSlotStore``, over every process:
/// a worker takes the next slot and waits for its time. Slots are reserved
/// from the store a few at a time (about 50 ms' worth), so the store is
/// asked at most about 20 times a second per processor per process; in any
/// window, calls stay within `rate × window` plus those few per process.
public final class ProcessorRateLimiter: Sendable {
    struct Reserved {
        var next: Double
        var remaining: Int
    }

    /// One processor's slots in hand, behind its own lock: workers asking
    /// different processors never wait for each other.
    final class Schedule: Sendable {
        let reserved = Mutex(Reserved(next: 0, remaining: 0))
    }

    private let store: Mutex<any CallSlotStore>
    /// The processors named at creation (the common case: a pool's).
    private let schedules: [String: Schedule]
    /// Any other processor's, made on first use.
    private let otherSchedules = Mutex<[String: Schedule]>([:])

    /// A limiter reserving its slots from `store`, for `processors` (others are
    /// paced too, their schedules made on first use).
    public init(store: sending any CallSlotStore, processors: [String] = []) {
        self.store = Mutex(store)
        schedules = Dictionary(processors.map { ($0, Schedule()) }) { first, _ in first }
    }

    /// Waits until the next call to `processor` is allowed at `ratePerSecond`.
    public func waitForSlot(_ processor: String, ratePerSecond: Double) throws {
        let slot = try takeSlot(processor, ratePerSecond: ratePerSecond, now: Date().timeIntervalSince1970)
        let wait = slot - Date().timeIntervalSince1970
        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
    }

    /// The time of the next slot for `processor` (reserving more from the store when none is left).
    func takeSlot(_ processor: String, ratePerSecond: Double, now: Double) throws -> Double {
        let interval = 1 / max(ratePerSecond, 0.001)
        let schedule = schedules[processor] ?? otherSchedules.withLock { table in
            if let known = table[processor] { return known }
            let made = Schedule()
            table[processor] = made
            return made
        }
        return try schedule.reserved.withLock { mine throws -> Double in
            if mine.remaining == 0 {
                let count = max(1, Int(ratePerSecond * 0.05))
                mine.next = try store.withLock { try $0.reserve(processor, count: count, interval: interval, now: now) }
                mine.remaining = count
            }
            let slot = mine.next
            mine.next += interval
            mine.remaining -= 1
            return slot
        }
    }
}
