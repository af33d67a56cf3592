import Consumers
import Core
import Foundation
import FundqTestSupport
import Testing

/// Pairs of identifiers that a case- or accent-insensitive comparison, a
/// PAD SPACE collation or Unicode canonical equivalence would merge.
let lookAlikeIdentifiers: [(String, String)] = [
    ("ch_abc", "ch_ABC"),
    ("x1", "x1 "),
    ("café", "cafe"),
    ("caf\u{E9}-nfc", "cafe\u{301}-nfc"),  // composed vs decomposed: equal as Swift Strings
    ("😀", "😁"),
]

/// Identifiers compare byte for byte everywhere (issue 8).
@Suite("Distinct identifiers stay distinct")
struct DistinctIdentifierTests {
    @Test(arguments: stacks)
    func donationsWhoseIdsDifferOnlyByCaseAccentSpaceOrNormalizationAreAllStored(
        queue: QueueBackendKind, database: DatabaseKind
    ) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let ids = lookAlikeIdentifiers.flatMap { [$0.0, $0.1] }
        let bodies = ids.enumerated().map { n, id in
            Array(#"{"gateway":"paypal","gateway_txn_id":"\#(id)","currency":"EUR","gross":"\#(n + 1)","date":1764000000}"#.utf8)
        }
        try QueueProducer(queue: s.queue).push(contentsOf: bodies, to: DonationsSink.queueName)
        let first = try runConsumer(s, queue: DonationsSink.queueName, batch: 100, DonationsSink(connection: s.database).handle)
        #expect(first.outcomes == ["inserted": ids.count])
        let stored = try s.database.query("SELECT gateway_txn_id, gross FROM donations ORDER BY id", [])
        #expect(stored.map { $0[0].bytes ?? [] } == ids.map { Array($0.utf8) })
        // Delivered again, in smaller batches: every one is a duplicate of itself only.
        try QueueProducer(queue: s.queue).push(contentsOf: bodies, to: DonationsSink.queueName)
        let again = try runConsumer(s, queue: DonationsSink.queueName, batch: 3, DonationsSink(connection: s.database).handle)
        #expect(again.outcomes == ["duplicate": ids.count])
        #expect(try DonationsStore(connection: s.database).count() == ids.count)
    }

    @Test(arguments: stacks)
    func pendingOrdersWhoseIdsDifferOnlyByCaseKeepTheirOwnDonor(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let orders = lookAlikeIdentifiers.flatMap { [$0.0, $0.1] } + ["ord-abc", "ORD-ABC"]
        let bodies = orders.enumerated().map { n, id in
            Array(#"{"gateway":"paypal","order_id":"\#(id)","date":1764000000,"email":"donor\#(n)@example.org"}"#.utf8)
        }
        try QueueProducer(queue: s.queue).push(contentsOf: bodies, to: PendingConsumer.queueName)
        let summary = try runConsumer(s, queue: PendingConsumer.queueName, PendingConsumer(connection: s.database).handle)
        #expect(summary.outcomes == ["inserted": orders.count])
        let store = PendingStore(connection: s.database)
        for (n, id) in orders.enumerated() {
            let row = try #require(try store.fetch(gateway: "paypal", orderID: id), "no row for \(id.debugDescription)")
            #expect(row.orderID.map { Array($0.utf8) } == Array(id.utf8))
            #expect(row.message["email"] == .string("donor\(n)@example.org"), "\(id.debugDescription) got another donor's data")
        }
    }

    /// A MariaDB database created before the fix (schema version 3,
    /// utf8mb4_unicode_ci ids) is converted by the migration.
    @Test func theMigrationMakesAnExistingMariaDBCompareIdsByteForByte() throws {
        let f = try DatabaseFixture(.mariadb, migrate: false)
        let db = try f.openDatabase()
        try SchemaMigrator.migrate(db, upTo: 3)
        let store = PendingStore(connection: db)
        func pending(_ gateway: String, _ order: String) throws -> PendingMessage {
            try PendingMessage(members: ["gateway": .string(gateway), "order_id": .string(order), "date": .number("1764000000")])
        }
        try store.store(try pending("paypal", "ord-abc"))
        try store.store(try pending("demo", "ord-abc"))
        #expect(try store.store(try pending("demo", "ORD-ABC")) == .merged, "before the migration two orders are one row (the defect)")
        #expect(try SchemaMigrator.migrate(db, upTo: 4) == [4])
        try SchemaMigrator.migrate(db)  // and any later migration
        #expect(try store.store(try pending("paypal", "ORD-ABC")) == .inserted)
        #expect(try store.fetch(gateway: "paypal", orderID: "ord-abc")?.orderID == "ord-abc")
        #expect(try store.fetch(gateway: "paypal", orderID: "ORD-ABC")?.orderID == "ORD-ABC")
        let collations = try db.query("""
            SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('pending', 'donations')
              AND COLUMN_NAME IN ('gateway', 'order_id', 'gateway_txn_id')
            """, [])
        #expect(collations.count == 6 && collations.allSatisfy { $0[1].string == "utf8mb4_nopad_bin" })
    }
}
