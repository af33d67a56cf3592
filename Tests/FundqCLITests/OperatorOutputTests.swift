import Core
import Foundation
import FundqTestSupport
import Testing

/// What fundq tells an operator: figures that are right, listings that say
/// when they are cut.
@Suite("Operator output")
struct OperatorOutputTests {
    @Test(arguments: QueueBackendKind.allCases)
    func queueStatsShowsAQueueWhoseMessagesAreAllDamaged(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let poison = (1...3).map { #"{"gateway":"paypal","n":\#($0)}"# }.joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", "pending", "--lines"] + f.flags, stdin: poison).status == 0)
        let consumed = try FundqProcess.run(["consume", "pending"] + f.flags)
        #expect(consumed.stderr.contains("3 damaged"), "\(consumed.stderr)")
        let stats = try FundqProcess.run(["queue", "stats", "--json"] + f.flags)
        #expect(stats.status == 0, "\(stats.stderr)")
        guard case .array(let rows) = try JSONParser().parse(stats.stdout) else { Issue.record("printed \(stats.stdout)"); return }
        let pending = rows.compactMap(\.objectValue).first { $0["queue"] == .string("pending") }
        #expect(pending?["waiting"] == .number("0") && pending?["damaged"] == .number("3"), "\(stats.stdout)")
        let table = try FundqProcess.run(["queue", "stats"] + f.flags)
        #expect(table.lines.contains { $0.hasPrefix("pending ") && $0.hasSuffix(" 3") }, "\(table.stdout)")
    }

    @Test func listingsSayWhenTheyAreCutAndHowToSeeMore() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        let rows = (1...5).map { #"{"gateway":"paypal","order_id":"cut-\#($0)","date":1764000000}"# }.joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", "pending", "--lines"] + flags, stdin: rows).status == 0)
        #expect(try FundqProcess.run(["consume", "pending"] + flags).status == 0)
        for json in [false, true] {
            let cut = try FundqProcess.run(["pending", "list", "--limit", "3"] + flags + (json ? ["--json"] : []))
            #expect(cut.status == 0, "\(cut.stderr)")
            #expect(cut.stderr.contains("showing the first 3 pending rows; there are more: raise --limit"), "\(cut.stderr)")
            #expect(cut.stdout.components(separatedBy: "cut-").count - 1 == 3, "\(cut.stdout)")
            let whole = try FundqProcess.run(["pending", "list", "--limit", "5"] + flags + (json ? ["--json"] : []))
            #expect(whole.stderr.isEmpty, "\(whole.stderr)")
            #expect(whole.stdout.components(separatedBy: "cut-").count - 1 == 5, "\(whole.stdout)")
        }
    }
}
