import ArgumentParser
import Core
import Foundation
import RedisDriver

/// `fundq db stats [--json]`.
struct DatabaseStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Per table rows, bytes (data and index), oldest and newest row; the embedded file's size and free pages; "
            + "Redis memory per queue.")

    @OptionGroup var storage: StorageOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let stores = try storage.open()
        let stats = try DatabaseStats.measure(stores.database)
        let redis = try (stores.queue as? RedisQueue).map(RedisQueueMemory.measure)
        if json {
            try Output.json(Self.json(stats, redis: redis, location: stores.database.location))
        } else {
            try printText(stats, redis: redis, location: stores.database.location)
        }
    }

    static func json(_ stats: DatabaseStats, redis: [RedisQueueMemory]?, location: String) -> JSONValue {
        func bytes(_ n: Int?) -> JSONValue { n.map(Output.number) ?? .null }
        var root: [String: JSONValue] = [
            "database": .string(location), "sqlite": .null, "redis": .null,
            "tables": .array(stats.tables.map { t in
                .object(["table": .string(t.name), "rows": Output.number(t.rows), "data_bytes": bytes(t.dataBytes),
                         "index_bytes": bytes(t.indexBytes), "oldest": Output.date(t.oldest), "newest": Output.date(t.newest)])
            }),
        ]
        if let f = stats.file {
            root["sqlite"] = .object([
                "file_bytes": Output.number(f.fileBytes), "wal_bytes": Output.number(f.walBytes), "pages": Output.number(f.pages.total),
                "free_pages": Output.number(f.pages.free), "page_size": Output.number(f.pages.pageSize),
                "auto_vacuum": .string(["none", "full", "incremental"][min(max(f.autoVacuum, 0), 2)]),
            ])
        }
        if let redis {
            root["redis"] = .array(redis.map { .object(["queue": .string($0.queue), "keys": Output.number($0.keys),
                                                        "bytes": Output.number($0.bytes)]) })
        }
        return .object(root)
    }

    func printText(_ stats: DatabaseStats, redis: [RedisQueueMemory]?, location: String) throws {
        func bytes(_ n: Int?) -> String { n.map(Output.bytes) ?? "?" }
        func date(_ d: Date?) -> String { d.map(Output.iso) ?? "-" }
        try Output.line("\(location):")
        try Output.line(Output.table(["TABLE", "ROWS", "DATA", "INDEX", "OLDEST", "NEWEST"], stats.tables.map {
            [$0.name, String($0.rows), bytes($0.dataBytes), bytes($0.indexBytes), date($0.oldest), date($0.newest)]
        }))
        if let f = stats.file {
            try Output.line("file: \(bytes(f.fileBytes)) (+ WAL \(bytes(f.walBytes))), "
                            + "\(f.pages.total) pages of \(f.pages.pageSize) bytes, "
                            + "\(f.pages.free) free, auto-vacuum \(["none", "full", "incremental"][min(max(f.autoVacuum, 0), 2)])")
        }
        if let redis {
            try Output.line("redis:")
            try Output.line(Output.table(["QUEUE", "KEYS", "MEMORY"], redis.map { [$0.queue, String($0.keys), bytes($0.bytes)] }))
        }
    }
}
