import Core

/// The Lua scripts behind ``RedisQueue``.
///
/// Why Lua rather than Streams: the queue itself must stay a plain Redis
/// list holding JSON strings, because the PHP producers RPUSH to it and
/// existing tools read it. A script is the only way to move a message from
/// that list into fundq's lease bookkeeping in one atomic step (Redis runs a
/// script to completion, alone), so there is no instant at which a message
/// exists nowhere. Keys, for queue NAME:
///
/// - `NAME` — the list (producers RPUSH, oldest at the head);
/// - `fundq:{NAME}:inflight` — hash id → message, for claimed messages;
/// - `fundq:{NAME}:leases` — sorted set id → lease deadline (ms, server clock);
/// - `fundq:{NAME}:redeliveries` — hash id → deliveries beyond the first;
/// - `fundq:{NAME}:seq` — the id counter.
///
/// Time comes from the server (`TIME`), so consumers' clocks do not matter.
enum RedisQueueScripts {
    /// Lua that removes the acknowledged messages whose receipts are the
    /// ARGV pairs (id, delivery) from `first` on, counting them in `removed`.
    /// A receipt whose message was redelivered since (another consumer holds
    /// it now) is refused.
    static func acknowledgeLua(inflight: Int, leases: Int, redeliveries: Int, first: String) -> String {
        """
        local removed = 0
        for i = \(first), #ARGV, 2 do
          local id = ARGV[i]
          local extra = tonumber(redis.call('HGET', KEYS[\(redeliveries)], id) or '0')
          if extra + 1 == tonumber(ARGV[i + 1]) and redis.call('HDEL', KEYS[\(inflight)], id) == 1 then
            redis.call('ZREM', KEYS[\(leases)], id)
            redis.call('HDEL', KEYS[\(redeliveries)], id)
            removed = removed + 1
          end
        end
        """
    }

    /// Lua that claims up to ARGV[2] messages leased for ARGV[1] ms into
    /// `out` as {id, delivery, body} triples: expired leases first (they are
    /// older than anything still in the list), then the head of the list.
    /// KEYS: 1 list, 2 inflight, 3 leases, 4 redeliveries, 5 seq.
    static let claimLua = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local deadline = now + tonumber(ARGV[1])
        local want = tonumber(ARGV[2])
        local got = 0
        local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, want)
        for _, id in ipairs(expired) do
          local body = redis.call('HGET', KEYS[2], id)
          if body then
            redis.call('ZADD', KEYS[3], deadline, id)
            local extra = redis.call('HINCRBY', KEYS[4], id, 1)
            out[#out + 1] = id
            out[#out + 1] = extra + 1
            out[#out + 1] = body
            got = got + 1
          else
            redis.call('ZREM', KEYS[3], id)
            redis.call('HDEL', KEYS[4], id)
          end
        end
        if got < want then
          -- Copy first, remove last: if anything below fails, a message is in
          -- both places (delivered twice), never in neither.
          local bodies = redis.call('LRANGE', KEYS[1], 0, want - got - 1)
          if #bodies > 0 then
            local last = redis.call('INCRBY', KEYS[5], #bodies)
            local first = last - #bodies
            -- unpack() takes at most ~8000 values: write in chunks.
            local h, z = {}, {}
            for i, body in ipairs(bodies) do
              local id = tostring(first + i)
              h[#h + 1] = id
              h[#h + 1] = body
              z[#z + 1] = deadline
              z[#z + 1] = id
              out[#out + 1] = id
              out[#out + 1] = 1
              out[#out + 1] = body
              if #h >= 1000 then
                redis.call('HSET', KEYS[2], unpack(h))
                redis.call('ZADD', KEYS[3], unpack(z))
                h, z = {}, {}
              end
            end
            if #h > 0 then
              redis.call('HSET', KEYS[2], unpack(h))
              redis.call('ZADD', KEYS[3], unpack(z))
            end
            redis.call('LTRIM', KEYS[1], #bodies, -1)
          end
        end
        """

    /// KEYS: list, inflight, leases, redeliveries, seq. ARGV: lease ms,
    /// limit. Returns {id1, delivery1, body1, id2, …}.
    static let claim = RedisScript(name: "fundq-claim", source: "local out = {}\n" + claimLua + "\nreturn out\n")

    /// KEYS: list, inflight, leases, redeliveries, seq. ARGV: lease ms,
    /// limit, then receipts (id, delivery) to acknowledge first. Returns
    /// {acknowledged, id1, delivery1, body1, …}: the previous messages'
    /// acknowledgement and the next claim in one round trip.
    static let acknowledgeAndClaim = RedisScript(
        name: "fundq-ack-claim",
        source: acknowledgeLua(inflight: 2, leases: 3, redeliveries: 4, first: "3")
            + "\nlocal out = {removed}\n" + claimLua + "\nreturn out\n")

    /// KEYS: inflight, leases, redeliveries. ARGV: id1, delivery1, id2, ….
    /// Returns how many were removed.
    static let acknowledge = RedisScript(
        name: "fundq-ack",
        source: acknowledgeLua(inflight: 1, leases: 2, redeliveries: 3, first: "1") + "\nreturn removed\n")

    /// KEYS: inflight, leases, redeliveries. ARGV: counted ("1": the
    /// delivery counts towards the limit; "0": it does not), then id1,
    /// delivery1, …. Makes each still-held message available at once.
    static let release = RedisScript(name: "fundq-release", source: """
        local uncount = ARGV[1] ~= '1'
        for i = 2, #ARGV, 2 do
          local id = ARGV[i]
          local extra = tonumber(redis.call('HGET', KEYS[3], id) or '0')
          if extra + 1 == tonumber(ARGV[i + 1]) and redis.call('HEXISTS', KEYS[1], id) == 1 then
            redis.call('ZADD', KEYS[2], 0, id)
            if uncount then redis.call('HINCRBY', KEYS[3], id, -1) end
          end
        end
        return 1
        """)

    /// KEYS: list, inflight, leases. Returns {length, leased, expired,
    /// head or false, first expired body or false, first leased body or false}.
    static let inspect = RedisScript(name: "fundq-inspect", source: """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local length = redis.call('LLEN', KEYS[1])
        local leased = redis.call('ZCARD', KEYS[3])
        local expired = redis.call('ZCOUNT', KEYS[3], '-inf', now)
        local head = redis.call('LINDEX', KEYS[1], 0)
        local firstExpired = false
        local e = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 1)
        if e[1] then firstExpired = redis.call('HGET', KEYS[2], e[1]) end
        local firstLeased = false
        local l = redis.call('ZRANGE', KEYS[3], 0, 0)
        if l[1] then firstLeased = redis.call('HGET', KEYS[2], l[1]) end
        return {length, leased, expired, head, firstExpired, firstLeased}
        """)
}
