import Core
import Foundation
import FundqTestSupport
import Impressions
import Testing

/// The loader as real `fundq` child processes against the real broker and
/// databases: SIGKILLed mid-stream and restarted, joined by another, killed
/// mid-file; totals always equal the ground truth of what was produced.
@Suite("Impressions loader processes", .serialized)
struct ImpressionLoaderProcessTests {
    /// Events produced to a topic, with their ground truth.
    final class Feed {
        let producer: KafkaProducer
        var generator = SyntheticImpressions(seed: 99, minutes: 10, poisonShare: 0.15)
        var truth = GroundTruth([])
        var produced = 0

        init(brokers: String, topic: String) throws {
            producer = try KafkaProducer(brokers: brokers, topic: topic)
        }

        func produce(_ count: Int) throws {
            for _ in 0..<count {
                let e = generator.event()
                truth.add(e.expected)
                try producer.send(e.bytes, key: String(produced))
                produced += 1
            }
            try producer.flush()
        }
    }

    @Test(arguments: DatabaseKind.allCases)
    func loadersKilledRestartedAndJoiningCountEveryEventOnce(kind: DatabaseKind) throws {
        let kafka = try KafkaFixture()
        let topic = uniqueQueueName("impressions")
        let group = uniqueQueueName("loaders")
        try kafka.createTopic(topic, partitions: 3)
        let f = try DatabaseFixture(kind)
        let feed = try Feed(brokers: kafka.brokers, topic: topic)
        func loader() throws -> SpawnedProcess {
            try FundqProcess.spawn(["impressions", "consume", "--brokers", kafka.brokers, "--topic", topic, "--group", group, "--daemon",
                                    "--batch", "250", "--flush-interval", "0.2",
                                    "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000"] + f.flags,
                                   outputIn: f.directory)
        }
        let store = ImpressionStore(connection: try f.openDatabase())
        func committed() -> Int64 { ((try? store.storedOffsets(topic: topic)) ?? [:]).values.reduce(0, +) }

        let first = try loader()
        let second = try loader()
        try feed.produce(3_000)
        #expect(eventually(timeout: 90) { committed() > 0 })
        try feed.produce(3_000)
        // Killed while events are flowing, at whatever instant that is.
        first.send(SIGKILL)
        _ = first.wait()
        let restarted = try loader()
        try feed.produce(3_000)
        let third = try loader()
        try feed.produce(3_000)
        #expect(eventually(timeout: 180, poll: 0.2) { committed() == Int64(feed.produced) }, "committed \(committed()) of \(feed.produced)")
        for p in [second, restarted, third] { p.send(SIGTERM) }
        for p in [second, restarted, third] {
            let r = p.wait()
            #expect(r.status == 0, "\(r.stderr.suffix(3000))")
        }
        #expect(try store.allCounts() == feed.truth.counts)
        #expect(try GroundTruth.rejectCounts(store) == feed.truth.rejects)
        #expect(committed() == Int64(feed.produced))
    }

    @Test(arguments: DatabaseKind.allCases)
    func aFileLoaderKilledMidFileAndRerunCountsOnce(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        var generator = SyntheticImpressions(seed: 5, minutes: 30, poisonShare: 0.1)
        let events = (0..<60_000).map { _ in generator.event() }
        let truth = GroundTruth(events)
        let path = f.directory.file("impressions-2025120116.json")
        try Data(events.flatMap { $0.bytes + [0x0A] }).write(to: URL(fileURLWithPath: path))
        let store = ImpressionStore(connection: try f.openDatabase())
        func staged() -> Int64 {
            (try? store.connection.query("SELECT events FROM banner_impression_files", []).first?.first?.int64) ?? nil ?? 0
        }
        let loader = try FundqProcess.spawn(["impressions", "load", "--file", path, "--flush-events", "1000"] + f.flags,
                                            outputIn: f.directory)
        #expect(eventually(timeout: 120, poll: 0.005) { staged() > 0 })
        loader.send(SIGKILL)
        _ = loader.wait()
        #expect(try store.allCounts().isEmpty, "a half-loaded file must count for nothing")
        let rerun = try FundqProcess.run(["impressions", "load", "--file", path] + f.flags)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("loaded 60000 events (a half-loaded earlier attempt was rolled back first)"), "\(rerun.stdout)")
        let again = try FundqProcess.run(["impressions", "load", "--file", path] + f.flags)
        #expect(again.stdout.contains("already loaded (60000 events), skipped"), "\(again.stdout)")
        #expect(try store.allCounts() == truth.counts)
        #expect(try GroundTruth.rejectCounts(store) == truth.rejects)
    }

    @Test func aFileLoadReportsBytesReadOfTheFile() throws {
        let f = try DatabaseFixture(.sqlite)
        var generator = SyntheticImpressions(seed: 9, minutes: 5, poisonShare: 0)
        let path = f.directory.file("impressions-progress.json")
        let bytes: [UInt8] = (0..<30_000).map { _ in generator.event() }.flatMap { $0.bytes + [0x0A] }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try FundqProcess.run(["impressions", "load", "--file", path, "--flush-events", "10000"] + f.flags,
                                     environment: ["FUNDQ_PROGRESS_INTERVAL": "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let what = "impressions load \(path): "
        let done = r.stderr.split(separator: "\n").filter { $0.hasPrefix(what) && $0.contains("/\(bytes.count) bytes (") }
            .compactMap { Int($0.dropFirst(what.count).prefix { $0 != "/" }) }
        #expect(done.count >= 3 && done == done.sorted() && done.last == bytes.count, "\(r.stderr)")
        #expect(r.stderr.contains("\(bytes.count)/\(bytes.count) bytes (100%), "), "\(r.stderr)")
    }

    @Test func gzipFilesLoadAndReportsAndRejectsShowThem() throws {
        let f = try DatabaseFixture(.sqlite)
        var generator = SyntheticImpressions(seed: 8, minutes: 3, poisonShare: 0.3)
        let events = (0..<2_000).map { _ in generator.event() }
        let truth = GroundTruth(events)
        let plain = f.directory.file("e.json")
        try Data(events.flatMap { $0.bytes + [0x0A] }).write(to: URL(fileURLWithPath: plain))
        let gzip = Process()
        gzip.executableURL = try Executables.find("gzip")
        gzip.arguments = ["-k", plain]
        try gzip.run()
        gzip.waitUntilExit()
        let r = try FundqProcess.run(["impressions", "load", "--file", plain + ".gz"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        let store = ImpressionStore(connection: try f.openDatabase())
        #expect(try store.allCounts() == truth.counts)
        let report = try FundqProcess.run(["impressions", "report", "--json", "--banner", "Banner_A"] + f.flags)
        let expectedA = truth.counts.filter { $0.key.banner == "Banner_A" }.values.reduce(0, +)
        #expect(report.stdout.contains(#""count":\#(expectedA)"#), "\(report.stdout)")
        let rejects = try FundqProcess.run(["impressions", "rejects"] + f.flags)
        #expect(rejects.status == 0)
        for (reason, count) in truth.rejects { #expect(rejects.stdout.contains("\(reason)"), "\(reason) \(count)") }
        let purge = try FundqProcess.run(["jobs", "purge-impressions", "--days", "1"] + f.flags)
        #expect(purge.status == 0 && purge.stderr.contains("purge-impressions: \(truth.counts.count) per-minute rows"), "\(purge.stderr)")
        #expect(try store.allCounts().isEmpty)
    }
}
