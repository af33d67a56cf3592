import Backends
import Core
import Foundation
import FundqTestSupport
import Sandbox
import Testing

/// What one `fundq rectify` invocation reports: one run id, a limit that
/// holds over every worker, dry-run decisions naming the real rows.
@Suite("fundq rectify runs")
struct RectifyRunTests {
    @Test func oneInvocationIsOneRunWhoseLimitHoldsAndADryRunNamesRealRows() throws {
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        let storage = try Storage(db.configuration)
        let store = PendingStore(connection: storage.database)
        let date = Int(Date().timeIntervalSince1970) - 3600
        try storage.database.transaction {
            for i in 0..<600 {
                let (processor, outcome): (String, SandboxOutcome) = i % 2 == 0 ? ("paypal", .abandoned) : ("globalcollect", .complete)
                try f.sandbox.script(processor, id: "R-\(i)", outcome: outcome)
                try store.store(try PendingMessage(members: try JSONParser().parse(
                    #"{"gateway":"\#(processor)","order_id":"R-\#(i)","gateway_session_id":"R-\#(i)","date":\#(date),"#
                        + #""gross":"5.00","currency":"EUR"}"#
                ).objectValue!))
            }
        }
        var env = f.environment(["FUNDQ_PAYPAL_RATE_LIMIT_PER_SECOND": "10000", "FUNDQ_GLOBALCOLLECT_RATE_LIMIT_PER_SECOND": "10000"])
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = db.directory.path
        env["FUNDQ_LOG_LEVEL"] = "warning"
        let ids = Set(try store.list(limit: 1_000).map(\.id))

        let dry = try FundqProcess.run(["rectify", "--dry-run", "--json", "--limit", "50"], environment: env)
        #expect(dry.status == 0, "\(dry.stderr)")
        let dryJSON = try JSONParser().parse(dry.stdout).objectValue
        guard case .array(let decisions)? = dryJSON?["decisions"] else { Issue.record("printed \(dry.stdout)"); return }
        #expect(decisions.count == 50)
        #expect(decisions.allSatisfy { $0.objectValue?["id"] == .null }, "a dry run stores no decision: no log id")
        let named = decisions.compactMap { $0.objectValue?["pending_id"]?.scalarText.flatMap(Int64.init) }
        #expect(named.count == 50 && Set(named).isSubset(of: ids))

        let run = try FundqProcess.run(["rectify", "--json", "--limit", "100", "--workers", "4"], environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        let json = try JSONParser().parse(run.stdout).objectValue
        let examined = json?["summary"]?.objectValue?.values
            .compactMap { $0.objectValue?["examined"]?.scalarText.flatMap(Int.init) }.reduce(0, +)
        #expect(examined == 100, "--limit 100 with 4 workers")
        let runID = try #require(json?["run_id"]?.scalarText)
        let runs = try storage.database.query("SELECT run_id, COUNT(*) FROM rectifier_decision GROUP BY run_id", [])
        #expect(runs.map { $0[0].string } == [runID])
        #expect(runs.first?[1].int64 == 100)
        let text = try FundqProcess.run(["rectify", "--limit", "10"], environment: env)
        #expect(text.stderr.contains("rectify: run r-"), "\(text.stderr)")
    }
}
