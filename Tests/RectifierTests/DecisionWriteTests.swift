import Backends
import Core
import Foundation
import FundqTestSupport
import Processors
import Rectifier
import Sandbox
import Testing

/// Writing a batch of decisions against a real SQLite file whose queues
/// share it (a donation's push commits with its row's resolution).
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

    /// A group's created profile ids are written in one transaction; when the
    /// database refuses one row's, every other row still gets its id (each
    /// then written on its own) and completes; the refused row is left for a
    /// person (an intent with no profile id), never given a second profile.
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
        #expect(f.sandbox.captures.count == 6, "one profile per row, none created twice")
        let again = try Rectifier(storage: storage, processors: [adapter], logger: quietLogger()).run(RectifierOptions())
        #expect(again.total.completed == 0 && f.sandbox.captures.count == 6, "the refused row is never given a second profile")
    }
}
