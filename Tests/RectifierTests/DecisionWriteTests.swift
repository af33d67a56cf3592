import Backends
import Core
import Foundation
import FundqTestSupport
import Logging
import Processors
import Rectifier
import Sandbox
import Synchronization
import Testing

/// Writing a batch of decisions against a real SQLite file whose queues
/// share it (a donation's push commits with its row's resolution), and
/// against MariaDB.
@Suite("Rectifier decision writes")
struct DecisionWriteTests {
    /// Pending rows an hour old for `ids`, each scripted at `processor`'s simulator.
    func seed(_ ids: [String], processor: String, outcome: SandboxOutcome, store: PendingStore, sandbox: Sandbox) throws {
        let date = Int(Date().timeIntervalSince1970) - 3600
        try store.connection.transaction {
            for id in ids {
                try sandbox.script(processor, id: id, outcome: outcome)
                try store.store(try PendingMessage(members: try JSONParser().parse(
                    pendingMessageText(processor: processor, id: id, date: date)).objectValue!))
            }
        }
    }

    /// One row whose write the database refuses fails its batch; the others
    /// are then written one by one, each completed row with its donation in
    /// its own transaction: no row is resolved as completed without its
    /// donation in the queue, and the refused row stays for a later run.
    @Test func aRefusedRowNeverLeavesItsNeighboursResolvedWithoutTheirDonations() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        let ids = (0..<20).map { "GC-W\($0)" }
        let store = PendingStore(connection: storage.database)
        try seed(ids, processor: "globalcollect", outcome: .complete, store: store, sandbox: f.sandbox)
        try storage.database.executeScript("""
            CREATE TRIGGER refuse_one BEFORE UPDATE OF resolution ON pending WHEN NEW.order_id = 'GC-W7'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
            """)
        let adapter = try f.processor("globalcollect", ["FUNDQ_GLOBALCOLLECT_RETRY_BACKOFF_SECONDS": "0",
                                                        "FUNDQ_GLOBALCOLLECT_RATE_LIMIT_PER_SECOND": "10000"])
        let report = try Rectifier(storage: storage, processors: [adapter], logger: quietLogger()).run(RectifierOptions())
        #expect(report.total.examined == 20)
        #expect(report.total.completed == 19)
        let resolved = try storage.database.query("SELECT order_id FROM pending WHERE resolution = 'completed'", []).map { $0[0].string }
        #expect(resolved.count == 19 && !resolved.contains("GC-W7"))
        #expect(try storage.queue.stats("donations").waiting == 19, "every resolved row's donation is in the queue, once")
        let refused = try storage.database.query(
            "SELECT result FROM rectifier_decision WHERE order_id = 'GC-W7'", []).first?.first?.string ?? ""
        #expect(refused.contains("not written") && refused.contains("refused by the test"), "\(refused)")
        #expect(try store.fetch(gateway: "globalcollect", orderID: "GC-W7")?.resolution == nil, "the refused row stays for a later run")
    }

    /// A group's created profile ids are written with one statement; when the
    /// database refuses one row's, every other row still gets its id (each
    /// then written on its own) and completes; the refused row goes to a
    /// person at once, its decision naming the profile created, and is never
    /// given a second profile.
    @Test func oneRefusedProfileIdCostsNoOtherRowItsId() throws {
        let recurring = try #require(Processors.all.first { $0.capabilities.contains(.createRecurringProfile) })
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        let ids = (0..<6).map { "RP-W\($0)" }
        let store = PendingStore(connection: storage.database)
        try seed(ids, processor: recurring.name, outcome: .pendingPoke, store: store, sandbox: f.sandbox)
        try storage.database.executeScript("""
            CREATE TRIGGER refuse_one BEFORE UPDATE OF message ON pending WHEN NEW.order_id = 'RP-W2'
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
            """)
        let adapter = try f.processor(recurring.name, everyProcessor(["RETRY_BACKOFF_SECONDS": "0", "RATE_LIMIT_PER_SECOND": "10000"]))
        let report = try Rectifier(storage: storage, processors: [adapter], logger: quietLogger()).run(RectifierOptions())
        #expect(report.total.examined == 6)
        #expect(report.total.completed == 5)
        for id in ids {
            let row = try #require(try store.fetch(gateway: recurring.gateway, orderID: id))
            if id == "RP-W2" {
                #expect(row.resolution == nil && row.message["subscr_id"] == nil && row.intents.profileRequestedAt != nil)
            } else {
                #expect(row.resolution == .completed && row.message["subscr_id"] != nil, "\(id)")
            }
        }
        #expect(report.total.needsReview == 1)
        let review = try store.needingReview(gateway: recurring.gateway)
        #expect(review.map(\.record.orderID) == ["RP-W2"])
        #expect(review.first?.reason.contains("could not record its id") == true, "\(review)")
        #expect(review.first?.reason.contains("refused by the test") == true)
        let decision = try #require(report.decisions.first { $0.orderID == "RP-W2" })
        #expect(decision.action == .needsReview && decision.evidence.contains("created profile"), "\(decision.evidence)")
        #expect(f.sandbox.captures.count == 6, "one profile per row, none created twice")
        let again = try Rectifier(storage: storage, processors: [adapter], logger: quietLogger()).run(RectifierOptions())
        #expect(again.total.completed == 0 && f.sandbox.captures.count == 6, "the refused row is never given a second profile")
    }

    /// A claim lost between a row's decision and its batch's write (its
    /// lease ran out while a later row's status call hung, and another
    /// worker took the row): that row is left to its new owner and its
    /// decision says so; its neighbour in the same resolution is resolved.
    /// MariaDB's one `UPDATE` per resolution cannot say which row it
    /// missed, so there the batch is written again with its held rows read
    /// and locked first (logged once; not row by row, as after a refusal).
    @Test(arguments: DatabaseKind.allCases)
    func aClaimLostBeforeItsBatchIsWrittenLeavesThatRowToItsNewOwnerAndWritesTheOthers(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        let store = PendingStore(connection: storage.database)
        // Claimed and worked in this order: GC-L0 and GC-L1 answer "failed" at once (their decisions wait for
        // the batch: up to half the 3 s lease); GC-L2's status call hangs until the adapter gives up after
        // 8 s, long after the lease of all three has run out.
        try seed(["GC-L0", "GC-L1"], processor: "globalcollect", outcome: .failed, store: store, sandbox: f.sandbox)
        try seed(["GC-L2"], processor: "globalcollect", outcome: .stall, store: store, sandbox: f.sandbox)
        let adapter = try f.processor("globalcollect", ["FUNDQ_GLOBALCOLLECT_RETRY_ATTEMPTS": "1",
                                                        "FUNDQ_GLOBALCOLLECT_TIMEOUTS_TOTAL_SECONDS": "8",
                                                        "FUNDQ_GLOBALCOLLECT_RATE_LIMIT_PER_SECOND": "10000"])
        let l0 = try #require(try store.fetch(gateway: "globalcollect", orderID: "GC-L0")).id
        let thief = RowThief(configuration: db.configuration, id: l0)
        let log = CapturedLog()
        let report = try Rectifier(storage: storage, processors: [adapter], logger: log.logger).run(RectifierOptions(lease: .seconds(3)))
        #expect(try thief.result() == true, "the row was taken while the status call hung")
        #expect(report.total.examined == 3)
        #expect(report.total.failed == 1, "GC-L1 only")
        let resolutions = try ["GC-L0", "GC-L1", "GC-L2"].map { try store.fetch(gateway: "globalcollect", orderID: $0)?.resolution }
        #expect(resolutions == [nil, .failed, nil])
        #expect(try storage.database.query("SELECT claimed_by FROM pending WHERE id = ?", [.integer(l0)]).first?.first?.string == "thief")
        let results = try storage.database.query("SELECT order_id, result FROM rectifier_decision ORDER BY id", [])
            .map { ($0[0].string ?? "", $0[1].string ?? "") }
        #expect(results.map(\.0).sorted() == ["GC-L0", "GC-L1", "GC-L2"], "one decision per row")
        #expect(results.first { $0.0 == "GC-L0" }?.1.contains("claim lost") == true, "\(results)")
        #expect(log.count(containing: "written again") == (database == .mariadb ? 1 : 0), "\(log.lines)")
        #expect(log.count(containing: "could not be written") == 0, "no row was written on its own")
    }
}

/// Takes a pending row on another connection, as another worker would: once
/// the rectifier holds it and its claim has run out (a claim can be taken
/// only then).
final class RowThief: Sendable {
    private let outcome = Mutex<Result<Bool, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(configuration: StorageConfiguration, id: Int64) {
        Thread { [self] in
            let result = Result<Bool, any Error> {
                let store = PendingStore(connection: try Storage.openDatabase(configuration))
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline {
                    let owner = try store.connection.query("SELECT claimed_by FROM pending WHERE id = ?", [.integer(id)])
                        .first?.first?.string
                    if let owner, owner != "thief", try store.claim(id: id, worker: "thief", lease: .seconds(300)) { return true }
                    Thread.sleep(forTimeInterval: 0.05)
                }
                return false
            }
            outcome.withLock { $0 = result }
            done.signal()
        }.start()
    }

    /// Whether the row was taken (waits for the thief to finish).
    func result() throws -> Bool {
        done.wait()
        return try outcome.withLock { $0 }!.get()
    }
}

/// Log lines of notice and above, kept for a test to read.
final class CapturedLog: Sendable {
    private let kept = Mutex<[String]>([])

    /// A logger writing here.
    var logger: Logger {
        Logger(label: "test.captured") { [self] _ in Handler(log: self) }
    }

    /// The lines kept.
    var lines: [String] { kept.withLock { $0 } }

    /// Lines containing `text`.
    func count(containing text: String) -> Int { lines.filter { $0.contains(text) }.count }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .notice

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            log.kept.withLock { $0.append("\(event.level) \(event.message)") }
        }
    }
}
