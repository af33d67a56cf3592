public import Core
import Foundation

/// Queues in Redis, in the layout the PHP producers already use: queue NAME
/// is the list at key NAME, JSON strings, RPUSH at the tail, oldest at the
/// head. Leases and delivery counts live under `fundq:{NAME}:…` keys (see
/// ``RedisQueueScripts``).
///
/// Durability is the server's: run Redis with `appendonly yes` and
/// `appendfsync always` so that an acknowledged push survives a crash.
public final class RedisQueue: MessageQueue {
    /// The connection used for every command.
    public let connection: RedisConnection

    /// Largest number of values sent in one RPUSH.
    static let appendChunk = 1_000

    /// Most messages handed out by one claim (a claim is one script; Redis
    /// runs nothing else meanwhile, so it is kept short).
    public static let maximumClaim = 1_000

    /// A queue backend on the Redis server at `url`.
    public init(url: RedisURL) {
        connection = RedisConnection(url: url)
    }

    /// The server URL, password masked.
    public var location: String { connection.url.description }

    struct Keys {
        let list: String
        let inflight: String
        let leases: String
        let redeliveries: String
        let seq: String

        init(_ queue: String) {
            list = queue
            inflight = "fundq:{\(queue)}:inflight"
            leases = "fundq:{\(queue)}:leases"
            redeliveries = "fundq:{\(queue)}:redeliveries"
            seq = "fundq:{\(queue)}:seq"
        }
    }

    public func append(_ bodies: [[UInt8]], to queue: String) throws {
        guard !bodies.isEmpty else { return }
        if bodies.count <= RedisQueue.appendChunk {
            try connection.command([Array("RPUSH".utf8), Array(queue.utf8)] + bodies, context: "pushing to \(queue)")
            return
        }
        // Larger batches: one MULTI/EXEC transaction, so it is all or nothing.
        var commands: [[[UInt8]]] = [[Array("MULTI".utf8)]]
        var start = 0
        while start < bodies.count {
            let end = min(start + RedisQueue.appendChunk, bodies.count)
            commands.append([Array("RPUSH".utf8), Array(queue.utf8)] + bodies[start..<end])
            start = end
        }
        commands.append([Array("EXEC".utf8)])
        let replies = try connection.pipeline(commands, context: "pushing \(bodies.count) messages to \(queue)")
        if case .array(let results) = replies.last!, results.allSatisfy({ if case .integer = $0 { true } else { false } }) {
            return
        }
        let firstError = replies.first { if case .error = $0 { true } else { false } }
        let message = firstError.flatMap { if case .error(let m) = $0 { m } else { nil } } ?? "transaction aborted: \(replies.last!)"
        throw RedisError(kind: .reply(message),
                         endpoint: connection.url.endpoint, context: "pushing \(bodies.count) messages to \(queue)")
    }

    public func claim(from queue: String, limit: Int, lease: Duration) throws -> [DeliveredMessage] {
        try acknowledgeAndClaim([], in: queue, limit: limit, lease: lease).claimed
    }

    /// One script, one round trip: acknowledges `receipts`, then claims.
    public func acknowledgeAndClaim(_ receipts: [DeliveryReceipt], in queue: String, limit: Int, lease: Duration) throws
        -> (acknowledged: Int, claimed: [DeliveredMessage]) {
        let keys = Keys(queue)
        let context = "claiming from \(queue)"
        let leaseArguments = [Array(String(lease.wholeMilliseconds).utf8), Array(String(min(max(1, limit), RedisQueue.maximumClaim)).utf8)]
        var acknowledged = 0
        let items: [RedisReply]
        if receipts.isEmpty {
            let reply = try connection.evaluate(
                RedisQueueScripts.claim, keys: [keys.list, keys.inflight, keys.leases, keys.redeliveries, keys.seq],
                arguments: leaseArguments, context: context)
            guard case .array(let array) = reply, array.count % 3 == 0 else {
                throw RedisError(kind: .unexpectedReply("claim returned \(reply.shape)"), endpoint: connection.url.endpoint,
                                 context: context)
            }
            items = array
        } else {
            let reply = try connection.evaluate(
                RedisQueueScripts.acknowledgeAndClaim, keys: [keys.list, keys.inflight, keys.leases, keys.redeliveries, keys.seq],
                arguments: leaseArguments + receiptArguments(receipts), context: context)
            guard case .array(let array) = reply, array.count % 3 == 1, let removed = array[0].integer else {
                throw RedisError(kind: .unexpectedReply("ack-and-claim returned \(reply.shape)"), endpoint: connection.url.endpoint,
                                 context: context)
            }
            acknowledged = Int(removed)
            items = Array(array.dropFirst())
        }
        var out: [DeliveredMessage] = []
        out.reserveCapacity(items.count / 3)
        var i = 0
        while i < items.count {
            guard let id = items[i].text, let delivery = items[i + 1].integer, case .bulk(let body) = items[i + 2] else {
                throw RedisError(kind: .unexpectedReply("malformed claim entry"), endpoint: connection.url.endpoint,
                                 context: "claiming from \(queue)")
            }
            out.append(DeliveredMessage(queue: queue, body: body, receipt: DeliveryReceipt(id: id, delivery: Int(delivery))))
            i += 3
        }
        return (acknowledged, out)
    }

    private func receiptArguments(_ receipts: [DeliveryReceipt]) -> [[UInt8]] {
        var args: [[UInt8]] = []
        args.reserveCapacity(receipts.count * 2)
        for r in receipts {
            args.append(Array(r.id.utf8))
            args.append(Array(String(r.delivery).utf8))
        }
        return args
    }

    public func acknowledge(_ receipts: [DeliveryReceipt], in queue: String) throws -> Int {
        guard !receipts.isEmpty else { return 0 }
        let keys = Keys(queue)
        let reply = try connection.evaluate(
            RedisQueueScripts.acknowledge, keys: [keys.inflight, keys.leases, keys.redeliveries],
            arguments: receiptArguments(receipts), context: "acknowledging \(receipts.count) message(s) of \(queue)")
        return Int(reply.integer ?? 0)
    }

    public func release(_ receipts: [DeliveryReceipt], in queue: String, countingDelivery: Bool) throws {
        guard !receipts.isEmpty else { return }
        let keys = Keys(queue)
        _ = try connection.evaluate(
            RedisQueueScripts.release, keys: [keys.inflight, keys.leases, keys.redeliveries],
            arguments: [Array((countingDelivery ? "1" : "0").utf8)] + receiptArguments(receipts),
            context: "releasing \(receipts.count) message(s) of \(queue)")
    }

    private func inspect(_ queue: String) throws -> [RedisReply] {
        let keys = Keys(queue)
        let reply = try connection.evaluate(
            RedisQueueScripts.inspect, keys: [keys.list, keys.inflight, keys.leases], arguments: [],
            context: "inspecting \(queue)")
        guard case .array(let items) = reply, items.count == 6 else {
            throw RedisError(kind: .unexpectedReply("inspect returned \(reply.shape)"), endpoint: connection.url.endpoint,
                             context: "inspecting \(queue)")
        }
        return items
    }

    public func peek(_ queue: String) throws -> [UInt8]? {
        let items = try inspect(queue)
        if case .bulk(let body) = items[4] { return body }
        if case .bulk(let body) = items[3] { return body }
        return nil
    }

    public func stats(_ queue: String) throws -> QueueStats {
        let items = try inspect(queue)
        let length = Int(items[0].integer ?? 0)
        let leased = Int(items[1].integer ?? 0)
        let expired = Int(items[2].integer ?? 0)
        var oldest: Date? = nil
        for candidate in [items[5], items[3]] {
            if case .bulk(let body) = candidate,
               let date = (try? MessageValidator(maximumBytes: .max).validate(body))?.enqueuedTime {
                oldest = min(oldest ?? date, date)
            }
        }
        return QueueStats(queue: queue, waiting: length + expired, inFlight: leased - expired, oldestEnqueuedAt: oldest)
    }

    /// Every key of the server matching `pattern` (all keys when nil), by SCAN.
    func scanKeys(matching pattern: String?, context: String) throws -> [String] {
        var found: [String] = []
        var cursor = "0"
        repeat {
            let arguments = ["SCAN", cursor] + (pattern.map { ["MATCH", $0] } ?? []) + ["COUNT", "1000"]
            let reply = try connection.command(arguments.map { Array($0.utf8) }, context: context)
            guard case .array(let parts) = reply, parts.count == 2, let next = parts[0].text, case .array(let keys) = parts[1] else {
                throw RedisError(kind: .unexpectedReply("SCAN returned \(reply.shape)"), endpoint: connection.url.endpoint,
                                 context: context)
            }
            found += keys.compactMap(\.text)
            cursor = next
        } while cursor != "0"
        return found
    }

    public func queueNames() throws -> [String] {
        var names = Set<String>()
        for key in try scanKeys(matching: nil, context: "listing queues") {
            if key.hasPrefix("fundq:{"), key.hasSuffix("}:inflight") {
                names.insert(String(key.dropFirst("fundq:{".count).dropLast("}:inflight".count)))
            } else if !key.hasPrefix("fundq:") {
                names.insert(key)
            }
        }
        // Keep only lists (other applications may share the server).
        var lists: [String] = []
        for name in names.sorted() {
            let type = try connection.command("TYPE", name, context: "listing queues").text
            if type == "list" || (type == "none" && (try? stats(name))?.inFlight ?? 0 > 0) {
                lists.append(name)
            }
        }
        return lists
    }

    public func removeAll(_ queue: String) throws {
        let keys = Keys(queue)
        try connection.command("DEL", keys.list, keys.inflight, keys.leases, keys.redeliveries, keys.seq, context: "removing \(queue)")
    }
}
