import Core
import Foundation
import Synchronization

/// Writes whole lines to standard output from any thread, one at a time
/// (a long line written by two threads at once would interleave).
final class LineWriter: Sendable {
    private let lock = Mutex(())

    /// Writes `text` and a newline; a broken pipe is ignored (the reader left).
    func write(_ text: String) {
        lock.withLock { _ in try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8)) }
    }
}

/// Writing results: plain text for people, `--json` for machines.
enum Output {
    /// Writes `text` and a newline to standard output; a broken pipe is an error.
    static func line(_ text: String) throws {
        try FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8))
    }

    /// Writes `value` as one line of JSON to standard output.
    static func json(_ value: JSONValue) throws {
        try line(value.serialized())
    }

    /// Writes a note for people to standard error.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// The first `limit` of `rows`, fetched with `limit + 1` so that a cut
    /// list says so (on stderr, whatever the output format) and how to see more.
    static func cut<T>(_ rows: [T], limit: Int, what: String) -> [T] {
        guard rows.count > limit else { return rows }
        note("showing the first \(limit) \(what); there are more: raise --limit (--limit \(limit * 10)) or narrow the filters to see them")
        return Array(rows.prefix(limit))
    }

    /// ``cut(_:limit:what:)``, also saying whether it cut.
    static func cutSaying<T>(_ rows: [T], limit: Int, what: String) -> (rows: [T], cut: Bool) {
        (cut(rows, limit: limit, what: what), rows.count > limit)
    }

    /// A table with left-aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func render(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([render(header)] + rows.map(render)).joined(separator: "\n")
    }

    /// A message body as JSON: the parsed value when it is valid, else a string.
    static func messageValue(_ body: [UInt8]) -> JSONValue {
        (try? JSONParser().parse(body)) ?? .string(String(decoding: body, as: UTF8.self))
    }

    /// A message body as a view shows it, masked by ``PersonalData``: the
    /// body's own text when masking changes nothing, else the masked JSON.
    static func maskedBodyText(_ body: [UInt8], showPersonalData: Bool) -> String {
        let masked = PersonalData.maskedBody(body, showPersonalData: showPersonalData)
        if masked == messageValue(body) { return String(decoding: body, as: UTF8.self) }
        if case .string(let text) = masked { return text }
        return masked.serialized()
    }

    /// Seconds as "12s", "5m03s", "2h10m", "3d4h".
    static func age(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        if s < 86400 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        return String(format: "%dd%dh", s / 86400, (s % 86400) / 3600)
    }

    /// A size for people: "0 bytes", "512 bytes", "1.5 MB" (1024-based),
    /// as `fundq status` and `fundq db stats` show it.
    static func bytes(_ count: Int) -> String {
        let formatter = ByteCountFormatter()
        formatter.countStyle = .binary
        formatter.allowsNonnumericFormatting = false  // "0 bytes", not "Zero KB"
        return formatter.string(fromByteCount: Int64(count))
    }

    /// A JSON number from an integer.
    static func number(_ n: Int) -> JSONValue { .number(String(n)) }

    /// A JSON number from a double (or null).
    static func number(_ d: Double?) -> JSONValue {
        guard let d, d.isFinite else { return .null }
        return .number(String(format: "%.3f", d))
    }

    /// ISO 8601 UTC time, or null.
    static func date(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(iso(date))
    }

    /// ISO 8601 UTC text.
    static func iso(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
