import Core
import Foundation

/// Wall seconds spent per phase of a benchmark run, in the order the
/// phases first appeared: where a consumer's time goes.
struct PhaseTimes {
    private(set) var names: [String] = []
    private(set) var seconds: [String: Double] = [:]

    /// Adds `duration` to `phase`.
    mutating func add(_ phase: String, _ duration: Duration) {
        if seconds[phase] == nil { names.append(phase) }
        seconds[phase, default: 0] += duration.seconds
    }

    /// `(phase, seconds)` in first-seen order.
    var entries: [(String, Double)] { names.map { ($0, seconds[$0] ?? 0) } }
}

/// A connection that forwards every call to `inner` and adds each
/// statement's wall time to ``times`` under a label made of its first words
/// and table ("SELECT contribution_tracking", "INSERT contribution_tracking_event"),
/// and the transaction's own statements (begin, commit) under "BEGIN + COMMIT".
/// For benchmarks: it measures from the client, so a statement's time
/// includes the round trip and the server's work.
final class PhaseTimedConnection: SQLConnection {
    let inner: any SQLConnection
    private(set) var times = PhaseTimes()
    private let clock = ContinuousClock()

    init(_ inner: any SQLConnection) { self.inner = inner }

    var dialect: SQLDialect { inner.dialect }
    var location: String { inner.location }

    /// Forgets what was timed so far.
    func reset() { times = PhaseTimes() }

    static func label(_ sql: String) -> String {
        // Multi-row statements run to megabytes of placeholders: read only their ends.
        let head = String(decoding: sql.utf8.prefix(600), as: UTF8.self)
        let tail = String(decoding: sql.utf8.suffix(3000), as: UTF8.self)
        let words = head.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "(" }).prefix(60).map(String.init)
        guard let verb = words.first?.uppercased() else { return "?" }
        let marker = ["SELECT": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE", "DELETE": "FROM"][verb]
        guard let marker, let at = words.firstIndex(where: { $0.uppercased() == marker }), at + 1 < words.count else { return verb }
        let table = words[at + 1]
        let upsert = tail.contains("ON DUPLICATE KEY") || tail.contains("ON CONFLICT") ? " (upsert)" : ""
        return "\(verb) \(table)\(upsert)"
    }

    private func timed<T>(_ sql: String, _ body: () throws -> T) rethrows -> T {
        let t0 = clock.now
        defer {
            let elapsed = clock.now - t0
            times.add(Self.label(sql), elapsed)
        }
        return try body()
    }

    @discardableResult
    func execute(_ sql: String, _ parameters: [SQLValue]) throws -> Int { try timed(sql) { try inner.execute(sql, parameters) } }
    func insert(_ sql: String, _ parameters: [SQLValue]) throws -> Int64 { try timed(sql) { try inner.insert(sql, parameters) } }
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[SQLValue]] { try timed(sql) { try inner.query(sql, parameters) } }
    func executeScript(_ sql: String) throws { try timed(sql) { try inner.executeScript(sql) } }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        let t0 = clock.now
        var inside = Duration.zero
        defer { times.add("BEGIN + COMMIT", clock.now - t0 - inside) }
        return try inner.transaction {
            let b0 = clock.now
            defer { inside = clock.now - b0 }
            return try body()
        }
    }
}
