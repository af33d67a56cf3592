import Core

/// Memory fundq's keys use in Redis, per queue.
public struct RedisQueueMemory: Sendable, Equatable {
    /// The queue.
    public var queue: String
    /// Its keys that exist.
    public var keys: Int
    /// Bytes they use (`MEMORY USAGE`).
    public var bytes: Int

    /// Measures every queue of `queue`'s server that has a list or bookkeeping keys.
    public static func measure(_ queue: RedisQueue) throws -> [RedisQueueMemory] {
        let connection = queue.connection
        let names = Set(try queue.queueNames()).union(try RedisRetention(queue: queue, idleSeconds: 0).bookkeepingQueues())
        return try names.sorted().map { name in
            let k = RedisQueue.Keys(name)
            var memory = RedisQueueMemory(queue: name, keys: 0, bytes: 0)
            for key in [k.list, k.inflight, k.leases, k.redeliveries, k.seq] {
                let reply = try connection.command("MEMORY", "USAGE", key, "SAMPLES", "0", context: "measuring \(name)")
                if let bytes = reply.integer {
                    memory.keys += 1
                    memory.bytes += Int(bytes)
                }
            }
            return memory
        }
    }
}
