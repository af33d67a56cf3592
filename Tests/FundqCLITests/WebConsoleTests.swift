import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// `fundq web`: refused without its token or on a non-loopback address,
/// actions refused without a session, a CSRF token or from another origin,
/// and a bulk requeue clicked through in headless Chromium landing in the
/// database and the audit log.
@Suite("fundq web console")
struct WebConsoleTests {
    static let token = "console-token-\(UUID().uuidString)"

    final class Console {
        let fixture: DatabaseFixture
        let port: Int
        let process: SpawnedProcess
        var url: String { "http://127.0.0.1:\(port)" }

        init(_ fixture: DatabaseFixture) throws {
            self.fixture = fixture
            port = try FreePort.find()
            process = try FundqProcess.spawn(["web", "--listen", "127.0.0.1:\(port)"] + fixture.flags,
                                             environment: ["FUNDQ_WEB_TOKEN": WebConsoleTests.token], outputIn: fixture.directory)
            _ = eventually { WebConsoleTests.request(port, "GET /login HTTP/1.1\r\nHost: x\r\n\r\n")?.status == 200 }
        }

        deinit {
            process.send(SIGTERM)
            _ = process.wait()
        }
    }

    static func request(_ port: Int, _ text: String) -> RawHTTPConnection.Answer? {
        guard let c = try? RawHTTPConnection(port: port), (try? c.send(text)) != nil else { return nil }
        return c.answer(timeout: 20)
    }

    static func post(_ port: Int, _ path: String, _ body: String, cookie: String? = nil,
                     origin: String? = nil) -> RawHTTPConnection.Answer? {
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        if let cookie { head += "Cookie: \(cookie)\r\n" }
        if let origin { head += "Origin: \(origin)\r\n" }
        return request(port, head + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body)
    }

    /// Signs in as `actor`; returns the session cookie (`fundq_session=…`).
    static func signIn(_ port: Int, as actor: String = "tester") throws -> String {
        let signIn = try #require(Self.post(port, "/login", "actor=\(actor)&token=\(Self.token)"))
        #expect(signIn.status == 303)
        let setCookie = try #require(signIn.head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") })
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        return String(setCookie.dropFirst("set-cookie:".count).split(separator: ";")[0]).trimmingCharacters(in: .whitespaces)
    }

    static func get(_ port: Int, _ path: String, cookie: String) -> RawHTTPConnection.Answer? {
        request(port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nCookie: \(cookie)\r\nConnection: close\r\n\r\n")
    }

    static func csrf(in page: String) throws -> String {
        try #require(page.range(of: #"name="csrf" value=""#).map { String(page[$0.upperBound...].prefix(64)) })
    }

    static func seed(_ f: DatabaseFixture) throws -> Storage {
        let stores = try Storage(f.configuration)
        for n in 1...6 {
            let error = n <= 4 ? "CRM down: timeout talking to crm for donor\(n)@example.org" : "bad date"
            _ = try stores.damaged.insert(DamagedMessage(
                originalDate: Date(), damagedDate: Date(), retryDate: nil, originalQueue: "donations", gateway: "paypal", orderID: "w\(n)",
                gatewayTxnID: nil, error: error, trace: nil, message: Array(#"{"n":\#(n),"email":"donor\#(n)@example.org"}"#.utf8)))
        }
        return stores
    }

    @Test func startIsRefusedWithoutATokenOrOnANonLoopbackAddress() throws {
        let f = try DatabaseFixture(.sqlite)
        let open = try FundqProcess.run(["web", "--listen", "0.0.0.0:8090"] + f.flags, environment: ["FUNDQ_WEB_TOKEN": Self.token])
        #expect(open.status == 2 && open.stderr.contains("not a loopback address"))
        let noToken = try FundqProcess.run(["web", "--listen", "127.0.0.1:\(try FreePort.find())"] + f.flags)
        #expect(noToken.status == 1 && noToken.stderr.contains("FUNDQ_WEB_TOKEN"))
    }

    @Test func actionsWithoutTheTokenACSRFTokenOrFromAnotherSiteAreRefused() throws {
        let f = try DatabaseFixture(.sqlite)
        let stores = try Self.seed(f)
        let console = try Console(f)
        let port = console.port
        let bulk = "queue=donations&error=crm&action=delete&reason=test"
        #expect(Self.request(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")?.head.lowercased().contains("location: /login") == true)
        #expect(Self.post(port, "/damaged/bulk", bulk)?.status == 403, "no session")
        #expect(Self.post(port, "/login", "actor=eve&token=wrong-token-0123456789")?.status == 403)
        let cookie = try Self.signIn(port)
        let page = try #require(Self.get(port, "/damaged?queue=donations&error=crm", cookie: cookie))
        #expect(page.body.contains("4 damaged messages from queue donations match"))
        #expect(!page.body.contains("donor1@example.org"), "errors are masked")
        let csrf = try Self.csrf(in: page.body)
        #expect(Self.post(port, "/damaged/bulk", bulk, cookie: cookie)?.status == 403, "no CSRF token")
        #expect(Self.post(port, "/damaged/bulk", bulk + "&csrf=\(String(repeating: "0", count: 64))", cookie: cookie)?.status == 403)
        #expect(Self.post(port, "/damaged/bulk", bulk + "&csrf=\(csrf)", cookie: cookie, origin: "http://evil.example")?.status == 403,
                "a cross-site form post")
        #expect(try stores.damaged.count(queue: "donations") == 6)
        #expect(try AuditLog(connection: stores.database).list().isEmpty)
        // The same post from the console's own page goes through.
        let done = try #require(Self.post(port, "/damaged/bulk", bulk + "&csrf=\(csrf)", cookie: cookie,
                                          origin: "http://127.0.0.1:\(port)"))
        #expect(done.status == 303 && done.head.contains("notice=4"), "\(done.head)")
        #expect(try stores.damaged.count(queue: "donations") == 2)
        #expect(try AuditLog(connection: stores.database).list().map(\.actor) == Array(repeating: "web:tester", count: 4))
    }

    @Test func aRowNeedingReviewIsShownMaskedWithItsReasonAndResolvedWithAReason() throws {
        let f = try DatabaseFixture(.sqlite)
        let stores = try Storage(f.configuration)
        let pending = PendingStore(connection: stores.database)
        _ = try pending.store(try PendingMessage(members: try #require(try JSONParser().parse(
            #"{"gateway":"paypal","order_id":"r1","date":1700000000,"email":"reviewed@example.org"}"#).objectValue)))
        let row = try #require(try pending.fetch(gateway: "paypal", orderID: "r1"))
        #expect(try pending.markNeedsReview(id: row.id, reason: "captured twice at the processor?"))
        let console = try Console(f)
        let port = console.port
        let cookie = try Self.signIn(port, as: "reviewer")
        let list = try #require(Self.get(port, "/pending", cookie: cookie))
        #expect(list.body.contains("captured twice at the processor?") && list.body.contains("/pending/\(row.id)"))
        let page = try #require(Self.get(port, "/pending/\(row.id)", cookie: cookie))
        #expect(page.status == 200 && !page.body.contains("reviewed@example.org"), "the message is masked")
        let csrf = try Self.csrf(in: page.body)
        // Without a reason nothing changes.
        let refused = try #require(Self.post(port, "/pending/\(row.id)/resolve", "as=failed&reason=&csrf=\(csrf)", cookie: cookie))
        #expect(refused.status == 303 && refused.head.contains("not%20done"))
        #expect(try pending.fetch(id: row.id)?.resolution == nil)
        let done = try #require(Self.post(port, "/pending/\(row.id)/resolve", "as=failed&reason=processor%20says%20refunded&csrf=\(csrf)",
                                          cookie: cookie, origin: "http://127.0.0.1:\(port)"))
        #expect(done.status == 303)
        #expect(try pending.fetch(id: row.id)?.resolution == .failed)
        let audit = try AuditLog(connection: stores.database).list()
        #expect(audit.count == 1 && audit.first?.actor == "web:reviewer" && audit.first?.action == "pending-resolve")
        #expect(audit.first?.reason == "processor says refunded" && audit.first?.detail == "as failed")
    }

    @Test func aBulkRequeueClickedInChromiumLandsInTheQueueAndTheAuditLog() throws {
        let f = try DatabaseFixture(.sqlite)
        let stores = try Self.seed(f)
        let console = try Console(f)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        var arguments = [RepositoryPaths.root + "/Tests/browser/console_bulk_requeue.py", "--url", console.url, "--token", Self.token,
                         "--queue", "donations", "--error", "CRM down", "--reason", "CRM is back after the outage"]
        if let shots = ProcessInfo.processInfo.environment["FUNDQ_SCREENSHOTS_DIR"] { arguments += ["--screenshots", shots] }
        p.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaints = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(complaints)")
        let seen = try #require(try JSONParser().parse(Array(printed.utf8)).objectValue, "\(printed)")
        #expect(seen["first_page"] == .string("fundq · Sign in"))
        #expect(seen["after_sign_in"] == .string("fundq · Status"))
        #expect(seen["queues_table"]?.scalarText?.contains("donations") == true)
        #expect(seen["matched"] == .string("4 damaged messages from queue donations match this filter."))
        #expect(seen["listed"] == .number("4"))
        #expect(seen["message_text"]?.scalarText?.contains("example.org") == false, "the message is shown masked")
        #expect(seen["notice"] == .string("4 damaged messages from queue donations: requeued"))
        #expect(seen["audit_rows"] == .number("4"))
        // What the clicks did, read from the stores.
        #expect(try stores.queue.stats("donations").waiting == 4)
        #expect(try stores.damaged.count(queue: "donations") == 2)
        let audit = try AuditLog(connection: stores.database).list()
        #expect(audit.count == 4 && audit.allSatisfy {
            $0.actor == "web:browser-test" && $0.action == "damaged-requeue" && $0.reason == "CRM is back after the outage"
        })
    }
}
