import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

func members(_ json: String) throws -> [String: JSONValue] {
    try #require(try JSONParser().parse(json).objectValue)
}

func pendingMessage(_ json: String) throws -> PendingMessage {
    try PendingMessage(members: try members(json))
}

/// The pending database contract, on the embedded file and on a real mariadbd.
@Suite("Pending store")
struct PendingStoreTests {
    @Test(arguments: DatabaseKind.allCases)
    func storeInsertsThenMergesWithoutBlankingAndRedeliveryChangesNothing(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = PendingStore(connection: try f.openDatabase())
        let first = #"{"gateway":"paypal","order_id":"o1","date":1700000000,"email":"zoë@example.org","#
            + #""gateway_session_id":"EC-1","gross":"5.00"}"#
        #expect(try store.store(pendingMessage(first)) == .inserted)
        #expect(try store.store(pendingMessage(first)) == .unchanged)
        // Later fields win; empty ones never blank what is set.
        let later = #"{"gateway":"paypal","order_id":"o1","date":1700000000,"email":"","gateway_txn_id":"T1","gross":"7.50","#
            + #""payment_method":"paypal"}"#
        #expect(try store.store(pendingMessage(later)) == .merged)
        #expect(try store.store(pendingMessage(later)) == .unchanged)
        let row = try #require(try store.fetch(gateway: "paypal", orderID: "o1"))
        #expect(row.message["email"] == .string("zoë@example.org"))
        #expect(row.message["gross"] == .string("7.50"))
        #expect(row.gatewayTxnID == "T1")
        #expect(row.gatewaySessionID == "EC-1")
        #expect(row.paymentMethod == "paypal")
        #expect(row.date == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(row.resolution == nil && row.attempts == 0)
        #expect(try store.fetch(gateway: "paypal", gatewayTxnID: "T1").map(\.id) == [row.id])
        #expect(try store.list(limit: 10).count == 1)
    }

    @Test(arguments: DatabaseKind.allCases)
    func rowsWithOnlyATransactionIDMergeOnIt(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = PendingStore(connection: try f.openDatabase())
        #expect(try store.store(pendingMessage(#"{"gateway":"gc","gateway_txn_id":"X9","date":1700000000}"#)) == .inserted)
        #expect(try store.store(pendingMessage(#"{"gateway":"gc","gateway_txn_id":"X9","date":1700000000,"currency":"EUR"}"#)) == .merged)
        #expect(try store.fetch(gateway: "gc", gatewayTxnID: "X9").count == 1)
    }

    @Test func pendingMessagesNeedGatewayDateAndAnID() throws {
        func reason(_ json: String) throws -> String {
            do { _ = try pendingMessage(json); return "accepted" } catch let e as DonationFieldError { return e.description }
        }
        #expect(try reason(#"{"date":1,"order_id":"o"}"#) == "field 'gateway': is missing")
        #expect(try reason(#"{"gateway":"g","order_id":"o"}"#) == "field 'date': is missing")
        #expect(try reason(#"{"gateway":"g","date":"soon","order_id":"o"}"#)
            == "field 'date': must be unix seconds as a decimal number (got \"soon\")")
        #expect(try reason(#"{"gateway":"g","date":1,"order_id":"o"}"#)
            == "field 'date': must be unix seconds between 2000-01-01 and one day from now (got 1)")
        #expect(try reason(#"{"gateway":"g","date":1764000000}"#).hasPrefix("field 'order_id': is missing, and so is gateway_txn_id"))
        #expect(try reason(#"{"gateway":"g","date":1764000000,"order_id":"\#(String(repeating: "9", count: 256))"}"#)
            == "field 'order_id': is 256 characters long, over the limit of 255")
        // Lengths count code points, as VARCHAR(255) does: 200 "é" in decomposed form are 400.
        #expect(try reason(#"{"gateway":"g","date":1764000000,"order_id":"\#(String(repeating: "e\u{301}", count: 200))"}"#)
            == "field 'order_id': is 400 characters long, over the limit of 255")
        #expect(try reason(#"{"gateway":"g","date":1764000000,"order_id":{"x":1}}"#)
            == "field 'order_id': must be a string or a number, not a JSON object")
    }

    @Test(arguments: DatabaseKind.allCases)
    func dueRowsRespectWindowsScheduleClaimsAndCursor(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = PendingStore(connection: try f.openDatabase())
        let now = Date()
        for (order, minutesAgo) in [("fresh", 5), ("a", 30), ("b", 40), ("c", 50), ("ancient", 60 * 24 * 40)] {
            let date = Int(now.timeIntervalSince1970) - minutesAgo * 60
            try store.store(pendingMessage(#"{"gateway":"paypal","order_id":"\#(order)","date":\#(date)}"#))
        }
        try store.store(pendingMessage(#"{"gateway":"other","order_id":"z","date":\#(Int(now.timeIntervalSince1970) - 1800)}"#))
        func due(after cursor: (Date, Int64)? = nil, limit: Int = 10) throws -> [String] {
            try store.due(gateway: "paypal", olderThan: now.addingTimeInterval(-20 * 60), newerThan: now.addingTimeInterval(-30 * 86400),
                          now: now, after: cursor.map { (date: $0.0, id: $0.1) }, limit: limit).compactMap(\.orderID)
        }
        #expect(try due() == ["c", "b", "a"])
        let firstPage = try store.due(gateway: "paypal", olderThan: now.addingTimeInterval(-1200),
                                      newerThan: now.addingTimeInterval(-30 * 86400), now: now, limit: 2)
        #expect(firstPage.compactMap(\.orderID) == ["c", "b"])
        #expect(try due(after: (firstPage[1].date, firstPage[1].id)) == ["a"])

        // Scheduled for later: not due. Claimed by someone: not due.
        let b = try #require(try store.fetch(gateway: "paypal", orderID: "b"))
        try store.recordAttempt(id: b.id, at: now, nextAttempt: now.addingTimeInterval(600))
        let c = try #require(try store.fetch(gateway: "paypal", orderID: "c"))
        #expect(try store.claim(id: c.id, worker: "r1", lease: .seconds(60), now: now))
        #expect(try due() == ["a"])
        let bAfter = try #require(try store.fetch(gateway: "paypal", orderID: "b"))
        #expect(bAfter.attempts == 1 && bAfter.lastAttemptDate != nil && bAfter.nextAttemptDate != nil)
    }

    @Test(arguments: DatabaseKind.allCases)
    func exactlyOneOfManyConcurrentClaimersWinsARow(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = PendingStore(connection: try f.openDatabase())
        for i in 0..<50 { try store.store(pendingMessage(#"{"gateway":"g","order_id":"o\#(i)","date":1700000000}"#)) }
        let ids = try store.list(limit: 100).map(\.id)
        let log = DeliveryLog()
        let configuration = f.configuration
        try runOnThreads(4) { worker, _ in
            let mine = PendingStore(connection: try Storage.openDatabase(configuration))
            for id in ids where try mine.claim(id: id, worker: "w\(worker)", lease: .seconds(60)) {
                log.record(String(id))
            }
        }
        #expect(log.counts.count == 50)
        #expect(log.counts.values.allSatisfy { $0 == 1 })
        // An expired claim can be taken over; a resolved row cannot be claimed.
        #expect(try store.claim(id: ids[0], worker: "late", lease: .seconds(60), now: Date().addingTimeInterval(120)))
        try store.resolve(id: ids[1], as: .failed)
        #expect(try !store.claim(id: ids[1], worker: "late", lease: .seconds(60), now: Date().addingTimeInterval(120)))
    }

    @Test(arguments: DatabaseKind.allCases)
    func resolveExpirePurgeAndDelete(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = PendingStore(connection: try f.openDatabase())
        let now = Date()
        let old = Int(now.timeIntervalSince1970) - 20 * 86400
        try store.store(pendingMessage(#"{"gateway":"g","order_id":"old","date":\#(old)}"#))
        try store.store(pendingMessage(#"{"gateway":"h","order_id":"old-h","date":\#(old)}"#))
        try store.store(pendingMessage(#"{"gateway":"g","order_id":"new","date":\#(Int(now.timeIntervalSince1970))}"#))
        #expect(try store.expire(startedBefore: now.addingTimeInterval(-14 * 86400), gateway: "g") == 1)
        #expect(try store.fetch(gateway: "g", orderID: "old")?.resolution == .expired)
        #expect(try store.fetch(gateway: "h", orderID: "old-h")?.resolution == nil)
        #expect(try store.resolve(gateway: "g", orderID: "new", as: .completed))
        #expect(try !store.resolve(gateway: "g", orderID: "new", as: .failed))
        #expect(try store.list(limit: 10).compactMap(\.orderID) == ["old-h"])
        #expect(try store.list(includeResolved: true, limit: 10).count == 3)
        #expect(try store.purgeResolved(before: now.addingTimeInterval(-60)) == 0)
        #expect(try store.purgeResolved(before: now.addingTimeInterval(60)) == 2)
        #expect(try store.delete(gateway: "h", orderID: "old-h"))
        #expect(try !store.delete(gateway: "h", orderID: "old-h"))
        #expect(try store.list(includeResolved: true, limit: 10).isEmpty)
    }
}

@Suite("Donations store and validation")
struct DonationsStoreTests {
    func donation(_ txn: String, gross: String = "10.00", order: String? = nil) throws -> DonationMessage {
        let orderField = order.map { #","order_id":"\#($0)""# } ?? ""
        return try DonationMessage(members: try members(#"{"gateway":"paypal","gateway_txn_id":"\#(txn)","currency":"EUR","#
                                                        + #""gross":"\#(gross)","date":1700000000\#(orderField)}"#))
    }

    @Test(arguments: DatabaseKind.allCases)
    func eachTransactionIsStoredOnceEvenWithinOneBatch(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let db = try f.openDatabase()
        let store = DonationsStore(connection: db)
        let batch = try (0..<450).map { try donation("T\($0)") } + [try donation("T1"), try donation("T2")]
        #expect(try db.transaction { try store.insert(batch) } == 450)
        #expect(try store.insert([try donation("T3"), try donation("T999", order: "o9")]) == 1)
        #expect(try store.count() == 451)
        #expect(try store.exists(gateway: "paypal", orderID: "o9", gatewayTxnID: nil))
        #expect(try store.exists(gateway: "paypal", orderID: nil, gatewayTxnID: "T5"))
        #expect(try !store.exists(gateway: "globalcollect", orderID: nil, gatewayTxnID: "T5"))
        let amounts = try db.query("SELECT gross FROM donations WHERE gateway_txn_id = 'T7'", [])
        #expect(amounts.first?.first?.string == "10.0000")
    }

    @Test func donationsAreValidatedFieldByField() throws {
        func reason(_ json: String) throws -> String {
            do { _ = try DonationMessage(members: try members(json)); return "accepted" } catch { return "\(error)" }
        }
        let base = #""gateway":"paypal","gateway_txn_id":"T""#
        #expect(try reason(#"{\#(base),"currency":"EUR","gross":"0"}"#) == #"field 'gross': must be greater than 0 (got "0")"#)
        #expect(try reason(#"{\#(base),"currency":"EUR","gross":-5}"#) == #"field 'gross': must be greater than 0 (got "-5")"#)
        #expect(try reason(#"{\#(base),"currency":"EUR","gross":"1e3"}"#).hasPrefix("field 'gross': must be a decimal amount"))
        #expect(try reason(#"{\#(base),"currency":"EUR","gross":"1.23456"}"#).hasPrefix("field 'gross': must be a decimal amount"))
        #expect(try reason(#"{\#(base),"currency":"eur","gross":"5"}"#)
            == #"field 'currency': must be a three-letter ISO 4217 code (got "eur")"#)
        #expect(try reason(#"{"gateway":"paypal","currency":"EUR","gross":"5"}"#) == "field 'gateway_txn_id': is missing")
        #expect(try reason(#"{\#(base),"gross":"5"}"#) == "field 'currency': is missing")
        #expect(try reason(#"{\#(base),"currency":"EUR","gross":"5","contribution_tracking_id":"\#(String(repeating: "1", count: 300))"}"#)
            == "field 'contribution_tracking_id': is 300 characters long, over the limit of 255")
        #expect(try reason(#"{\#(base),"currency":"EUR","gross":12.5,"fee":"0.3"}"#) == "accepted")
        #expect(DonationAmount("12.5")?.description == "12.5000")
        #expect(DonationAmount("0007")?.description == "7.0000")
        #expect(DonationAmount("12345678901234567")  == nil)
        #expect(DonationAmount(".5") == nil && DonationAmount("5.") == nil && DonationAmount("") == nil)
    }
}
