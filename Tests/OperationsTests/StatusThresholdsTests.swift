import Core
import Foundation
import Operations
import Testing

/// The thresholds `fundq status --check` applies, on a report built by hand.
@Suite("Status thresholds")
struct StatusThresholdsTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func report(processes: [ProcessRecord] = []) -> StatusReport {
        StatusReport(
            time: now,
            queues: [QueueStatus(queue: "donations", waiting: 5, inFlight: 1, oldestAge: 600, damaged: 0),
                     QueueStatus(queue: "refund", waiting: 0, inFlight: 0, oldestAge: nil, damaged: 4)],
            pending: [PendingCounts(gateway: "paypal", open: 10, dueNow: 7, needsReview: 3, oldestOpen: now.addingTimeInterval(-7200))],
            rectifier: [], processes: processes, schemaVersion: 1, expectedSchemaVersion: 1)
    }

    static func process(role: String, beatSecondsAgo: Double, interval: Double = 10) -> ProcessRecord {
        ProcessRecord(id: "h:1:\(role)", role: role, host: "h", pid: 1, startedAt: now.addingTimeInterval(-9999),
                      heartbeatAt: now.addingTimeInterval(-beatSecondsAgo), intervalSeconds: interval, doing: "x",
                      doingSince: now, counters: [:])
    }

    @Test func eachLimitIsCrossedOnlyPastItsValue() {
        var t = StatusThresholds()
        #expect(t.crossed(by: Self.report()).isEmpty)
        t.maxOldestAge = 600
        t.maxDamaged = 4
        t.maxNeedsReview = 3
        t.maxOldestOpen = 7200
        #expect(t.crossed(by: Self.report()).isEmpty, "a value equal to its limit holds")
        t.maxOldestAge = 599
        t.maxDamaged = 3
        t.maxNeedsReview = 2
        t.maxOldestOpen = 7199
        #expect(t.crossed(by: Self.report()) == [
            "queue donations: oldest message is 600 s old (limit 599 s)", "damaged: 4 messages (limit 3)",
            "pending: 3 rows need review (limit 2)", "pending paypal: oldest open row is 7200 s old (limit 7199 s)",
        ])
    }

    @Test func aProcessIsDeadAfterThreeMissedIntervalsAndARectifierMustBeAlive() {
        var t = StatusThresholds()
        t.requireRectifier = true
        t.maxDeadProcesses = 0
        #expect(t.crossed(by: Self.report()) == ["rectifier: no live rectifier heartbeat"])
        let live = Self.report(processes: [Self.process(role: "rectify", beatSecondsAgo: 30)])
        #expect(t.crossed(by: live).isEmpty)
        let dead = Self.report(processes: [Self.process(role: "rectify", beatSecondsAgo: 30.5)])
        #expect(t.crossed(by: dead) == ["processes: 1 dead (limit 0): rectify pid 1 on h", "rectifier: no live rectifier heartbeat"])
    }

    @Test func theConfigurationFileSectionAndFlagsOverIt() throws {
        let file = try StatusThresholds.load(yaml: """
            queues: [ignored]
            status:
              max_oldest_age: 10m
              max_damaged: 0
              require_rectifier: true
              max_oldest_open: 90
            """, source: "fundq.yaml")
        #expect(file.maxOldestAge == 600 && file.maxDamaged == 0 && file.requireRectifier && file.maxOldestOpen == 90)
        var flags = StatusThresholds()
        flags.maxDamaged = 5
        let merged = file.overridden(by: flags)
        #expect(merged.maxDamaged == 5 && merged.maxOldestAge == 600 && merged.requireRectifier)
        #expect(try StatusThresholds.load(yaml: "other: 1\n", source: "f").isEmpty)
        #expect(throws: ConfigurationError.self) { try StatusThresholds.load(yaml: "status:\n  max_damaged: -1\n", source: "f") }
        #expect(throws: ConfigurationError.self) { try StatusThresholds.load(yaml: "status:\n  max_oldest_age: soon\n", source: "f") }
    }
}
