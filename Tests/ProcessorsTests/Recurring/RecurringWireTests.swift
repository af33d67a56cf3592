import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// PayPal recurring profiles' own wire facts
/// (docs/processors/paypal-recurring.md): one profile per checkout, checked
/// before creating, and the profile status table. Its notifications (IPNs)
/// are tested in IPNTests.
@Suite("PayPal recurring wire")
struct RecurringWireTests {
    @Test func recurringCreatesOneProfilePerCheckoutAndChecksBeforeCreating() throws {
        let f = try SandboxFixture()
        try f.sandbox.script("paypal-recurring", id: "EC-R", outcome: .pendingPoke, amount: "5.00", currency: "EUR")
        let recurring = try f.processor("paypal-recurring")
        var r = pendingRecord(gateway: "paypal-recurring", orderID: "r1", token: "EC-R", gross: "5")
        let approved = try recurring.status(of: r)
        #expect(approved.status == .pendingPoke)
        #expect(try recurring.preview(.createRecurringProfile, for: r, current: approved).contains("METHOD=CreateRecurringPaymentsProfile"))
        let created = try recurring.finish(r, current: approved)
        #expect(created.status == .complete)
        let profile = try #require(created.details["PROFILEID"])
        #expect(f.sandbox.profiles(forToken: "EC-R") == [profile])
        // The row now names its profile: status asks about the profile, and
        // finishing again checks it instead of creating a second one.
        r.message["subscr_id"] = .string(profile)
        #expect(try recurring.status(of: r).evidence == "profile \(profile) STATUS=Active")
        let again = try recurring.finish(r, current: approved)
        #expect(again.status == .complete)
        #expect(again.evidence.hasPrefix("profile \(profile) already exists (not created again)"))
        #expect(f.sandbox.profiles(forToken: "EC-R").count == 1)
        let cancelled = try recurring.cancel(r)
        #expect(cancelled.status == .cancelled)
        #expect(f.sandbox.captures.map(\.action) == ["CreateRecurringPaymentsProfile"])
    }

    @Test func profileStatusesFollowTheDocumentedTable() {
        for (text, status) in ["Active": NormalizedStatus.complete, "ActiveProfile": .complete,
                               "Pending": .pending, "PendingProfile": .pending,
                               "Cancelled": .cancelled, "Suspended": .onHold, "Expired": .timeout, "Other": .unknown] {
            #expect(PayPalRecurring.normalized(profileStatus: text) == status, "\(text)")
        }
    }
}
