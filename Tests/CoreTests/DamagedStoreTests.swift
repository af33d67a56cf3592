import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// The damaged store contract, on the embedded file and on a real mariadbd.
@Suite("Damaged store")
struct DamagedStoreTests {
    func record(queue: String = "donations", order: String, retry: Date? = nil, message: [UInt8]? = nil) -> DamagedMessage {
        DamagedMessage(originalDate: Date(timeIntervalSince1970: 1_700_000_000.25),
                       damagedDate: Date(timeIntervalSince1970: 1_700_000_100.5),
                       retryDate: retry, originalQueue: queue, gateway: "paypal", orderID: order, gatewayTxnID: "T-\(order)",
                       error: "gross must be greater than 0", trace: "BookingRefused in consumer pid 1",
                       message: message ?? Array(#"{"order_id":"\#(order)","name":"Zoë"}"#.utf8))
    }

    @Test(arguments: DatabaseKind.allCases)
    func storesAndReadsBackEveryColumnExactly(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = SQLDamagedStore(connection: try f.openDatabase())
        let garbage: [UInt8] = [0xff, 0x00, 0xfe, 0x7b]
        let original = record(order: "o1", retry: Date(timeIntervalSince1970: 1_700_000_200), message: garbage)
        let id = try store.insert(original)
        let back = try #require(try store.fetch(id: id))
        var expected = original
        expected.id = id
        #expect(back == expected)
        #expect(try store.fetch(id: id + 1000) == nil)
    }

    @Test(arguments: DatabaseKind.allCases)
    func listsCountsDueAndDeletes(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let store = SQLDamagedStore(connection: try f.openDatabase())
        let past = Date().addingTimeInterval(-60)
        let future = Date().addingTimeInterval(3600)
        let a = try store.insert(record(order: "a", retry: past))
        let b = try store.insert(record(order: "b", retry: future))
        let c = try store.insert(record(queue: "pending", order: "c"))
        #expect(try store.count(queue: nil) == 3)
        #expect(try store.count(queue: "donations") == 2)
        #expect(try store.list(queue: nil, limit: 10).map(\.id) == [c, b, a])
        #expect(try store.list(queue: "pending", limit: 10).map(\.orderID) == ["c"])
        #expect(try store.due(at: Date(), limit: 10).map(\.id) == [a])
        #expect(try store.delete(id: a))
        #expect(try !store.delete(id: a))
        #expect(try store.count(queue: nil) == 2)
    }

    @Test(arguments: DatabaseKind.allCases)
    func requeueMovesDueMessagesBackToTheirQueue(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let storage = try Storage(f.configuration)
        // One clock reading: retry dates 1, 2 and 3 s ago keep that order however long each insert's commit takes.
        let now = Date()
        _ = try storage.damaged.insert(record(order: "due", retry: now.addingTimeInterval(-1)))
        _ = try storage.damaged.insert(record(order: "later", retry: now.addingTimeInterval(3600)))
        _ = try storage.damaged.insert(record(queue: "pending", order: "due-2", retry: now.addingTimeInterval(-2)))
        _ = try storage.damaged.insert(record(queue: "pending", order: "due-3", retry: now.addingTimeInterval(-3)))
        let requeuer = DamagedRequeuer(queue: storage.queue, damaged: storage.damaged)
        #expect(try requeuer.requeueDue(limit: 2) == 2)  // the two oldest retry dates
        #expect(try storage.queue.stats("pending").waiting == 2)
        let moved = try requeuer.requeueDue()
        #expect(moved == 1)
        let body = try #require(try storage.queue.peek("donations"))
        #expect(String(decoding: body, as: UTF8.self) == #"{"order_id":"due","name":"Zoë"}"#)
        #expect(try storage.damaged.list(queue: nil, limit: 10).map(\.orderID) == ["later"])
    }
}

@Suite("Schema migrations")
struct SchemaMigrationTests {
    @Test(arguments: DatabaseKind.allCases)
    func migrateIsIdempotentAndAnOldSchemaIsRefusedClearly(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind, migrate: false)
        let db = try f.openDatabase()
        if kind == .mariadb {
            #expect(try SchemaMigrator.installedVersion(db) == 0)
            do {
                _ = try Storage(f.configuration)
                Issue.record("opened a MariaDB database with no schema")
            } catch {
                #expect("\(error)".contains("has schema version 0 "
                    + "but this fundq needs \(SchemaMigrator.currentVersion): run `fundq db migrate`"))
            }
        }
        #expect(try SchemaMigrator.migrate(db).count == (kind == .mariadb ? SchemaMigrator.currentVersion : 0))
        #expect(try SchemaMigrator.migrate(db).isEmpty)
        #expect(try SchemaMigrator.installedVersion(db) == SchemaMigrator.currentVersion)
        try SchemaMigrator.check(db)
        _ = try Storage(f.configuration)
    }
}
