import Backends
import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

@Suite("PayPal IPN")
struct IPNTests {
    @Test(arguments: [
        ("recurring_payment", "subscr_payment", "recurring"), ("recurring_payment_profile_created", "subscr_signup", "recurring"),
        ("recurring_payment_profile_cancel", "subscr_cancel", "recurring"), ("recurring_payment_failed", "subscr_failed", "recurring"),
        ("recurring_payment_skipped", "subscr_failed", "recurring"), ("recurring_payment_suspended", "subscr_failed", "recurring"),
        ("recurring_payment_expired", "subscr_eot", "recurring"), ("subscr_payment", "subscr_payment", "recurring"),
        ("subscr_signup", "subscr_signup", "recurring"), ("web_accept", "web_accept", "donations"),
        ("express_checkout", "express_checkout", "donations"),
    ])
    func txnTypesMapToTheirNormalizedTypeAndQueue(txnType: String, expected: String, queue: String) throws {
        let n = try PayPalIPN.normalize(["txn_type": txnType, "payment_status": "Completed", "txn_id": "T1", "mc_gross": "5.00",
                                         "mc_fee": "0.45", "mc_currency": "EUR",
                                         "custom": "ct-9", "recurring_payment_id": "I-ABC", "payer_email": "d@example.org",
                                         "payment_date": "08:00:00 Nov 28, 2026 PST"])
        #expect(n.queue == queue)
        #expect(n.message["txn_type"] == .string(expected))
        #expect(n.message["gateway_txn_id"] == .string("T1"))
        #expect(n.message["gross"] == .string("5.00"))
        #expect(n.message["fee"] == .string("0.45"))
        #expect(n.message["contribution_tracking_id"] == .string("ct-9"))
        #expect(n.message["subscr_id"] == .string("I-ABC"))
        #expect(n.message["date"] == .number("1795881600"))
        if queue == "donations" { _ = try DonationMessage(members: n.message) }  // the sink will accept it
    }

    @Test func pendingAndRefusedOneOffPaymentsAreNotBookedAsDonationsAndWindows1252IsRead() throws {
        let pending = try PayPalIPN.normalize(["txn_type": "web_accept", "payment_status": "Pending", "txn_id": "P1", "mc_gross": "5",
                                               "mc_currency": "EUR"])
        #expect(pending.queue == "pending")
        #expect(throws: PayPalIPN.UnknownType.self) {
            try PayPalIPN.normalize(["txn_type": "web_accept", "payment_status": "Denied", "txn_id": "D1"])
        }
        let fields = try #require(NVP.decode("txn_type=web_accept&first_name=Jos%E9&payment_status=Completed"))
        #expect(fields["first_name"] == "José")
        let n = try PayPalIPN.normalize(["txn_type": "recurring_payment", "custom": "ct-custom", "rp_invoice_id": "ct-rp", "amount": "1",
                                         "mc_gross": "5.00"])
        #expect(n.message["contribution_tracking_id"] == .string("ct-custom"))
        #expect(n.message["gross"] == .string("5.00"))
    }

    @Test func refundsAndReversalsGoToTheRefundQueueAndUnknownTypesAreRefused() throws {
        let refund = try PayPalIPN.normalize(["txn_type": "web_accept", "payment_status": "Refunded", "txn_id": "R1", "parent_txn_id": "T1",
                                              "mc_gross": "-5.00", "mc_currency": "EUR"])
        #expect(refund.queue == "refund")
        #expect(refund.message["gross"] == .string("5.00"))
        #expect(refund.message["gateway_parent_id"] == .string("T1"))
        #expect(try PayPalIPN.normalize(["txn_type": "adjustment", "txn_id": "A1"]).queue == "refund")
        #expect(throws: PayPalIPN.UnknownType.self) { try PayPalIPN.normalize(["txn_type": "mass_pay"]) }
    }

    @Test func theListenerVerifiesPushesAndAnswersSoThatPayPalResendsWhatIsNotSafe() throws {
        let started = try NotificationListener.start(processor: "paypal-recurring")
        let (f, dir, listener, url) = (started.fixture, started.directory, started.process, started.url)
        let client = try HTTPClient()
        #expect(eventually { (try? client.send(HTTPRequest(method: "GET", url: url)))?.status == 405 })
        func post(_ body: [UInt8]) throws -> Int { try client.send(HTTPRequest(url: url, body: body)).status }

        let payment = f.sandbox.issueIPN([("txn_type", "recurring_payment"), ("txn_id", "T-1"), ("mc_gross", "5.00"),
                                          ("mc_currency", "EUR"),
                                          ("recurring_payment_id", "I-1"), ("rp_invoice_id", "ct-1"), ("payer_email", "d@example.org")])
        #expect(try post(payment) == 200)
        let oneOff = f.sandbox.issueIPN([("txn_type", "express_checkout"), ("txn_id", "T-2"), ("mc_gross", "9.99"), ("mc_currency", "USD"),
                                         ("payment_status", "Completed")])
        #expect(try post(oneOff) == 200)
        let odd = f.sandbox.issueIPN([("txn_type", "mass_pay"), ("txn_id", "T-3")])
        #expect(try post(odd) == 200, "kept, so PayPal need not resend")
        let forged = Array("txn_type=recurring_payment&txn_id=FAKE&mc_gross=1000.00&mc_currency=EUR".utf8)
        #expect(try post(forged) == 403)

        listener.send(SIGTERM)
        let r = listener.wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("d@example.org"), "donor data never reaches the log")

        let s = try Storage(StorageConfiguration(dataDirectory: dir.path, environment: [:]))
        let recurring = try #require(try s.queue.peek("recurring"))
        let message = try MessageValidator().validate(recurring)
        #expect(message["txn_type"] == .string("subscr_payment"))
        #expect(message["contribution_tracking_id"] == .string("ct-1"))
        #expect(message["source_name"] == .string("fundq-ipn"))
        #expect(try s.queue.stats("recurring").waiting == 1)
        #expect(try s.queue.stats("donations").waiting == 1)
        #expect(try s.damaged.list(queue: "ipn", limit: 10).map(\.error) == ["IPN with unknown txn_type 'mass_pay'"])
        #expect(try s.queue.queueNames().sorted() == ["donations", "recurring"])
    }

    @Test func whenPayPalCannotBeAskedTheListenerAnswers403AndStoresNothing() throws {
        let verifyEndpoint = "http://127.0.0.1:\(try FreePort.find())/cgi-bin/webscr"
        let started = try NotificationListener.start(processor: "paypal-recurring",
                                                     settings: ["FUNDQ_PAYPAL_RECURRING_SETTINGS_IPN_VERIFY_ENDPOINT": verifyEndpoint])
        let (f, dir, listener, url) = (started.fixture, started.directory, started.process, started.url)
        let client = try HTTPClient()
        #expect(eventually { (try? client.send(HTTPRequest(method: "GET", url: url)))?.status == 405 })
        let body = f.sandbox.issueIPN([("txn_type", "recurring_payment"), ("txn_id", "T-9"), ("mc_gross", "5.00"), ("mc_currency", "EUR")])
        #expect(try client.send(HTTPRequest(url: url, body: body)).status == 403)
        listener.send(SIGTERM)
        let r = listener.wait()
        #expect(r.stderr.contains("IPN not verified, answered 403 so PayPal resends"))
        let s = try Storage(StorageConfiguration(dataDirectory: dir.path, environment: [:]))
        #expect(try s.queue.queueNames().isEmpty)
    }
}
