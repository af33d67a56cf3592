import Backends
import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// A processor that echoes what it was sent — credentials included — in its
/// error messages, puts a credential inside a longer field, and returns a
/// donor's free-text note holding an email address and a card number: real
/// HTTP on a loopback port, in PayPal's NVP and GlobalCollect's XML.
final class EchoingProcessor {
    static let user = "api-user-7731"
    static let password = "pw+Secret/55 x"
    static let signature = "sig-Secret-66-AbCdEf"
    static let merchant = "merchant-Secret-77"
    static let email = "ada.lovelace@example.org"
    static let card = "4111 1111 1111 1111"
    static let cardDashed = "5555-5555-5555-4444"

    let server: LoopbackHTTPServer

    init() throws {
        server = try LoopbackHTTPServer { request in
            request.path.hasPrefix("/wdl") ? EchoingProcessor.globalCollect(request) : EchoingProcessor.paypal(request)
        }
    }

    deinit { server.stop() }

    var environment: [String: String] {
        let base = "http://127.0.0.1:\(server.port)"
        return [
            "FUNDQ_PROCESSORS_DIR": RepositoryPaths.processors, "FUNDQ_PAYPAL_ENDPOINT": base + "/nvp",
            "FUNDQ_PAYPAL_USER": Self.user, "FUNDQ_PAYPAL_PASSWORD": Self.password, "FUNDQ_PAYPAL_SIGNATURE": Self.signature,
            "FUNDQ_PAYPAL_RETRY_ATTEMPTS": "1", "FUNDQ_GLOBALCOLLECT_ENDPOINT": base + "/wdl",
            "FUNDQ_GLOBALCOLLECT_MERCHANT_ID": Self.merchant, "FUNDQ_GLOBALCOLLECT_RETRY_ATTEMPTS": "1",
        ]
    }

    /// Every form of a secret a leak could take.
    static var forbidden: [String] {
        [user, password, signature, merchant, email, card, cardDashed, "4111111111111111", "pw%2BSecret", "pw+Secret", "Secret/55"]
    }

    static func paypal(_ request: HTTPServerRequest) -> HTTPServerReply {
        let fields = NVP.decode(request.text) ?? [:]
        let common = [("TIMESTAMP", "2026-11-28T00:00:00Z"), ("CORRELATIONID", "c0ffee"), ("VERSION", "204"), ("BUILD", "1")]
        func answer(_ f: [(String, String)]) -> HTTPServerReply { .ok(NVP.encode(f + common), contentType: "text/plain") }
        switch fields["TOKEN"] ?? "" {
        case "EC-ECHO":  // the request, as received (form-encoded), in the error message
            return answer([("ACK", "Failure"), ("L_ERRORCODE0", "10002"), ("L_SHORTMESSAGE0", "Security error"),
                           ("L_LONGMESSAGE0", "Security header is not valid: " + request.text)])
        case "EC-ECHO-DECODED":  // the request decoded, and the donor's email
            let echoed = ["USER", "PWD", "SIGNATURE"].map { "\($0)=\(fields[$0] ?? "")" }.joined(separator: "&")
            return answer([("ACK", "Failure"), ("L_ERRORCODE0", "10002"),
                           ("L_LONGMESSAGE0", "Security header is not valid: \(echoed) for \(email)")])
        case "EC-NOTE":
            return answer([("ACK", "Success"), ("TOKEN", "EC-NOTE"), ("CHECKOUTSTATUS", "PaymentActionCompleted"), ("PAYERID", "P1"),
                           ("PAYMENTREQUEST_0_TRANSACTIONID", "TX-1"), ("NOTE", "write to \(email), my card is \(card)"),
                           ("PAYMENTREQUEST_0_CUSTOM", "ref-\(signature)-x"), ("PAYMENTREQUEST_0_DESC", "paid with \(cardDashed)"),
                           ("PAYMENTREQUEST_0_AMT", "10.00")])
        case "EC-GARBAGE":
            return .ok("<html>debug: \(request.text)</html>", contentType: "text/html")
        default:
            return answer([("ACK", "Failure"), ("L_ERRORCODE0", "10410"), ("L_LONGMESSAGE0", "Invalid token; request was \(request.text)")])
        }
    }

    static func globalCollect(_ request: HTTPServerRequest) -> HTTPServerReply {
        let escaped = request.text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        return .ok("<XML><RESPONSE><RESULT>NOK</RESULT><ERROR><CODE>410110</CODE><MESSAGE>REQUEST \(escaped) UNKNOWN, "
                   + "merchant \(merchant), card \(card)</MESSAGE></ERROR></RESPONSE></XML>", contentType: "text/xml")
    }
}

@Suite("processor answers are masked")
struct ProcessorMaskingTests {
    func expectClean(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in EchoingProcessor.forbidden {
            #expect(!text.contains(secret), "\(what) shows '\(secret)': \(text)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: ["EC-ECHO", "EC-ECHO-DECODED", "EC-GARBAGE"])
    func anErrorAnswerEchoingTheRequestNeverPrintsTheCredentials(token: String) throws {
        let p = try EchoingProcessor()
        let dir = try TemporaryDirectory()
        // At debug level the requests are logged too.
        let r = try FundqProcess.run(["processor", "paypal", "status", token, "--data-dir", dir.path],
                                     environment: p.environment.merging(["FUNDQ_LOG_LEVEL": "debug"]) { $1 })
        #expect(r.status == 1, "\(r.stdout)")
        #expect(r.stderr.contains("request"), "the request was logged: \(r.stderr)")
        #expect(r.stderr.contains("paypal GetExpressCheckoutDetails for \(token)"), "\(r.stderr)")
        expectClean(r.stderr + r.stdout, "processor status \(token)")
    }

    @Test func statusMasksCredentialsInsideFieldsCardNumbersAndEmails() throws {
        let p = try EchoingProcessor()
        let dir = try TemporaryDirectory()
        for json in [true, false] {
            let r = try FundqProcess.run(["processor", "paypal", "status", "EC-NOTE", "--data-dir", dir.path] + (json ? ["--json"] : []),
                                         environment: p.environment)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("complete"))
            #expect(r.stdout.contains("CHECKOUTSTATUS=PaymentActionCompleted"))
            expectClean(r.stdout + r.stderr, "processor status EC-NOTE")
        }
    }

    @Test func checkAndGlobalCollectErrorsAreMaskedToo() throws {
        let p = try EchoingProcessor()
        let dir = try TemporaryDirectory()
        let check = try FundqProcess.run(["processor", "paypal", "check", "--data-dir", dir.path], environment: p.environment)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("error 10410"))
        expectClean(check.stdout + check.stderr, "processor check")
        let gc = try FundqProcess.run(["processor", "globalcollect", "status", "12345", "--data-dir", dir.path], environment: p.environment)
        #expect(gc.status == 1)
        #expect(gc.stderr.contains("error 410110"), "\(gc.stderr)")
        expectClean(gc.stdout + gc.stderr, "globalcollect status")
    }

    @Test func theRectifiersDecisionLogIsMasked() throws {
        let p = try EchoingProcessor()
        let db = try DatabaseFixture(.sqlite)
        let storage = try Storage(db.configuration)
        let date = Int(Date().timeIntervalSince1970) - 3600
        for token in ["EC-NOTE", "EC-ECHO"] {
            try PendingStore(connection: storage.database).store(try PendingMessage(members: try JSONParser().parse(
                #"{"gateway":"paypal","order_id":"\#(token)","gateway_session_id":"\#(token)","date":\#(date),"#
                    + #""gross":"10.00","currency":"EUR"}"#
            ).objectValue!))
        }
        var env = p.environment
        env["FUNDQ_DATA_DIR"] = db.directory.path
        let run = try FundqProcess.run(["rectify", "--processor", "paypal"], environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        expectClean(run.stdout + run.stderr, "rectify")
        let log = try FundqProcess.run(["rectify", "log", "--json"], environment: env)
        guard case .array(let decisions) = try JSONParser().parse(log.stdout) else { Issue.record("log printed \(log.stdout)"); return }
        #expect(decisions.count == 2)
        #expect(log.stdout.contains("credentials refused (10002)"), "\(log.stdout)")
        #expect(log.stdout.contains("NOTE=***"), "the raw answer is logged, masked: \(log.stdout)")
        expectClean(log.stdout, "rectify log (evidence and raw answer as stored)")
    }

    @Test func adaptersMaskWhatTheyReturnThrowAndPreview() throws {
        let p = try EchoingProcessor()
        let paypal = try Processors.make("paypal", directory: RepositoryPaths.processors, environment: p.environment)
        let status = try paypal.status(of: pendingRecord(gateway: "paypal", orderID: "o1", token: "EC-NOTE"))
        #expect(status.status == .complete)
        expectClean(status.raw, "raw answer")
        expectClean(status.evidence, "evidence")
        #expect(status.raw.contains("NOTE=***"), "the donor's free-text note is masked whole: \(status.raw)")
        #expect(status.raw.contains("PAYMENTREQUEST_0_DESC=paid with ****4444"), "\(status.raw)")
        #expect(status.raw.contains("PAYMENTREQUEST_0_CUSTOM=ref-***-x"), "\(status.raw)")
        do {
            _ = try paypal.status(of: pendingRecord(gateway: "paypal", orderID: "o2", token: "EC-ECHO"))
            Issue.record("an error answer was taken as a status")
        } catch let error as ProcessorError {
            expectClean(error.description, "error")
            #expect(error.description.contains("credentials refused (10002)"))
        }
        let preview = try paypal.preview(.status, for: pendingRecord(gateway: "paypal", orderID: "o3", token: "EC-NOTE"), current: nil)
        expectClean(preview, "preview")
    }
}
