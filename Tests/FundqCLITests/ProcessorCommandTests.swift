import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// `fundq processor …` end to end: the binary against an in-process sandbox.
@Suite("fundq processor and sandbox commands")
struct ProcessorCommandTests {
    func run(_ f: SandboxFixture, _ args: [String], extra: [String: String] = [:],
             dataDirectory: String? = nil) throws -> FundqProcess.Result {
        let dir = try TemporaryDirectory()
        var env = f.environment(extra)
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = dataDirectory ?? dir.path
        return try FundqProcess.run(args, environment: env)
    }

    @Test func listNamesEveryProcessorWithItsCapabilities() throws {
        let f = try SandboxFixture()
        let r = try run(f, ["processor", "list", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        guard case .array(let items) = try JSONParser().parse(r.stdout) else { Issue.record("list printed \(r.stdout)"); return }
        let names = items.compactMap { $0.objectValue?["name"]?.scalarText }
        #expect(names == Processors.all.map { $0.name })
        let paypal = items.compactMap(\.objectValue).first { $0["name"] == .string("paypal") }
        #expect(paypal?["endpoint"] == .string(f.sandbox.baseURL + "/nvp"))
        #expect(paypal?["capabilities"] == .array([.string("status"), .string("finish")]))
        #expect(paypal?["identity"] == .string("gateway_session_id"))
    }

    @Test func statusPrintsTheNormalizedStatusAndItsEvidence() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-7", outcome: .pendingPoke)
        let r = try run(f, ["processor", "paypal", "status", "EC-7", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try JSONParser().parse(r.stdout).objectValue
        #expect(o?["status"] == .string("pending-poke"))
        #expect(o?["evidence"] == .string("CHECKOUTSTATUS=PaymentActionNotInitiated, PAYERID present"))
        #expect(!r.stdout.contains(Sandbox.paypalPassword))
        #expect(!r.stdout.contains("donor@example.org"), "donor data is masked in the raw answer")
        let text = try run(f, ["processor", "globalcollect", "status", "NOPE"])
        #expect(text.status == 1)
        #expect(text.stderr.contains("globalcollect GET_ORDERSTATUS for order NOPE: error 410110"))
    }

    @Test func finishDryRunSendsNothingThenFinishCapturesOnce() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal", id: "EC-9", outcome: .pendingPoke)
        // Without a pending row there is no amount to capture: refused, nothing sent.
        let unknown = try run(f, ["processor", "paypal", "finish", "EC-9", "--dry-run"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("has no valid gross and currency to capture"))
        // The pending database knows this order's amount.
        let db = try TemporaryDirectory()
        var env = f.environment()
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = db.path
        let pushed = try FundqProcess.run(["queue", "push", "pending"],
                                          stdin: #"{"gateway":"paypal","order_id":"EC-9","gateway_session_id":"EC-9","date":1764000000,"#
                                              + #""gross":"10.00","currency":"EUR"}"#,
                                          environment: env)
        #expect(pushed.status == 0)
        #expect(try run(f, ["consume", "pending"], dataDirectory: db.path).status == 0)
        let dry = try run(f, ["processor", "paypal", "finish", "EC-9", "--dry-run"], dataDirectory: db.path)
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("dry run: would send"))
        #expect(dry.stdout.contains("METHOD=DoExpressCheckoutPayment"))
        #expect(dry.stdout.contains("PAYMENTREQUEST_0_AMT=10.00"))
        #expect(dry.stdout.contains("PWD=***") && dry.stdout.contains("SIGNATURE=***"))
        #expect(!dry.stdout.contains(Sandbox.paypalPassword))
        #expect(f.sandbox.captures.isEmpty)
        let done = try run(f, ["processor", "paypal", "finish", "EC-9", "--json"], dataDirectory: db.path)
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try JSONParser().parse(done.stdout).objectValue?["status"] == .string("complete"))
        #expect(f.sandbox.captures.count == 1)
        // Now complete: finishing again is refused before anything is sent.
        let again = try run(f, ["processor", "paypal", "finish", "EC-9"], dataDirectory: db.path)
        #expect(again.status == 1)
        #expect(again.stderr.contains("is complete"))
        #expect(f.sandbox.captures.count == 1)
    }

    @Test func misusedProcessorCommandsAreUsageErrors() throws {
        let f = try SandboxFixture()
        for args in [["processor", "nope", "status", "X"], ["processor", "paypal"], ["processor", "paypal", "status"],
                     ["processor", "paypal", "refund", "X"], ["processor", "list", "extra"], ["processor", "paypal", "check", "X"]] {
            let r = try run(f, args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
        }
    }

    @Test func checkReportsConfigurationConnectivityAndMissingCredentials() throws {
        let f = try SandboxFixture()
        let ok = try run(f, ["processor", "globalcollect", "check"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("credentials:   merchant_id from FUNDQ_GLOBALCOLLECT_MERCHANT_ID"))
        #expect(ok.stdout.contains("connectivity:  ok"))
        let missing = try run(f, ["processor", "paypal", "check"], extra: ["FUNDQ_PAYPAL_SIGNATURE": ""])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("credential 'signature' comes from FUNDQ_PAYPAL_SIGNATURE, "
            + "which is set neither in the environment nor in the secrets file"))
        let wrong = try run(f, ["processor", "paypal", "check"], extra: ["FUNDQ_PAYPAL_PASSWORD": "nope"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("credentials refused (10002)"), "\(wrong.stderr)")
        let unreachable = try run(f, ["processor", "paypal", "check"],
                                  extra: ["FUNDQ_PAYPAL_ENDPOINT": "http://127.0.0.1:\(try FreePort.find())/nvp"])
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot connect"))
        let plain = try run(f, ["processor", "paypal", "check"], extra: ["FUNDQ_PAYPAL_ENDPOINT": "http://api-3t.paypal.com/nvp"])
        #expect(plain.status == 1)
        #expect(plain.stderr.contains("only loopback addresses may be reached without TLS"))
    }
}
