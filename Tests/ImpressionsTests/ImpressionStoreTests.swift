import Backends
import Core
import Foundation
import FundqTestSupport
import Impressions
import Testing

/// The impressions tables on both databases: increments from several
/// writers, offsets moved only from where a batch started, lookups and the
/// LEGACY views, files counted once, retention.
@Suite("Impression store")
struct ImpressionStoreTests {
    static func batch(_ events: [SyntheticImpressions.Event]) -> ImpressionBatch {
        let b = ImpressionBatch()
        for e in events { b.add(e.bytes) }
        return b
    }

    static func events(seed: UInt64, count: Int, poison: Double = 0.2) -> [SyntheticImpressions.Event] {
        var g = SyntheticImpressions(seed: seed, minutes: 5, poisonShare: poison)
        return (0..<count).map { _ in g.event() }
    }

    /// Several batches in one transaction count what they count one by one,
    /// and move the offsets as far; a conflict on any partition writes none of them.
    @Test(arguments: DatabaseKind.allCases)
    func batchesCommittedTogetherCountAsOneByOne(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = ImpressionStore(connection: try f.openDatabase())
        let events = Self.events(seed: 7, count: 900)
        let slices = [Array(events[0..<300]), Array(events[300..<600]), Array(events[600...])]
        let progress = [[PartitionProgress(partition: 0, from: nil, to: 300)],
                        [PartitionProgress(partition: 0, from: 300, to: 600), PartitionProgress(partition: 1, from: nil, to: 7)],
                        [PartitionProgress(partition: 0, from: 600, to: 900)]]
        let joined = try #require(PartitionProgress.joined(progress))
        let stale = [PartitionProgress(partition: 0, from: 900, to: 950), PartitionProgress(partition: 1, from: 3, to: 9)]
        #expect(try store.commit(slices.map { Self.batch($0).sealed() }, topic: "t", progress: joined))
        #expect(try !store.commit(slices.map { Self.batch($0).sealed() }, topic: "t", progress: stale))
        #expect(try store.storedOffsets(topic: "t") == [0: 900, 1: 7])
        let truth = GroundTruth(events)
        #expect(try store.allCounts() == truth.counts)
        #expect(try GroundTruth.rejectCounts(store) == truth.rejects)
    }

    @Test(arguments: DatabaseKind.allCases)
    func offsetsMoveOnlyFromWhereTheBatchStarted(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = ImpressionStore(connection: try f.openDatabase())
        let events = Self.events(seed: 1, count: 500)
        let truth = GroundTruth(events)
        #expect(try store.commit(Self.batch(events), topic: "t", progress: [PartitionProgress(partition: 0, from: nil, to: 500)]))
        // A second writer that read from the same place has lost the partition: nothing of its batch is written.
        let other = ImpressionStore(connection: try f.openDatabase())
        #expect(try !other.commit(Self.batch(events), topic: "t", progress: [PartitionProgress(partition: 0, from: nil, to: 500)]))
        #expect(try !other.commit(Self.batch(events), topic: "t", progress: [PartitionProgress(partition: 0, from: 10, to: 500)]))
        #expect(try store.storedOffsets(topic: "t") == [0: 500])
        #expect(try store.allCounts() == truth.counts)
        #expect(try GroundTruth.rejectCounts(store) == truth.rejects)
        #expect(try store.commit(Self.batch(events), topic: "t", progress: [PartitionProgress(partition: 0, from: 500, to: 1000)]))
        #expect(try store.allCounts() == truth.counts.mapValues { $0 * 2 })
    }

    @Test(arguments: DatabaseKind.allCases)
    func fourWritersAtOnceLoseNoIncrement(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let events = Self.events(seed: 2, count: 2_000, poison: 0.1)
        let truth = GroundTruth(events)
        let configuration = f.configuration
        // Each thread commits the same events in 10 batches on its own
        // connection and partition: the same rows, incremented concurrently.
        try runOnThreads(4) { index, _ in
            let store = ImpressionStore(connection: try Storage.openDatabase(configuration))
            var from: Int64? = nil
            for part in 0..<10 {
                let slice = Array(events[(part * 200)..<((part + 1) * 200)])
                let to = Int64((part + 1) * 200)
                let progress = [PartitionProgress(partition: Int32(index), from: from, to: to)]
                guard try store.commit(Self.batch(slice), topic: "t", progress: progress)
                else { throw TestSetupError("unexpected offset conflict") }
                from = to
            }
        }
        let store = ImpressionStore(connection: try f.openDatabase())
        #expect(try store.allCounts() == truth.counts.mapValues { $0 * 4 })
        #expect(try GroundTruth.rejectCounts(store) == truth.rejects.mapValues { $0 * 4 })
        #expect(try store.storedOffsets(topic: "t") == [0: 2000, 1: 2000, 2: 2000, 3: 2000])
    }

    @Test(arguments: DatabaseKind.allCases)
    func legacyViewsAndLookups(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let store = ImpressionStore(connection: db)
        let events = Self.events(seed: 3, count: 1_000, poison: 0)
        let truth = GroundTruth(events)
        #expect(try store.commit(Self.batch(events), topic: "t", progress: []))
        let legacy = try db.query("""
            SELECT b.banner, c.iso_code, l.iso_code, p.project, SUM(b.count) FROM bannerimpressions b
            JOIN country c ON c.id = b.country_id JOIN language l ON l.id = b.language_id JOIN project p ON p.id = b.project_id
            GROUP BY b.banner, c.iso_code, l.iso_code, p.project
            """, [])
        var expected: [String: Int64] = [:]
        for (k, v) in truth.counts { expected["\(k.banner)|\(k.country)|\(k.language)|\(k.project)", default: 0] += v }
        var got: [String: Int64] = [:]
        for r in legacy { got["\(r[0].string!)|\(r[1].string!)|\(r[2].string!)|\(r[3].string!)"] = r[4].int64 }
        #expect(got == expected)
        let oldest = try db.query("SELECT utm_source, SUM(counts) FROM banner_impressions GROUP BY utm_source", [])
        var byBanner: [String: Int64] = [:]
        for (k, v) in truth.counts { byBanner[k.banner, default: 0] += v }
        #expect(Dictionary(uniqueKeysWithValues: oldest.map { ($0[0].string!, $0[1].int64!) }) == byBanner)
        let minutes = try db.query("SELECT COUNT(DISTINCT \(kind == .sqlite ? "\"timestamp\"" : "`timestamp`")) FROM bannerimpressions", [])
        #expect(minutes.first?.first?.int64 == Int64(Set(truth.counts.keys.map(\.minute)).count))
        let legacyNames = try db.query("SELECT name FROM fundq_legacy_object WHERE comment LIKE 'LEGACY%' ORDER BY name", [])
        #expect(legacyNames.map { $0[0].string } == ["banner_impressions", "bannerimpressions"])
    }

    @Test(arguments: DatabaseKind.allCases)
    func aFileLoadedTwiceCountsOnceAndAHalfLoadedOneIsRolledBack(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = ImpressionStore(connection: try f.openDatabase())
        let events = Self.events(seed: 4, count: 3_000)
        let truth = GroundTruth(events)
        let path = f.directory.file("impressions.jsonl")
        try Data(events.flatMap { $0.bytes + [0x0A] }).write(to: URL(fileURLWithPath: path))
        // A half-loaded attempt by a loader that died: staged rows, never merged.
        let key = try ImpressionFileLoader.fileKey(path: path)
        guard case .claimed(let token, false) = try store.claimFile(key: key, path: path, host: "elsewhere", pid: 1, lease: 0.001,
                                                                    holderIsGone: { _, _ in false }) else {
            Issue.record("first claim refused")
            return
        }
        try store.stage(Self.batch(Array(events.prefix(1_000))), fileKey: key, token: token, lease: 0.001)
        #expect(try store.allCounts().isEmpty)
        let loader = ImpressionFileLoader(store: store, flushEvents: 700)
        Thread.sleep(forTimeInterval: 0.01)  // the dead loader's lease (1 ms) has run out
        #expect(try loader.load(path: path) == .loaded(events: 3_000, restarted: true))
        #expect(try loader.load(path: path) == .alreadyLoaded(events: 3_000))
        #expect(try store.allCounts() == truth.counts)
        #expect(try GroundTruth.rejectCounts(store) == truth.rejects)
        let staged = try store.connection.query("SELECT COUNT(*) FROM banner_impression_file_staging", [])
        #expect(staged.first?.first?.int64 == 0)
    }

    /// A batch of more keys than one statement takes is written in
    /// statements of 512 rows and then of smaller powers of two: every row
    /// and every lookup value once, whatever the count (1, 2, …, 1,300 keys).
    @Test(arguments: DatabaseKind.allCases)
    func batchesOfEverySizeAreWrittenWhole(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let store = ImpressionStore(connection: db)
        let all = Self.events(seed: 6, count: 10_000, poison: 0)
        var truth = GroundTruth([])
        var start = 0
        for size in [1, 2, 3, 511, 512, 513, 1_300] {
            let batch = ImpressionBatch()
            var slice: [SyntheticImpressions.Event] = []
            while batch.keyCount < size, start < all.count {
                batch.add(all[start].bytes)
                slice.append(all[start])
                start += 1
            }
            #expect(batch.keyCount == size)
            #expect(try store.commit(batch, topic: "t", progress: []))
            for (k, v) in GroundTruth(slice).counts { truth.counts[k, default: 0] += v }
            #expect(try store.allCounts() == truth.counts, "after a batch of \(size) keys")
        }
        let countries = try db.query("SELECT iso_code FROM country", []).compactMap { $0[0].string }
        #expect(Set(countries) == Set(truth.counts.keys.map(\.country)) && countries.count == Set(countries).count)
        let projects = try db.query("SELECT project FROM project", []).compactMap { $0[0].string }
        #expect(Set(projects) == Set(truth.counts.keys.map(\.project)))
        let languages = try db.query("SELECT iso_code FROM language", []).compactMap { $0[0].string }
        #expect(Set(languages) == Set(truth.counts.keys.map(\.language)))
    }

    @Test(arguments: DatabaseKind.allCases)
    func purgeDeletesOnlyOldMinutes(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = ImpressionStore(connection: try f.openDatabase())
        let events = Self.events(seed: 5, count: 400, poison: 0)
        let truth = GroundTruth(events)
        #expect(try store.commit(Self.batch(events), topic: "t", progress: []))
        let minutes = Set(truth.counts.keys.map(\.minute)).sorted()
        let cutoff = minutes[2]
        let expectedDeleted = truth.counts.keys.filter { $0.minute < cutoff }.count
        #expect(try store.purge(before: Date(timeIntervalSince1970: Double(cutoff))) == expectedDeleted)
        #expect(try store.allCounts() == truth.counts.filter { $0.key.minute >= cutoff })
    }
}
