public import Foundation

/// One long-running process as its heartbeats describe it: a row of `fundq_process`.
public struct ProcessRecord: Sendable, Equatable {
    /// `HOST:PID:STARTED-MILLISECONDS`, unique per process run.
    public var id: String
    /// What the process is: `consume-pending`, `rectify`, `ipn`, `jobs-requeue-damaged`, …
    public var role: String
    /// The host it runs on.
    public var host: String
    /// Its process id on that host.
    public var pid: Int
    /// When it started.
    public var startedAt: Date
    /// Its last heartbeat.
    public var heartbeatAt: Date
    /// Seconds between its heartbeats.
    public var intervalSeconds: Double
    /// What it was doing at its last heartbeat ("waiting for messages", "rectify pass").
    public var doing: String
    /// Since when it has been doing that.
    public var doingSince: Date
    /// Its counters (messages claimed, damaged, passes, …).
    public var counters: [String: Int]

    /// A record.
    public init(id: String, role: String, host: String, pid: Int, startedAt: Date, heartbeatAt: Date, intervalSeconds: Double,
                doing: String, doingSince: Date, counters: [String: Int]) {
        self.id = id
        self.role = role
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.intervalSeconds = intervalSeconds
        self.doing = doing
        self.doingSince = doingSince
        self.counters = counters
    }

    /// Heartbeats missed before a process counts as dead.
    public static let missedBeatsForDead = 3.0

    /// Whether it has missed ``missedBeatsForDead`` heartbeats by `now`.
    public func isDead(at now: Date = Date()) -> Bool {
        now.timeIntervalSince(heartbeatAt) > intervalSeconds * Self.missedBeatsForDead
    }

    /// Seconds since its last heartbeat.
    public func heartbeatAge(at now: Date = Date()) -> Double {
        max(0, now.timeIntervalSince(heartbeatAt))
    }
}

/// The process registry (`fundq_process`): each long-running process's row,
/// written by its ``Heartbeat``, read by `fundq status`. A process that stops
/// cleanly removes its row; one that dies leaves it to go stale (shown dead
/// after three missed intervals) until it is pruned ``pruneAfter`` later.
public struct ProcessRegistry {
    /// The database holding the registry.
    public let connection: any SQLConnection

    /// How long a dead process's row is kept (shown as dead) before it is pruned.
    public static let pruneAfter: TimeInterval = 3600

    /// A registry in `connection`'s database.
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    /// Writes `record` (inserted the first time, updated after).
    public func write(_ r: ProcessRecord) throws {
        let d = connection.dialect
        let counters = JSONValue.object(r.counters.mapValues { .number(String($0)) }).serialized()
        let changed = try connection.execute("""
            UPDATE fundq_process SET heartbeat_at = ?, doing = ?, doing_since = ?, counters = ? WHERE id = ?
            """, [d.value(r.heartbeatAt), .text(String(r.doing.prefix(1000))), d.value(r.doingSince), .text(counters), .text(r.id)])
        guard changed == 0 else { return }
        try connection.execute("""
            INSERT INTO fundq_process (id, role, host, pid, started_at, heartbeat_at, interval_ms, doing, doing_since, counters)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(r.id), .text(r.role), .text(r.host), .int(r.pid), d.value(r.startedAt), d.value(r.heartbeatAt),
                  .int(Int((r.intervalSeconds * 1000).rounded())), .text(String(r.doing.prefix(1000))), d.value(r.doingSince),
                  .text(counters)])
    }

    /// Removes the row of a process that stopped cleanly.
    public func remove(id: String) throws {
        try connection.execute("DELETE FROM fundq_process WHERE id = ?", [.text(id)])
    }

    /// Deletes the rows of processes with no heartbeat for ``pruneAfter``; returns how many.
    @discardableResult
    public func prune(at now: Date = Date()) throws -> Int {
        try connection.execute("DELETE FROM fundq_process WHERE heartbeat_at < ?",
                               [connection.dialect.value(now.addingTimeInterval(-Self.pruneAfter))])
    }

    /// Every registered process, by role then start.
    public func list() throws -> [ProcessRecord] {
        let d = connection.dialect
        return try connection.query("""
            SELECT id, role, host, pid, started_at, heartbeat_at, interval_ms, doing, doing_since, counters
            FROM fundq_process ORDER BY role, started_at, id
            """, []).map { r in
            let epoch = Date(timeIntervalSince1970: 0)
            return ProcessRecord(id: r[0].string ?? "", role: r[1].string ?? "", host: r[2].string ?? "", pid: Int(r[3].int64 ?? 0),
                                 startedAt: d.date(r[4]) ?? epoch, heartbeatAt: d.date(r[5]) ?? epoch,
                                 intervalSeconds: Double(r[6].int64 ?? 0) / 1000, doing: r[7].string ?? "",
                                 doingSince: d.date(r[8]) ?? epoch, counters: Self.counters(r[9].string ?? "{}"))
        }
    }

    private static func counters(_ text: String) -> [String: Int] {
        guard case .object(let fields)? = try? JSONParser().parse(Array(text.utf8)) else { return [:] }
        return fields.compactMapValues { value in
            if case .number(let n) = value { return Int(n) }
            return nil
        }
    }
}
