import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// GlobalCollect's own wire facts (docs/processors/globalcollect.md): the
/// finish calls and their 400120, and the STATUSID table.
@Suite("GlobalCollect wire")
struct GlobalCollectWireTests {
    @Test(arguments: [(SandboxOutcome.pendingPoke, "SET_PAYMENT"), (.finish, "DO_FINISHPAYMENT")])
    func globalCollectFinishesThenAsksAgainAndNeverFinishesTwice(outcome: SandboxOutcome, action: String) throws {
        let f = try SandboxFixture()
        try f.sandbox.script("globalcollect", id: "GC-1", outcome: outcome)
        let gc = try f.processor("globalcollect")
        let r = row("globalcollect", "GC-1")
        let status = try gc.status(of: r)
        #expect(status.status == .pendingPoke)
        #expect(try gc.preview(.finish, for: r, current: status).contains("<ACTION>\(action)</ACTION>"))
        let done = try gc.finish(r, current: status)
        #expect(done.status == .complete)
        #expect(done.evidence.hasPrefix("\(action) OK, then STATUSID=1000"))
        let again = try gc.finish(r, current: status)
        #expect(again.status == .complete)
        #expect(again.evidence.contains("400120"))
        #expect(f.sandbox.captures.map(\.action) == [action])
    }

    @Test func globalCollectStatusIDsFollowTheDocumentedTable() {
        let table: [(ClosedRange<Int>, NormalizedStatus)] = [
            (0...10, .pending), (20...70, .pending), (300...300, .pending), (550...550, .pending), (625...650, .pending),
            (200...200, .pendingPoke), (525...525, .pendingPoke), (600...600, .pendingPoke),
            (15...15, .failed), (100...180, .failed), (220...280, .failed), (310...350, .failed), (1100...1520, .failed),
            (1810...2220, .failed),
            (400...400, .revised), (800...975, .complete), (1000...1050, .complete), (1800...1800, .refunded), (99999...99999, .cancelled),
        ]
        for (range, status) in table {
            for id in range { #expect(GlobalCollect.normalized(statusID: id) == status, "STATUSID \(id)") }
        }
        for id in [11, 14, 16, 19, 75, 190, 199, 290, 500, 700, 999, 1060, 1600, 1799, 3000, 99998] {
            #expect(GlobalCollect.normalized(statusID: id) == .unknown, "STATUSID \(id)")
        }
    }
}
