import Core
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// Ingenico Connect's own wire facts: the request signature, the status
/// table, the approve in minor units. (Its statuses, errors, captures and
/// orphans are covered by the shared conformance and rectifier suites.)
@Suite("Ingenico Connect wire")
struct IngenicoConnectWireTests {
    /// Expected values computed independently with Python's hmac module:
    /// base64(hmac.new(key, msg, hashlib.sha256).digest()).
    @Test func theSignatureIsBase64HMACSHA256OfMethodTypeDateAndPath() {
        let secret = "secret-api-key-0123456789", date = "Fri, 06 Jun 2014 13:39:43 GMT"
        let path = "/v1/9991/payments/000000999100000012340000100001"
        #expect(IngenicoConnect.signature(method: "GET", contentType: "", date: date, path: path, secret: secret)
                == "W3h8HjioDJiHNlrjQSFhPZGWSeJtU2GzPdWHw50VABo=")
        #expect(IngenicoConnect.authorization(method: "POST", contentType: "application/json", date: date, path: path + "/approve",
                                              keyID: "key-1", secret: secret)
                == "GCS v1HMAC:key-1:AvPFUtQsOrqAjEbNw1kfLe1KkEEfWjDqxxs03tNFhqs=")
        #expect(HTTPDate.text(Date(timeIntervalSince1970: 1_402_061_983)) == date)
    }

    @Test func statusesFollowTheDocumentedTable() {
        let table: [String: NormalizedStatus] = [
            "CAPTURED": .complete, "PAID": .complete, "ACCOUNT_VERIFIED": .complete, "PENDING_APPROVAL": .pendingPoke,
            "PENDING_CAPTURE": .pending, "CAPTURE_REQUESTED": .pending, "AUTHORIZATION_REQUESTED": .pending,
            "PENDING_FRAUD_APPROVAL": .pending, "PENDING_PAYMENT": .pending, "CREATED": .pending, "REDIRECTED": .pending,
            "CANCELLED": .cancelled, "REJECTED": .failed, "REJECTED_CAPTURE": .failed, "REFUNDED": .refunded,
            "CHARGEBACKED": .reversed, "REVERSED": .reversed, "captured": .unknown, "": .unknown,
        ]
        for (status, normalized) in table { #expect(IngenicoConnect.normalized(status: status) == normalized, "\(status)") }
        for status in ["CREATED", "REDIRECTED"] {
            let answer = ProcessorStatus(status: .pending, evidence: "e", raw: "", details: ["status": status])
            let orphan = IngenicoConnect.orphanStatus(answer)
            #expect(orphan.status == .timeout)
        }
        let waiting = ProcessorStatus(status: .pending, evidence: "e", raw: "", details: ["status": "PENDING_CAPTURE"])
        #expect(IngenicoConnect.orphanStatus(waiting).status == .pending)
    }

    @Test func amountsGoInMinorUnitsAndARoundedOneIsRefused() throws {
        #expect(IngenicoConnect.minorUnits(DonationAmount("10.5")!, currency: "EUR") == 1050)
        #expect(IngenicoConnect.minorUnits(DonationAmount("1000")!, currency: "JPY") == 1000)
        #expect(IngenicoConnect.minorUnits(DonationAmount("1.234")!, currency: "KWD") == 1234)
        #expect(IngenicoConnect.minorUnits(DonationAmount("10.125")!, currency: "EUR") == nil)
        #expect(IngenicoConnect.minorUnits(DonationAmount("10.5")!, currency: "JPY") == nil)
        let f = try SandboxFixture()
        try f.sandbox.script("ingenicoconnect", id: "P-1", outcome: .pendingPoke, amount: "12.50", currency: "EUR")
        let adapter = try f.processor("ingenicoconnect")
        let row = pendingRecord(processor: "ingenicoconnect", id: "P-1", gross: "12.50")
        let approved = try adapter.status(of: row)
        let preview = try adapter.preview(.finish, for: row, current: approved)
        #expect(preview.hasPrefix("POST \(f.sandbox.baseURL)/v1/9991/payments/P-1/approve\n"))
        #expect(preview.hasSuffix(#"{"amount":1250}"#))
        #expect(preview.contains("Authorization: GCS v1HMAC:***:***"), "key id and signature masked: \(preview)")
        // Our record says another amount than Ingenico authorized: nothing is sent, a person looks.
        let other = pendingRecord(processor: "ingenicoconnect", id: "P-1", gross: "15.00")
        #expect(throws: ProcessorError.self) { try adapter.finish(other, current: approved) }
        #expect(f.sandbox.captures.isEmpty)
    }
}
