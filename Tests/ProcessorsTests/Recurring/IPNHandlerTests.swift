import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// What PayPal's notification handler answers, against the sandbox's
/// verification endpoint, when storing fails and when a notification is
/// for another receiver: the answers PayPal's resending depends on.
@Suite("PayPal IPN handler")
struct IPNHandlerTests {
    /// The handler's calls on its store; `failing` makes each throw.
    final class Recorder {
        var pushed: [String] = []
        var kept: [String] = []
        let failing: Bool

        init(failing: Bool = false) { self.failing = failing }

        struct Down: Error, CustomStringConvertible {
            var description: String { "queue down" }
        }

        var store: NotificationStore {
            NotificationStore(push: { queue, _ in
                if self.failing { throw Down() }
                self.pushed.append(queue)
            }, keep: { _, reason in
                if self.failing { throw Down() }
                self.kept.append(reason)
            })
        }
    }

    @Test func aVerifiedNotificationThatCannotBeStoredIsAnswered500() throws {
        let f = try SandboxFixture()
        let endpoint = f.sandbox.baseURL + "/cgi-bin/webscr"
        let client = try HTTPClient()
        let down = Recorder(failing: true)
        let payment = f.sandbox.issueIPN([("txn_type", "web_accept"), ("txn_id", "T-H1"), ("mc_gross", "5.00"),
                                          ("mc_currency", "EUR"), ("payment_status", "Completed")])
        let pushFailed = PayPalIPN.handle(payment, verifyEndpoint: endpoint, client: client, store: down.store)
        #expect(pushFailed == NotificationReply(status: 500, text: "could not store\n", outcome: .storeFailed("queue down"),
                                                logLine: "IPN verified but not stored, answered 500 so PayPal resends: queue down"))
        let odd = f.sandbox.issueIPN([("txn_type", "mass_pay"), ("txn_id", "T-H2")])
        let keepFailed = PayPalIPN.handle(odd, verifyEndpoint: endpoint, client: client, store: down.store)
        #expect(keepFailed.status == 500 && keepFailed.outcome == .storeFailed("queue down"))
    }

    @Test func anotherReceiversNotificationIsKeptNotBookedAndAForgedOneIsRefused() throws {
        let f = try SandboxFixture()
        let endpoint = f.sandbox.baseURL + "/cgi-bin/webscr"
        let client = try HTTPClient()
        let store = Recorder()
        let payment = f.sandbox.issueIPN([("txn_type", "web_accept"), ("txn_id", "T-H3"), ("mc_gross", "5.00"),
                                          ("mc_currency", "EUR"), ("payment_status", "Completed"),
                                          ("receiver_email", "gifts@example.org")])
        let other = PayPalIPN.handle(payment, verifyEndpoint: endpoint, receiverEmail: "donations@example.org", client: client,
                                     store: store.store)
        #expect(other.status == 200 && other.text == "OK\n" && other.outcome == .keptAsDamaged)
        #expect(store.kept == ["IPN for another receiver (gifts@example.org)"] && store.pushed.isEmpty)
        let ours = PayPalIPN.handle(payment, verifyEndpoint: endpoint, receiverEmail: "GIFTS@example.org", client: client,
                                    store: store.store)
        #expect(ours.status == 200 && ours.outcome == .pushed("donations") && store.pushed == ["donations"])
        let forged = PayPalIPN.handle(Array("txn_type=web_accept&txn_id=FAKE&mc_gross=900.00".utf8), verifyEndpoint: endpoint,
                                      client: client, store: store.store)
        #expect(forged.status == 403 && forged.text == "INVALID\n" && forged.outcome == .invalid)
        #expect(store.pushed == ["donations"] && store.kept.count == 1, "nothing stored for a forged notification")
    }
}
