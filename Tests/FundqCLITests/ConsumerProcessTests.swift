import Core
import Foundation
import FundqTestSupport
import MariaDBDriver
import RedisDriver
import Testing

func donationLines(_ range: Range<Int>) -> String {
    range.map { #"{"gateway":"paypal","gateway_txn_id":"T\#($0)","currency":"EUR","gross":"\#(1 + $0 % 90).00","date":1764000000}"# }
        .joined(separator: "\n")
}

/// Consumers as real child processes against real servers that die.
@Suite("Consumer processes, crashes and outages")
struct ConsumerProcessTests {
    @Test func sinkKilledWithSigkillMidRunLosesAndDoublesNothing() throws {
        let f = try StackFixture(queue: .redis, database: .mariadb)
        let total = 4_000
        #expect(try FundqProcess.run(["queue", "push", "donations", "--lines"] + f.flags, stdin: donationLines(0..<total)).status == 0)
        let donations = DonationsStore(connection: try f.database.openDatabase())
        let first = try FundqProcess.spawn(["consume", "donations", "--daemon", "--batch", "25", "--lease", "2"] + f.flags,
                                           outputIn: f.database.directory)
        #expect(eventually { ((try? donations.count()) ?? 0) >= 500 })
        first.send(SIGKILL)
        _ = first.wait()
        let killedAt = try donations.count()
        #expect(killedAt < total, "the consumer finished before it could be killed")
        // A new consumer picks up, including the batch the dead one held (after its lease).
        let second = try FundqProcess.run(["consume", "donations", "--time-limit", "60s", "--batch", "25"] + f.flags)
        #expect(second.status == 0, "\(second.stderr)")
        // The dead consumer's batch is still leased; once the lease is over
        // it is handed out again (already stored or not: stored once).
        Thread.sleep(forTimeInterval: 2.5)
        let third = try FundqProcess.run(["consume", "donations", "--batch", "25"] + f.flags)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try donations.count() == total)
        #expect(Set(try donations.transactionIDs()).count == total)
        let s = try f.open()
        let stats = try s.queue.stats("donations")
        #expect(stats.waiting == 0 && stats.inFlight == 0)
        #expect(try s.damaged.count(queue: nil) == 0)
    }

    @Test func mariadbStoppedMidRunIsReportedWaitedOutAndNothingIsLost() throws {
        let server = try MariaDBServer()
        let redis = try RedisServer()
        let dir = try TemporaryDirectory()
        let flags = ["--queue-url", redis.url, "--db-url", server.url, "--data-dir", dir.path]
        let migrate = try FundqProcess.run(["db", "migrate"] + flags)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let total = 3_000
        #expect(try FundqProcess.run(["queue", "push", "donations", "--lines"] + flags, stdin: donationLines(0..<total)).status == 0)
        let donations = DonationsStore(connection: MariaDBConnection(url: try DatabaseURL(parsing: server.url)))
        let consumer = try FundqProcess.spawn(["consume", "donations", "--daemon", "--batch", "20"] + flags, outputIn: dir)
        #expect(eventually { ((try? donations.count()) ?? 0) >= 300 })
        server.stop(signal: SIGKILL)
        Thread.sleep(forTimeInterval: 1.5)
        try server.start()
        #expect(eventually(timeout: 120) { ((try? donations.count()) ?? 0) == total })
        Thread.sleep(forTimeInterval: 0.5)
        consumer.send(SIGTERM)
        let r = consumer.wait()
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("outage: cannot reach MariaDB at 127.0.0.1:\(server.port)"))
        #expect(r.stderr.contains("nothing was lost, retrying in"))
        #expect(r.stderr.contains("outage retries"))
        #expect(try donations.count() == total)
        #expect(Set(try donations.transactionIDs()).count == total)
        let queue = RedisQueue(url: try RedisURL(parsing: redis.url))
        let stats = try queue.stats("donations")
        #expect(stats.waiting == 0 && stats.inFlight == 0)
    }

    @Test(arguments: [DatabaseKind.sqlite, .mariadb])
    func pendingCommandsListShowResolveAndDelete(database: DatabaseKind) throws {
        let f = try StackFixture(queue: .sqlite, database: database)
        let now = Int(Date().timeIntervalSince1970)
        let input = [
            #"{"gateway":"paypal","order_id":"old","date":\#(now - 3600),"email":"donor@example.org","first_name":"Zoë"}"#,
            #"{"gateway":"paypal","order_id":"new","date":\#(now - 60)}"#,
            #"{"gateway":"globalcollect","order_id":"g1","date":\#(now - 7200)}"#,
        ].joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", "pending", "--lines"] + f.flags, stdin: input).status == 0)
        let consumed = try FundqProcess.run(["consume", "pending"] + f.flags)
        #expect(consumed.status == 0)
        #expect(consumed.stderr.contains("consume pending: 3 messages in"))
        #expect(consumed.stderr.contains("3 inserted, 0 damaged"))

        var r = try FundqProcess.run(["pending", "list", "--older-than", "20m", "--json"] + f.flags)
        guard case .array(let rows) = try JSONParser().parse(r.stdout) else { Issue.record("pending list printed \(r.stdout)"); return }
        #expect(rows.compactMap { $0.objectValue?["order_id"]?.scalarText } == ["g1", "old"])
        r = try FundqProcess.run(["pending", "list", "--gateway", "paypal"] + f.flags)
        #expect(r.lines.count == 3)  // header + 2

        r = try FundqProcess.run(["pending", "show", "paypal", "old"] + f.flags)
        #expect(r.stdout.contains(#""email":"***""#))
        #expect(!r.stdout.contains("donor@example.org"))
        r = try FundqProcess.run(["pending", "show", "paypal", "old", "--show-personal-data"] + f.flags)
        #expect(r.stdout.contains("donor@example.org"))

        let reason = ["--reason", "donor called"]
        #expect(try FundqProcess.run(["pending", "resolve", "paypal", "old", "--as", "failed"] + reason + f.flags).status == 0)
        r = try FundqProcess.run(["pending", "resolve", "paypal", "old", "--as", "failed", "--reason", "donor called"] + f.flags)
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: pending donation paypal/old is already resolved as failed\n")
        r = try FundqProcess.run(["pending", "resolve", "paypal", "old", "--as", "lost", "--reason", "x"] + f.flags)
        #expect(r.status == 2)
        #expect(try FundqProcess.run(["pending", "delete", "globalcollect", "g1", "--reason", "test row"] + f.flags).status == 0)
        r = try FundqProcess.run(["pending", "show", "globalcollect", "g1"] + f.flags)
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: no pending donation globalcollect/g1\n")

        Thread.sleep(forTimeInterval: 1.0)  // so that "old" was resolved more than 0.00001 days (0.9 s) ago
        r = try FundqProcess.run(["jobs", "expire-pending", "--days", "0.0001", "--purge-resolved-days", "0.00001"] + f.flags)
        #expect(r.status == 0)
        #expect(r.stderr.contains("expire-pending: 1 row older than 0.0001 days resolved as expired, 1 resolved row purged"))
        let left = try PendingStore(connection: try f.database.openDatabase()).list(includeResolved: true, limit: 10)
        #expect(left.map(\.orderID) == ["new"])
        #expect(left.first?.resolution == .expired)
    }
}
