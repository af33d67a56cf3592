import Backends
import Consumers
import Core
import Foundation
import FundqTestSupport
import Testing

/// A deterministic mix of frontend traffic and what the back office must
/// end up with.
struct TrafficMix {
    var pendingQueue: [[UInt8]] = []
    var donationsQueue: [[UInt8]] = []
    /// "gateway/txn" of every donation that must be stored, once.
    var expectedDonations = Set<String>()
    /// Orders whose pending row must end up resolved as completed.
    var expectedCompletedOrders = Set<String>()
    /// Orders whose pending row must stay open.
    var expectedOpenOrders = Set<String>()
    /// Messages that must end in the damaged store for good, per queue.
    var expectedDamaged = ["pending": 0, "donations": 0]

    var total: Int { pendingQueue.count + donationsQueue.count }

    init(size: Int) {
        var rng = SplitMix(seed: 42)
        let gateways = ["globalcollect", "paypal", "paypal-recurring"]
        func body(_ s: String) -> [UInt8] { Array(s.utf8) }
        var i = 0
        while total < size {
            i += 1
            let gateway = gateways[i % 3]
            let date = 1_764_000_000 + i
            // Near the end, only single-message cases, to land on `size` exactly.
            let kind = size - total < 3 ? 0 : rng.next() % 20
            switch kind {
            case 0..<10:  // a valid one-off donation
                donationsQueue.append(body(#"{"gateway":"\#(gateway)","gateway_txn_id":"T\#(i)","currency":"EUR","#
                                           + #""gross":"\#(1 + i % 50).00","date":\#(date),"email":"d\#(i)@example.org"}"#))
                expectedDonations.insert("\(gateway)/T\(i)")
                if rng.next() % 4 == 0 && size - total >= 1 {  // a redelivery of the very same message
                    donationsQueue.append(donationsQueue.last!)
                }
            case 10:  // the frontend retried: same transaction, slightly different message
                donationsQueue.append(body(#"{"gateway":"\#(gateway)","gateway_txn_id":"R\#(i)","currency":"USD","#
                                           + #""gross":"5","date":\#(date)}"#))
                donationsQueue.append(body(#"{"gateway":"\#(gateway)","gateway_txn_id":"R\#(i)","currency":"USD","#
                                           + #""gross":"5","date":\#(date),"utm_source":"retry"}"#))
                expectedDonations.insert("\(gateway)/R\(i)")
            case 11..<14:  // a payment in progress that never completes
                pendingQueue.append(body(#"{"gateway":"\#(gateway)","order_id":"O\#(i)","date":\#(date),"gateway_session_id":"S\#(i)"}"#))
                expectedOpenOrders.insert("\(gateway)/O\(i)")
            case 14..<17:  // pending, then completed; the completion may arrive first
                pendingQueue.append(body(#"{"gateway":"\#(gateway)","order_id":"C\#(i)","date":\#(date),"#
                                         + #""contribution_tracking_id":"ct\#(i)"}"#))
                pendingQueue.append(body(#"{"gateway":"\#(gateway)","order_id":"C\#(i)","date":\#(date),"gateway_txn_id":"P\#(i)"}"#))
                donationsQueue.append(body(#"{"gateway":"\#(gateway)","gateway_txn_id":"CT\#(i)","currency":"GBP","gross":"12.50","#
                                           + #""completion_message_id":"\#(gateway)-C\#(i)"}"#))
                expectedDonations.insert("\(gateway)/CT\(i)")
                expectedCompletedOrders.insert("\(gateway)/C\(i)")
            case 17:  // garbage from a broken producer, straight into the list
                donationsQueue.append(i % 2 == 0 ? body("{\"gateway\":\"\(gateway)\",\"gross\":") : [0xff, 0xfe, UInt8(i % 200)])
                expectedDamaged["donations"]! += 1
            case 18:  // well-formed JSON, invalid donation
                let bad = [#""gross":"0","currency":"EUR""#, #""gross":"5","currency":"euro""#, #""currency":"EUR""#,
                           #""gross":"5","currency":"EUR","order_id":"\#(String(repeating: "x", count: 300))""#][i % 4]
                donationsQueue.append(body(#"{"gateway":"\#(gateway)","gateway_txn_id":"B\#(i)",\#(bad)}"#))
                expectedDamaged["donations"]! += 1
            default:  // a pending message that cannot be stored
                pendingQueue.append(body(i % 2 == 0
                    ? #"{"gateway":"\#(gateway)","order_id":"X\#(i)"}"#
                    : #"{"gateway":"\#(gateway)","date":\#(date)}"#))
                expectedDamaged["pending"]! += 1
            }
        }
        rng.shuffle(&pendingQueue)
        rng.shuffle(&donationsQueue)
    }
}

/// A small deterministic generator (the test must produce the same traffic every run).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, Int(next() % UInt64(i + 1)))
        }
    }
}

@Suite("End to end: Redis → consumers → database")
struct EndToEndTests {
    /// Feeds the mix through the queues and consumers the way production
    /// runs them: sink, pending consumer, requeue job, sink again.
    func play(_ mix: TrafficMix, on s: Storage) throws {
        try s.queue.append(mix.pendingQueue, to: PendingConsumer.queueName)
        try s.queue.append(mix.donationsQueue, to: DonationsSink.queueName)
        var sink = DonationsSink(connection: s.database)
        sink.completionRetry = .seconds(-1)  // due at once for the requeue job
        _ = try runConsumer(s, queue: DonationsSink.queueName, batch: 100, sink.handle)
        _ = try runConsumer(s, queue: PendingConsumer.queueName, batch: 100, PendingConsumer(connection: s.database).handle)
        _ = try DamagedRequeuer(queue: s.queue, damaged: s.damaged).requeueDue()
        _ = try runConsumer(s, queue: DonationsSink.queueName, batch: 100, sink.handle)
    }

    @Test(arguments: [DatabaseKind.mariadb, .sqlite])
    func twentyThousandMixedMessagesEndUpExactlyOnceAndARerunChangesNothing(database: DatabaseKind) throws {
        let mix = TrafficMix(size: 20_000)
        #expect(mix.total == 20_000)
        let f = try StackFixture(queue: .redis, database: database)
        let s = try f.open()
        try play(mix, on: s)

        let donations = DonationsStore(connection: s.database)
        let stored = try donations.transactionIDs()
        #expect(stored.count == mix.expectedDonations.count)
        #expect(Set(stored) == mix.expectedDonations)
        let pending = PendingStore(connection: s.database)
        let rows = try pending.list(includeResolved: true, limit: 100_000)
        let key = { (r: PendingRecord) in "\(r.gateway)/\(r.orderID ?? "")" }
        #expect(Set(rows.filter { $0.resolution == .completed }.map(key)) == mix.expectedCompletedOrders)
        #expect(Set(rows.filter { $0.resolution == nil }.map(key)) == mix.expectedOpenOrders)
        #expect(rows.count == mix.expectedCompletedOrders.count + mix.expectedOpenOrders.count)
        #expect(try s.damaged.count(queue: "donations") == mix.expectedDamaged["donations"])
        #expect(try s.damaged.count(queue: "pending") == mix.expectedDamaged["pending"])
        #expect(try s.damaged.due(at: Date().addingTimeInterval(86_400 * 365), limit: 10).isEmpty)
        for queue in ["pending", "donations"] {
            let stats = try s.queue.stats(queue)
            #expect(stats.waiting == 0 && stats.inFlight == 0)
        }
        // Completed donations carry what their pending rows knew.
        let merged = try s.database.query("SELECT contribution_tracking_id FROM donations WHERE gateway_txn_id LIKE 'CT%'", [])
        #expect(merged.count == mix.expectedCompletedOrders.count)
        #expect(merged.allSatisfy { $0[0].string?.hasPrefix("ct") == true })

        // The whole input again: nothing changes but the damaged store, which
        // receives each malformed message once more.
        let pendingBefore = rows.map { [$0.id, Int64($0.attempts)] }
        try play(mix, on: s)
        #expect(try donations.transactionIDs() == stored)
        #expect(try pending.list(includeResolved: true, limit: 100_000).map { [$0.id, Int64($0.attempts)] } == pendingBefore)
        #expect(try pending.list(includeResolved: true, limit: 100_000).map(\.resolution) == rows.map(\.resolution))
        #expect(try s.damaged.count(queue: "donations") == 2 * mix.expectedDamaged["donations"]!)
        #expect(try s.damaged.count(queue: "pending") == 2 * mix.expectedDamaged["pending"]!)
    }
}
