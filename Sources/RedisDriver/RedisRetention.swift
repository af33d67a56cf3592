import Core

/// The retention rule for fundq's bookkeeping keys in Redis: a queue whose
/// list is empty and that has nothing in flight keeps its id counter
/// (`fundq:{NAME}:seq`) and any leftover lease entries until it has been
/// idle for `idleSeconds`; then they go. Queues with messages waiting or in
/// flight are never touched. Call-rate keys (`fundq:rate:NAME`) expire by
/// themselves after a day.
public struct RedisRetention {
    /// The queues' server.
    public let queue: RedisQueue
    /// How long an empty queue's bookkeeping stays after its last use.
    public let idleSeconds: Int

    /// The rule on `queue`'s server.
    public init(queue: RedisQueue, idleSeconds: Int) {
        self.queue = queue
        self.idleSeconds = idleSeconds
    }

    /// The rule in words.
    public static let summary = "bookkeeping keys of a queue with nothing waiting or in flight, idle for N days; "
        + "queues in use are never touched"

    /// KEYS: list, inflight, leases, redeliveries, seq; ARGV: idle seconds,
    /// 1 to remove (0: count only). Returns the keys removed (or removable).
    /// The id counter's idle time says when the queue was last claimed from;
    /// a server that cannot say (an LFU eviction policy) keeps it.
    static let script = RedisScript(name: "fundq-retention-idle-queue", source: """
        if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HLEN', KEYS[2]) > 0 then return 0 end
        if redis.call('EXISTS', KEYS[5]) == 1 then
          local ok, idle = pcall(redis.call, 'OBJECT', 'IDLETIME', KEYS[5])
          if not ok or not idle or idle < tonumber(ARGV[1]) then return 0 end
        end
        local n = redis.call('EXISTS', KEYS[3], KEYS[4], KEYS[5])
        if ARGV[2] == '1' and n > 0 then redis.call('DEL', KEYS[3], KEYS[4], KEYS[5]) end
        return n
        """)

    /// Applies the rule (dry: counts only); returns the keys removed.
    public func run(dryRun: Bool) throws -> Int {
        var removed = 0
        for name in try bookkeepingQueues() {
            let keys = RedisQueue.Keys(name)
            let reply = try queue.connection.evaluate(
                Self.script, keys: [keys.list, keys.inflight, keys.leases, keys.redeliveries, keys.seq],
                arguments: [Array(String(idleSeconds).utf8), Array((dryRun ? "0" : "1").utf8)],
                context: "applying retention to the bookkeeping of \(name)")
            removed += Int(reply.integer ?? 0)
        }
        return removed
    }

    /// Queues that have bookkeeping keys (`fundq:{NAME}:…`).
    public func bookkeepingQueues() throws -> [String] {
        var names = Set<String>()
        for key in try queue.scanKeys(matching: "fundq:{*}:*", context: "listing fundq's keys") {
            guard let open = key.firstIndex(of: "{"), let close = key.lastIndex(of: "}"), open < close else { continue }
            names.insert(String(key[key.index(after: open)..<close]))
        }
        return names.sorted()
    }
}
