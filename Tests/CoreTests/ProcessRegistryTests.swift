import Backends
import Core
import Foundation
import FundqTestSupport
import Logging
import Testing

/// The process registry on both databases: heartbeats written by the
/// heartbeat's own thread, rows removed on a clean stop, stale rows pruned.
@Suite("Process registry")
struct ProcessRegistryTests {
    @Test(arguments: DatabaseKind.allCases)
    func heartbeatsAreWrittenCountedAndRemovedOnStop(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let registry = ProcessRegistry(connection: try f.openDatabase())
        let configuration = f.configuration
        let heartbeat = try Heartbeat(role: "test-role", interval: 0.2, logger: Logger(label: "test")) {
            try Storage.openDatabase(configuration)
        }
        let first = try #require(try registry.list().first { $0.id == heartbeat.id })
        #expect(first.role == "test-role" && first.pid == Int(ProcessInfo.processInfo.processIdentifier) && first.doing == "starting")
        heartbeat.doing("working")
        heartbeat.count("claimed", by: 7)
        heartbeat.count("claimed", by: 3)
        heartbeat.set("last_run_end", to: 42)
        #expect(eventually { (try? registry.list().first { $0.id == heartbeat.id })?.counters == ["claimed": 10, "last_run_end": 42] })
        let later = try #require(try registry.list().first { $0.id == heartbeat.id })
        #expect(later.doing == "working" && later.heartbeatAt > first.heartbeatAt && later.startedAt == first.startedAt)
        heartbeat.stop()
        #expect(try registry.list().contains { $0.id == heartbeat.id } == false)
    }

    @Test(arguments: DatabaseKind.allCases)
    func staleRowsAreDeadAfterThreeIntervalsAndPrunedAnHourOn(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let registry = ProcessRegistry(connection: try f.openDatabase())
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func row(_ id: String, beat: Double) -> ProcessRecord {
            ProcessRecord(id: id, role: "rectify", host: "h", pid: 1, startedAt: now.addingTimeInterval(-5000),
                          heartbeatAt: now.addingTimeInterval(-beat), intervalSeconds: 10, doing: "pass", doingSince: now,
                          counters: ["n": 1])
        }
        try registry.write(row("fresh", beat: 29))
        try registry.write(row("dead", beat: 31))
        try registry.write(row("gone", beat: ProcessRegistry.pruneAfter + 1))
        let listed = Dictionary(uniqueKeysWithValues: try registry.list().map { ($0.id, $0) })
        #expect(listed["fresh"]?.isDead(at: now) == false)
        #expect(listed["dead"]?.isDead(at: now) == true)
        #expect(listed["fresh"]?.counters == ["n": 1])
        #expect(try registry.prune(at: now) == 1)
        #expect(Set(try registry.list().map(\.id)) == ["fresh", "dead"])
    }
}
