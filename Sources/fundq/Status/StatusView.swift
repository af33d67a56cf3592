import Core
import Foundation
import Operations
import Rectifier

/// How `fundq status` shows a ``StatusReport``: tables for people, JSON for machines.
enum StatusView {
    static func text(_ r: StatusReport) -> String {
        var parts: [String] = []
        parts.append("QUEUES\n" + (r.queues.isEmpty ? "  (all empty)" : Output.table(
            ["QUEUE", "WAITING", "IN-FLIGHT", "OLDEST", "DAMAGED"],
            r.queues.map { [$0.queue, String($0.waiting), String($0.inFlight), Output.age($0.oldestAge), String($0.damaged)] })))
        parts.append("PENDING\n" + (r.pending.isEmpty ? "  (no open rows)" : Output.table(
            ["GATEWAY", "OPEN", "DUE-NOW", "NEEDS-REVIEW", "OLDEST-OPEN"],
            r.pending.map { [$0.gateway, String($0.open), String($0.dueNow), String($0.needsReview),
                             Output.age($0.oldestOpen.map { r.time.timeIntervalSince($0) })] })))
        parts.append("RECTIFIER (decisions in the last hour)\n" + rectifierTable(r))
        parts.append("PROCESSES\n" + (r.processes.isEmpty ? "  (none registered)" : Output.table(
            ["ROLE", "HOST", "PID", "STATE", "HEARTBEAT", "UP", "DOING", "COUNTERS"],
            r.processes.map { p in
                [p.role, p.host, String(p.pid), p.isDead(at: r.time) ? "DEAD" : "alive", Output.age(p.heartbeatAge(at: r.time)) + " ago",
                 Output.age(r.time.timeIntervalSince(p.startedAt)),
                 "\(p.doing) (\(Output.age(r.time.timeIntervalSince(p.doingSince))))",
                 p.counters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
            })))
        let schema = r.schemaVersion == r.expectedSchemaVersion ? "" : " (this fundq expects \(r.expectedSchemaVersion))"
        parts.append("SCHEMA version \(r.schemaVersion)\(schema)")
        if let storage = r.storage { parts.append(storageLine(storage)) }
        return parts.joined(separator: "\n\n")
    }

    /// "STORAGE 12.3 MB in tables; largest: pending 8 MB, … (file 13 MB, 0 free pages)".
    private static func storageLine(_ s: StorageSummary) -> String {
        let bytes = Output.bytes
        var line = "STORAGE " + (s.totalBytes.map { bytes($0) + " in tables" } ?? "table sizes unknown")
        if !s.largest.isEmpty { line += "; largest: " + s.largest.map { "\($0.table) \(bytes($0.bytes))" }.joined(separator: ", ") }
        if let file = s.file { line += " (file \(bytes(file.fileBytes)), \(file.pages.free) free pages)" }
        return line
    }

    private static func rectifierTable(_ r: StatusReport) -> String {
        guard !r.rectifier.isEmpty else { return "  (no decisions in the last 7 days)" }
        let actions = RectifierAction.allCases.map(\.rawValue)
        return Output.table(
            ["PROCESSOR", "CIRCUIT", "LAST-DECISION"] + actions.map { $0.uppercased() },
            r.rectifier.map { a in
                [a.processor, r.circuit(of: a.processor) ?? "-",
                 a.lastDecision.map { Output.age(r.time.timeIntervalSince($0)) + " ago" } ?? "-"]
                    + actions.map { String(a.actions[$0] ?? 0) }
            })
    }

    static func json(_ r: StatusReport) -> [String: JSONValue] {
        [
            "time": Output.date(r.time),
            "queues": .array(r.queues.map { q in
                .object(["queue": .string(q.queue), "waiting": Output.number(q.waiting), "in_flight": Output.number(q.inFlight),
                         "oldest_age_seconds": Output.number(q.oldestAge), "damaged": Output.number(q.damaged)])
            }),
            "pending": .array(r.pending.map { p in
                .object(["gateway": .string(p.gateway), "open": Output.number(p.open), "due_now": Output.number(p.dueNow),
                         "needs_review": Output.number(p.needsReview),
                         "oldest_open_age_seconds": Output.number(p.oldestOpen.map { r.time.timeIntervalSince($0) })])
            }),
            "rectifier": .array(r.rectifier.map { a in
                .object(["processor": .string(a.processor), "circuit": r.circuit(of: a.processor).map(JSONValue.string) ?? .null,
                         "last_decision": Output.date(a.lastDecision),
                         "last_hour": .object(a.actions.mapValues(Output.number))])
            }),
            "processes": .array(r.processes.map(process(at: r.time))),
            "schema_version": Output.number(r.schemaVersion), "expected_schema_version": Output.number(r.expectedSchemaVersion),
            "storage": storageJSON(r.storage),
        ]
    }

    private static func storageJSON(_ s: StorageSummary?) -> JSONValue {
        guard let s else { return .null }
        return .object([
            "total_bytes": s.totalBytes.map(Output.number) ?? .null,
            "largest": .array(s.largest.map { .object(["table": .string($0.table), "bytes": Output.number($0.bytes)]) }),
            "file_bytes": s.file.map { Output.number($0.fileBytes) } ?? .null,
            "free_pages": s.file.map { Output.number($0.pages.free) } ?? .null,
        ])
    }

    private static func process(at now: Date) -> (ProcessRecord) -> JSONValue {
        { p in
            .object(["id": .string(p.id), "role": .string(p.role), "host": .string(p.host), "pid": Output.number(p.pid),
                     "alive": .bool(!p.isDead(at: now)), "started": Output.date(p.startedAt), "heartbeat": Output.date(p.heartbeatAt),
                     "heartbeat_age_seconds": Output.number(p.heartbeatAge(at: now)),
                     "interval_seconds": Output.number(p.intervalSeconds), "doing": .string(p.doing),
                     "doing_since": Output.date(p.doingSince), "counters": .object(p.counters.mapValues(Output.number))])
        }
    }
}
