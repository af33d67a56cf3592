internal import CHiredis
import Core
import Foundation

/// A reply from Redis, copied out of hiredis into Swift values.
public enum RedisReply: Sendable, Equatable {
    /// A bulk string.
    case bulk([UInt8])
    /// An integer.
    case integer(Int64)
    /// An array of replies.
    case array([RedisReply])
    /// The nil reply.
    case null
    /// A status line such as `OK`.
    case status(String)
    /// An error line such as `ERR wrong number of arguments`.
    case error(String)

    /// What the reply is, never what it holds (a claimed message's body is
    /// donor data): for errors about a reply Redis should not have given.
    public var shape: String {
        switch self {
        case .bulk(let bytes): return "a bulk string of \(bytes.count) bytes"
        case .integer: return "an integer"
        case .array(let items):
            let kinds = items.prefix(6).map { item -> String in
                switch item {
                case .bulk: return "bulk"
                case .integer: return "integer"
                case .array(let inner): return "array(\(inner.count))"
                case .null: return "nil"
                case .status: return "status"
                case .error: return "error"
                }
            }
            return "an array of \(items.count) (\(kinds.joined(separator: ", "))\(items.count > 6 ? ", …" : ""))"
        case .null: return "nil"
        case .status: return "a status line"
        case .error(let text): return "an error (\(text.prefix(80)))"
        }
    }

    /// The reply as text, for bulk strings and status lines.
    public var text: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The reply as an integer (integers, and bulk strings holding digits).
    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk(let b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }
}

/// One connection to a Redis server through hiredis.
///
/// Owns the `redisContext*`; use it from one task at a time (it is not
/// `Sendable`). After any I/O failure the context is dropped and the next
/// command reconnects, so a restarted server is picked up without restarting
/// the process; the failed command itself is reported, never silently retried.
public final class RedisConnection {
    /// The version of hiredis this build was compiled against.
    public static var libraryVersion: String { "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)" }
    /// Where the server is.
    public let url: RedisURL
    private let connectTimeoutMilliseconds: Int
    private let commandTimeoutMilliseconds: Int
    private var context: UnsafeMutablePointer<redisContext>?
    private var scriptSHAs: [String: String] = [:]

    /// A connection to `url`, opened lazily by the first command.
    public init(url: RedisURL, connectTimeoutMilliseconds: Int = 2_000, commandTimeoutMilliseconds: Int = 10_000) {
        self.url = url
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.commandTimeoutMilliseconds = commandTimeoutMilliseconds
    }

    deinit { disconnect() }

    /// Closes the connection; the next command opens a new one.
    public func disconnect() {
        if let context { redisFree(context) }
        context = nil
    }

    private func errorString(_ c: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: c.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? "error \(c.pointee.err)" : text.lowercased()
    }

    private func connected(for action: String) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let opened = url.socketPath.map { fundq_redis_connect_unix($0, connectTimeoutMilliseconds) }
            ?? fundq_redis_connect(url.host, Int32(url.port), connectTimeoutMilliseconds)
        guard let c = opened else {
            throw RedisError(kind: .unreachable(reason: "cannot allocate a hiredis context"), endpoint: url.endpoint, context: action)
        }
        if c.pointee.err != 0 {
            let reason = errorString(c)
            redisFree(c)
            throw RedisError(kind: .unreachable(reason: reason), endpoint: url.endpoint, context: action)
        }
        _ = fundq_redis_set_timeout(c, commandTimeoutMilliseconds)
        context = c
        scriptSHAs.removeAll()
        do {
            if let password = url.password {
                var auth = [Array("AUTH".utf8)]
                if let user = url.user { auth.append(Array(user.utf8)) }
                auth.append(Array(password.utf8))
                try expectOK(rawCommand(auth, context: "authenticating"), context: "authenticating")
            }
            if url.database != 0 {
                try expectOK(rawCommand([Array("SELECT".utf8), Array(String(url.database).utf8)],
                                        context: "selecting database \(url.database)"),
                             context: "selecting database \(url.database)")
            }
        } catch {
            disconnect()
            throw error
        }
        return c
    }

    private func expectOK(_ reply: RedisReply, context action: String) throws(RedisError) {
        if case .error(let message) = reply {
            throw RedisError(kind: .reply(message), endpoint: url.endpoint, context: action)
        }
    }

    /// Sends one command and returns its reply. An error reply is returned as
    /// ``RedisReply/error(_:)`` by this method; ``command(_:context:)`` throws it.
    private func rawCommand(_ args: [[UInt8]], context action: String) throws(RedisError) -> RedisReply {
        let c = try connected(for: action)
        let raw: UnsafeMutableRawPointer? = RedisConnection.withArgv(args) { argc, argv, lens in
            redisCommandArgv(c, argc, argv, lens)
        }
        guard let raw else {
            let reason = errorString(c)
            disconnect()
            throw RedisError(kind: .io(reason: reason), endpoint: url.endpoint, context: action)
        }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return RedisConnection.convert(reply)
    }

    /// Sends one command; throws on connection failures and error replies.
    @discardableResult
    public func command(_ args: [[UInt8]], context action: String) throws(RedisError) -> RedisReply {
        let reply = try rawCommand(args, context: action)
        if case .error(let message) = reply {
            throw RedisError(kind: .reply(message), endpoint: url.endpoint, context: action)
        }
        return reply
    }

    /// Sends one command given as strings.
    @discardableResult
    public func command(_ args: String..., context action: String) throws(RedisError) -> RedisReply {
        try command(args.map { Array($0.utf8) }, context: action)
    }

    /// Sends several commands in one write and reads all their replies (one
    /// round trip). Error replies are returned in place, not thrown.
    public func pipeline(_ commands: [[[UInt8]]], context action: String) throws(RedisError) -> [RedisReply] {
        let c = try connected(for: action)
        for args in commands {
            let rc = RedisConnection.withArgv(args) { argc, argv, lens in
                redisAppendCommandArgv(c, argc, argv, lens)
            }
            if rc != REDIS_OK {
                let reason = errorString(c)
                disconnect()
                throw RedisError(kind: .io(reason: reason), endpoint: url.endpoint, context: action)
            }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            guard let reply = fundq_redis_get_reply(c) else {
                let reason = errorString(c)
                disconnect()
                throw RedisError(kind: .io(reason: reason), endpoint: url.endpoint, context: action)
            }
            replies.append(RedisConnection.convert(reply))
            freeReplyObject(reply)
        }
        return replies
    }

    /// Runs a Lua script by its SHA1, loading it on first use and again after
    /// the server lost its script cache (a restart).
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [[UInt8]],
                         context action: String) throws(RedisError) -> RedisReply {
        for _ in 0..<2 {
            let sha: String
            if let cached = scriptSHAs[script.name] {
                sha = cached
            } else {
                let loaded = try command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)],
                                         context: "loading the \(script.name) script")
                guard let text = loaded.text else {
                    throw RedisError(kind: .unexpectedReply("SCRIPT LOAD returned \(loaded)"), endpoint: url.endpoint, context: action)
                }
                sha = text
                scriptSHAs[script.name] = text
            }
            var args: [[UInt8]] = [Array("EVALSHA".utf8), Array(sha.utf8), Array(String(keys.count).utf8)]
            args.append(contentsOf: keys.map { Array($0.utf8) })
            args.append(contentsOf: arguments)
            do {
                return try command(args, context: action)
            } catch let error where error.isNoScript {
                scriptSHAs[script.name] = nil
                continue
            }
        }
        throw RedisError(kind: .unexpectedReply("script \(script.name) missing from the cache right after loading it"),
                         endpoint: url.endpoint, context: action)
    }

    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let r = reply.pointee
        switch r.type {
        case fundq_redis_reply_string():
            return .bulk(Array(UnsafeRawBufferPointer(start: r.str, count: Int(r.len))))
        case fundq_redis_reply_integer():
            return .integer(Int64(r.integer))
        case fundq_redis_reply_nil():
            return .null
        case fundq_redis_reply_status():
            return .status(String(decoding: UnsafeRawBufferPointer(start: r.str, count: Int(r.len)), as: UTF8.self))
        case fundq_redis_reply_error():
            return .error(String(decoding: UnsafeRawBufferPointer(start: r.str, count: Int(r.len)), as: UTF8.self))
        case fundq_redis_reply_array():
            var items: [RedisReply] = []
            items.reserveCapacity(Int(r.elements))
            for i in 0..<Int(r.elements) {
                if let element = r.element[i] { items.append(convert(element)) } else { items.append(.null) }
            }
            return .array(items)
        default:
            return .error("unknown hiredis reply type \(r.type)")
        }
    }

    /// Lays `args` out as hiredis's argv/argvlen pair for the duration of `body`.
    static func withArgv<R>(_ args: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        var flat: [UInt8] = []
        flat.reserveCapacity(args.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(args.count)
        for arg in args {
            offsets.append(flat.count)
            flat.append(contentsOf: arg)
        }
        flat.append(0)
        let lengths = args.map(\.count)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(Int32(args.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }
}

/// A Lua script run with EVALSHA.
public struct RedisScript: Sendable {
    /// A short name used in errors and as the cache key.
    public let name: String
    /// The Lua source.
    public let source: String

    /// A script called `name` with Lua `source`.
    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}
