import Backends
@testable import Core
import Foundation
import FundqTestSupport
import Synchronization
import Testing

/// Batched claims: one statement claims up to N due rows; concurrent
/// claimers never share a row; every backend.
@Suite("Pending batched claims")
struct PendingClaimTests {
    func seed(_ store: PendingStore, count: Int, gateway: String = "paypal") throws {
        let date = Int(Date().timeIntervalSince1970) - 3600
        try store.connection.transaction {
            for i in 0..<count {
                try store.store(try PendingMessage(members: try JSONParser().parse(
                    #"{"gateway":"\#(gateway)","order_id":"c-\#(i)","date":\#(date + i),"gross":"1.00","currency":"EUR"}"#).objectValue!))
            }
        }
    }

    /// `count` new paypal rows in `db`, all claimed by worker "a".
    func claimedRows(in db: DatabaseFixture, count: Int) throws -> (store: PendingStore, rows: [PendingRecord]) {
        let store = PendingStore(connection: try db.openDatabase())
        try seed(store, count: count)
        return (store, try claim(store, worker: "a", limit: count))
    }

    func claim(_ store: PendingStore, worker: String, limit: Int, now: Date = Date(),
               after cursor: (date: Date, id: Int64)? = nil) throws -> [PendingRecord] {
        try store.claimDue(gateway: "paypal", olderThan: now, newerThan: now.addingTimeInterval(-86_400), now: now, after: cursor,
                           worker: worker, lease: .seconds(300), limit: limit)
    }

    @Test(arguments: DatabaseKind.allCases)
    func oneStatementClaimsUpToNDueRowsOldestFirstAndPassesOverOthersClaims(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let store = PendingStore(connection: try db.openDatabase())
        try seed(store, count: 10)
        try seed(store, count: 3, gateway: "globalcollect")
        let first = try claim(store, worker: "a", limit: 4)
        #expect(first.map(\.orderID) == ["c-0", "c-1", "c-2", "c-3"])
        let second = try claim(store, worker: "b", limit: 100)
        #expect(second.map(\.orderID) == (4..<10).map { "c-\($0)" }, "only rows nobody holds, of this gateway")
        #expect(try claim(store, worker: "c", limit: 100).isEmpty)
        // Held rows are the claimer's: it can resolve them, another cannot.
        #expect(try store.resolve(id: first[0].id, as: .failed, worker: "b") == false)
        #expect(try store.resolve(id: first[0].id, as: .failed, worker: "a"))
        // Released rows are due again; a cursor skips what this sweep has seen.
        try store.release(ids: first.dropFirst().map(\.id), worker: "a")
        let again = try claim(store, worker: "c", limit: 100, after: (first[1].date, first[1].id))
        #expect(again.map(\.orderID) == ["c-2", "c-3"])
        // An expired claim is taken over: every unresolved row (c-1 … c-9).
        let later = Date().addingTimeInterval(400)
        #expect(try claim(store, worker: "d", limit: 100, now: later).map(\.orderID) == (1..<10).map { "c-\($0)" })
    }

    @Test(arguments: DatabaseKind.allCases)
    func concurrentClaimersNeverShareARow(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let seedStore = PendingStore(connection: try db.openDatabase())
        try seed(seedStore, count: 500)
        let taken = Mutex<[String: [Int64]]>([:])
        let configuration = db.configuration
        try runOnThreads(4) { worker, _ in
            let store = PendingStore(connection: try Storage.openDatabase(configuration))
            while true {
                let rows = try claim(store, worker: "w\(worker)", limit: 7)
                if rows.isEmpty { break }
                guard rows.count <= 7 else { throw TestSetupError("claimed \(rows.count) rows with a limit of 7") }
                taken.withLock { $0["w\(worker)", default: []] += rows.map(\.id) }
            }
        }
        let all = taken.withLock { $0.values.flatMap { $0 } }
        #expect(all.count == 500)
        #expect(Set(all).count == 500, "a row was claimed twice")
        let owners = try seedStore.connection.query("SELECT claimed_by, COUNT(*) FROM pending GROUP BY claimed_by", [])
        for row in owners {
            #expect(Int(row[1].int64 ?? 0) == taken.withLock { $0[row[0].string ?? ""]?.count ?? -1 })
        }
    }

    /// A claim reads a gateway's unresolved rows in date order and passes
    /// none of its resolved rows. By (gateway, date) it read every resolved
    /// row in its range (and on MariaDB locked each until it committed), so
    /// claims cost more with every orphan resolved before them. Here 390
    /// rows resolved long ago lie between 10 due ones: MariaDB's handler
    /// counter says how many rows the claim read after its first; SQLite's
    /// plan seeks the unresolved rows in date order.
    @Test(arguments: DatabaseKind.allCases)
    func aClaimPassesNoResolvedRow(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let store = PendingStore(connection: try db.openDatabase())
        let d = store.connection.dialect, start = Date().addingTimeInterval(-3600)
        try store.connection.transaction {
            for i in 0..<400 {
                let resolved = i % 40 == 0 ? SQLValue.null : .text("completed")
                try store.connection.execute("""
                    INSERT INTO pending (date, gateway, order_id, message, resolution) VALUES (?, 'paypal', ?, '{}', ?)
                    """, [d.value(start.addingTimeInterval(Double(i))), .text("c-\(i)"), resolved])
            }
        }
        func rowsReadInOrder() throws -> Int {
            let status = try store.connection.query("SHOW SESSION STATUS LIKE 'Handler_read_next'", [])
            return try #require(status.first?[1].string.flatMap { Int($0) })
        }
        if database == .mariadb {
            // The statistics a production table has (InnoDB counts them again once a tenth of its rows has
            // changed, in the background): with this new table's, counted when it was empty, it reads by date.
            _ = try store.connection.query("ANALYZE TABLE pending", [])
        }
        let before = database == .mariadb ? try rowsReadInOrder() : 0
        let claimed = try claim(store, worker: "b", limit: 100)
        #expect(claimed.map(\.orderID) == stride(from: 0, to: 400, by: 40).map { "c-\($0)" })
        switch database {
        case .mariadb:
            let read = try rowsReadInOrder() - before
            #expect(read < 2 * claimed.count, "the claim read \(read) rows after its first, for \(claimed.count) due rows")
        case .sqlite:
            let now = Date()
            let (conditions, parameters) = store.dueRows(gateway: "paypal", olderThan: now, newerThan: now, now: now,
                                                         after: (now, 1))
            let plan = try store.connection.query("EXPLAIN QUERY PLAN SELECT id FROM pending WHERE \(conditions) ORDER BY date, id",
                                                  parameters).compactMap { $0.last?.string }
            // SQLite's wording of a plan changes between versions: the index it seeks, by which columns, and no sort.
            #expect(plan.contains { $0.contains("USING INDEX pending_by_gateway_resolution_date (gateway=? AND resolution=? AND date>")
            }, "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    /// MariaDB: a transaction claiming, recording intents on, releasing or
    /// resolving rows by a list (its rows locked until it ends) costs other
    /// claimers nothing but its own rows. Each of those statements was planned
    /// as a scan of this small table and locked every row it passed, so the
    /// others, passing over locked rows, found none and their sweeps ended
    /// with rows left (the pool test's second run examined 100–350 of 450).
    @Test(arguments: ListStatement.allCases)
    func aTransactionOnListedRowsLocksOnlyThoseRows(statement: ListStatement) throws {
        let db = try DatabaseFixture(.mariadb)
        let a = PendingStore(connection: try db.openDatabase())
        let b = PendingStore(connection: try db.openDatabase())
        let date = Int(Date().timeIntervalSince1970) - 3600
        try a.connection.transaction {
            for i in 0..<400 {
                let gateway = i % 2 == 0 ? "paypal" : "globalcollect"
                try a.store(try PendingMessage(members: try JSONParser().parse(
                    #"{"gateway":"\#(gateway)","order_id":"g-\#(i)","date":\#(date),"gross":"1.00","currency":"EUR"}"#).objectValue!))
            }
        }
        let now = Date()
        func claim(_ store: PendingStore, _ gateway: String, _ worker: String) throws -> [PendingRecord] {
            try store.claimDue(gateway: gateway, olderThan: now, newerThan: now.addingTimeInterval(-86_400), now: now,
                               worker: worker, lease: .seconds(300), limit: 100)
        }
        // Worker "a" holds the first 100 paypal rows (claimed earlier, committed); its statement runs on them.
        let held = try claim(a, "paypal", "a")
        let counts = try a.connection.transaction {
            switch statement {
            case .claim: _ = try claim(a, "paypal", "a2")
            case .intent: _ = try a.recordIntent(.finish, ids: held.map(\.id), worker: "a", lease: .seconds(300))
            case .release: try a.release(ids: held.map(\.id), worker: "a")
            case .resolve: _ = try a.resolve(gateway: "paypal", orderIDs: held.compactMap(\.orderID), as: .failed)
            }
            return [try claim(b, "globalcollect", "b").count, try claim(b, "paypal", "b").count]
        }
        #expect(held.count == 100)
        #expect(counts[0] == 100, "the other gateway's rows were locked by a \(statement) of paypal's")
        #expect(counts[1] == (statement == .claim ? 0 : 100), "paypal's rows outside the statement are free")
    }

    /// The list statements on pending rows that run beside claims.
    enum ListStatement: String, CaseIterable, CustomStringConvertible {
        case claim, intent, release, resolve
        var description: String { rawValue }
    }

    @Test(arguments: DatabaseKind.allCases)
    func intentsOfSeveralRowsAreRecordedInOneStatementOnlyWhereTheClaimIsStillHeld(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let (store, rows) = try claimedRows(in: db, count: 5)
        #expect(rows.count == 5)
        // c-1 resolved, c-2 released and taken by b, c-3 released: a holds c-0 and c-4 only.
        #expect(try store.resolve(id: rows[1].id, as: .failed, worker: "a"))
        try store.release(ids: [rows[2].id, rows[3].id], worker: "a")
        #expect(try store.claim(id: rows[2].id, worker: "b", lease: .seconds(300)))
        let now = Date()
        let held = try store.connection.transaction {
            try store.recordIntent(.finish, ids: rows.map(\.id), worker: "a", lease: .seconds(600), now: now)
        }
        #expect(held == [rows[0].id, rows[4].id])
        for (i, row) in rows.enumerated() {
            let stored = try #require(try store.fetch(id: row.id))
            #expect((stored.intents.finishRequestedAt != nil) == held.contains(row.id), "row c-\(i)")
            #expect(stored.intents.profileRequestedAt == nil)
        }
        // The claims held were extended to the new lease; an expired claim records nothing.
        let later = now.addingTimeInterval(400)
        #expect(try store.recordIntent(.createRecurringProfile, ids: [rows[0].id], worker: "a", lease: .seconds(60), now: later)
            == [rows[0].id], "held until now + 600 s")
        #expect(try store.recordIntent(.createRecurringProfile, ids: [rows[4].id], worker: "a", lease: .seconds(60),
                                       now: now.addingTimeInterval(700)).isEmpty)
        #expect(try store.recordIntent(.finish, ids: [], worker: "a", lease: .seconds(60)).isEmpty)
    }

    /// Recording an intent again with the very same time and lease changes
    /// no value (MariaDB then counts no changed row): the held rows are
    /// still the ones answered, the others still not.
    @Test(arguments: DatabaseKind.allCases)
    func anIntentRecordedAgainWithTheSameValuesStillAnswersTheHeldRows(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let (store, rows) = try claimedRows(in: db, count: 3)
        try store.release(ids: [rows[1].id], worker: "a")
        #expect(try store.claim(id: rows[1].id, worker: "b", lease: .seconds(300)))
        let now = Date()
        let ids = rows.map(\.id)
        let first = try store.recordIntent(.finish, ids: ids, worker: "a", lease: .seconds(600), now: now)
        #expect(first == [rows[0].id, rows[2].id])
        #expect(try store.recordIntent(.finish, ids: ids, worker: "a", lease: .seconds(600), now: now) == first)
        #expect(try store.recordIntent(.finish, ids: [rows[0].id], worker: "a", lease: .seconds(600), now: now) == [rows[0].id])
        #expect(try store.recordIntent(.finish, ids: [rows[1].id], worker: "a", lease: .seconds(600), now: now).isEmpty)
    }

    /// One statement resolves the listed rows this worker holds. SQLite says
    /// which it resolved; MariaDB says only how many, so it answers nil when
    /// one listed row was not held (the caller's transaction is then rolled
    /// back and the rows read and locked first).
    @Test(arguments: DatabaseKind.allCases)
    func severalHeldRowsAreResolvedInOneStatementAndALostOneIsNeverResolved(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let (store, rows) = try claimedRows(in: db, count: 6)
        #expect(try store.resolve(ids: rows.prefix(2).map(\.id), as: .completed, worker: "a") == Set(rows.prefix(2).map(\.id)))
        // c-2 resolved already, c-3 taken by b once released: a holds c-4 and c-5 only.
        #expect(try store.resolve(id: rows[2].id, as: .failed, worker: "a"))
        try store.release(ids: [rows[3].id], worker: "a")
        #expect(try store.claim(id: rows[3].id, worker: "b", lease: .seconds(300)))
        struct RolledBack: Error {}
        var answer: Set<Int64>?? = .none
        #expect(throws: RolledBack.self) {
            try store.connection.transaction {
                answer = .some(try store.resolve(ids: rows.dropFirst(2).map(\.id), as: .timeout, worker: "a"))
                throw RolledBack()
            }
        }
        let expected: Set<Int64>? = database == .sqlite ? [rows[4].id, rows[5].id] : nil
        #expect(answer == .some(expected))
        let stored = try rows.map { try #require(try store.fetch(id: $0.id)).resolution }
        #expect(stored == [.completed, .completed, .failed, nil, nil, nil], "the rolled back statement left nothing")
        #expect(try store.resolve(ids: [rows[4].id, rows[5].id], as: .timeout, worker: "a") == [rows[4].id, rows[5].id])
        #expect(try store.resolve(ids: [rows[3].id], as: .timeout, worker: "a") == (database == .sqlite ? [] : nil), "b's row")
        #expect(try store.fetch(id: rows[3].id)?.resolution == nil)
        #expect(try store.resolve(ids: [], as: .timeout, worker: "a") == [])
    }

    /// One statement replaces several rows' messages, each with its own;
    /// a row not listed keeps its message.
    @Test(arguments: DatabaseKind.allCases)
    func severalMessagesAreReplacedInOneStatement(database: DatabaseKind) throws {
        let db = try DatabaseFixture(database)
        let (store, rows) = try claimedRows(in: db, count: 4)
        func replaced(_ row: PendingRecord) -> [String: JSONValue] {
            var message = row.message
            message["subscr_id"] = .string("I-\(row.orderID!) \"quoted\" é")
            return message
        }
        try store.updateMessages([(rows[0].id, replaced(rows[0]))])
        try store.updateMessages([(rows[2].id, replaced(rows[2])), (rows[3].id, replaced(rows[3]))])
        try store.updateMessages([])
        for (i, row) in rows.enumerated() {
            let stored = try #require(try store.fetch(id: row.id))
            #expect(stored.message == (i == 1 ? row.message : replaced(row)), "c-\(i)")
        }
    }
}
