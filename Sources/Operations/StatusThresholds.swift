import Core
import Foundation

/// The limits `fundq status --check` holds the status to; each one crossed
/// is named. Unset limits are not checked.
public struct StatusThresholds: Sendable, Equatable {
    /// Oldest message age, in seconds, allowed in any queue.
    public var maxOldestAge: Double?
    /// Damaged messages allowed over every queue.
    public var maxDamaged: Int?
    /// Pending rows needing review allowed over every gateway.
    public var maxNeedsReview: Int?
    /// Age, in seconds, allowed for the oldest open pending row.
    public var maxOldestOpen: Double?
    /// Dead processes allowed in the registry.
    public var maxDeadProcesses: Int?
    /// Whether a live rectifier (role `rectify`) is required.
    public var requireRectifier = false

    /// No limits.
    public init() {}

    /// Whether any limit is set.
    public var isEmpty: Bool { self == StatusThresholds() }

    /// `other`'s limits where it sets them, else these.
    public func overridden(by other: StatusThresholds) -> StatusThresholds {
        var merged = self
        merged.maxOldestAge = other.maxOldestAge ?? maxOldestAge
        merged.maxDamaged = other.maxDamaged ?? maxDamaged
        merged.maxNeedsReview = other.maxNeedsReview ?? maxNeedsReview
        merged.maxOldestOpen = other.maxOldestOpen ?? maxOldestOpen
        merged.maxDeadProcesses = other.maxDeadProcesses ?? maxDeadProcesses
        merged.requireRectifier = other.requireRectifier || requireRectifier
        return merged
    }

    /// One line per limit `report` crosses (empty when none is).
    public func crossed(by report: StatusReport) -> [String] {
        var lines: [String] = []
        if let limit = maxOldestAge {
            for q in report.queues where (q.oldestAge ?? 0) > limit {
                lines.append("queue \(q.queue): oldest message is \(Int(q.oldestAge ?? 0)) s old (limit \(Int(limit)) s)")
            }
        }
        let damaged = report.queues.reduce(0) { $0 + $1.damaged }
        if let limit = maxDamaged, damaged > limit { lines.append("damaged: \(damaged) messages (limit \(limit))") }
        let review = report.pending.reduce(0) { $0 + $1.needsReview }
        if let limit = maxNeedsReview, review > limit { lines.append("pending: \(review) rows need review (limit \(limit))") }
        if let limit = maxOldestOpen {
            for p in report.pending {
                guard let oldest = p.oldestOpen, report.time.timeIntervalSince(oldest) > limit else { continue }
                let age = Int(report.time.timeIntervalSince(oldest))
                lines.append("pending \(p.gateway): oldest open row is \(age) s old (limit \(Int(limit)) s)")
            }
        }
        let dead = report.processes.filter { $0.isDead(at: report.time) }
        if let limit = maxDeadProcesses, dead.count > limit {
            let names = dead.map { "\($0.role) pid \($0.pid) on \($0.host)" }.joined(separator: ", ")
            lines.append("processes: \(dead.count) dead (limit \(limit)): \(names)")
        }
        if requireRectifier && report.live(role: "rectify").isEmpty {
            lines.append("rectifier: no live rectifier heartbeat")
        }
        return lines
    }

    /// The `status:` section of a fundq.yaml (nothing when the file has none):
    /// `max_oldest_age` and `max_oldest_open` as seconds or "10m", "2h";
    /// `max_damaged`, `max_needs_review`, `max_dead_processes` as counts; `require_rectifier` true or false.
    public static func load(yaml text: String, source: String) throws -> StatusThresholds {
        guard let fields = try SettingsFile.section("status", in: text, source: source) else { return StatusThresholds() }
        var t = StatusThresholds()
        for (key, value) in fields {
            func count() throws -> Int {
                guard let n = value as? Int, n >= 0 else { throw ConfigurationError("\(source): status.\(key) must be a count") }
                return n
            }
            func seconds() throws -> Double {
                guard let s = Self.seconds(value) else {
                    throw ConfigurationError("\(source): status.\(key) must be seconds or 90s, 10m, 2h, 1d")
                }
                return s
            }
            switch key {
            case "max_oldest_age": t.maxOldestAge = try seconds()
            case "max_oldest_open": t.maxOldestOpen = try seconds()
            case "max_damaged": t.maxDamaged = try count()
            case "max_needs_review": t.maxNeedsReview = try count()
            case "max_dead_processes": t.maxDeadProcesses = try count()
            case "require_rectifier":
                guard let b = value as? Bool else { throw ConfigurationError("\(source): status.require_rectifier must be true or false") }
                t.requireRectifier = b
            default: throw ConfigurationError("\(source): status.\(key) is not a known threshold")
            }
        }
        return t
    }

    private static func seconds(_ value: Any) -> Double? {
        if let n = value as? Int { return n >= 0 ? Double(n) : nil }
        if let d = value as? Double { return d >= 0 && d.isFinite ? d : nil }
        return (value as? String).flatMap(DurationText.seconds)
    }
}
