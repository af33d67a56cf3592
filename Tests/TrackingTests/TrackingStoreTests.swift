import Backends
import Consumers
import Core
import Foundation
import FundqTestSupport
import RedisDriver
import Testing
import Tracking

let stacks: [(QueueBackendKind, DatabaseKind)] = [(.sqlite, .sqlite), (.redis, .mariadb)]

func push(_ storage: Storage, _ bodies: [String]) throws {
    try QueueProducer(queue: storage.queue).push(contentsOf: bodies.map { Array($0.utf8) }, to: TrackingConsumer.queueName)
}

@Suite("Tracking events: validation and merge (pure)")
struct TrackingEventTests {
    func event(_ json: String) throws -> TrackingEvent {
        try TrackingEvent(members: try #require(try JSONParser().parse(Array(json.utf8)).objectValue))
    }

    @Test func eventsAreCheckedNeverCut() throws {
        let ts = 1_764_000_000_000_000
        #expect(throws: TrackingEventError("id", "is missing: a tracking event needs the contribution tracking id")) {
            try event(#"{"ts":\#(ts)}"#)
        }
        #expect(throws: TrackingEventError("ts", "is missing: events are ordered by it")) { try event(#"{"id":"1"}"#) }
        #expect(throws: TrackingEventError.self) { try event(#"{"id":"1","ts":1764000000}"#) }  // seconds, not microseconds
        #expect(throws: TrackingEventError("country", "is 3 characters long, the column holds 2")) {
            try event(#"{"id":"1","ts":\#(ts),"country":"GBR"}"#)
        }
        #expect(throws: TrackingEventError.self) { try event(#"{"id":"1","ts":\#(ts),"usd_amount":"1.005"}"#) }
        #expect(throws: TrackingEventError.self) { try event(#"{"id":"1","ts":\#(ts),"anonymous":"maybe"}"#) }
        #expect(throws: TrackingEventError.self) { try event(#"{"id":true,"ts":\#(ts)}"#) }
        #expect(throws: TrackingEventError("id", "starts or ends with white space")) { try event(#"{"id":"7 ","ts":\#(ts)}"#) }
        #expect(throws: TrackingEventError.self) { try event(#"{"id":"\#(String(repeating: "9", count: 65))","ts":\#(ts)}"#) }
        let e = try event(#"{"id":42,"ts":"\#(ts)","usd_amount":"007.5","anonymous":true,"optout":0,"#
                          + #""utm_key":"","note":null,"email":"x@y.z"}"#)
        #expect(e.id == "42")
        #expect(e.values == [.usdAmount: "7.50", .anonymous: "1", .optout: "0"])
        #expect(e.members["email"] == .string("x@y.z"))
    }

    /// Stored `event_hash` values are compared with new events' hashes, so
    /// the hash never changes from one build to the next: this value was
    /// computed outside Swift (Python, the same FNV-1a feed: sorted keys,
    /// tagged values, envelope left out).
    @Test func eventHashIsStableAcrossBuilds() throws {
        let e = try event(#"{"source_name":"form","id":"42","ts":1764547200000000,"utm_source":"B1.lp.cc","step":3,"#
                          + #""nested":{"b":[1,true,null],"a":"x"},"note":"café ☕"}"#)
        #expect(e.hash == 1_916_588_667_119_428_689)
        let withOtherEnvelope = try event(#"{"id":"42","source_name":"api","ts":1764547200000000,"utm_source":"B1.lp.cc","#
                                          + #""step":3,"nested":{"a":"x","b":[1,true,null]},"note":"café ☕"}"#)
        #expect(withOtherEnvelope.hash == e.hash)
    }

    @Test func mergeIsTheInOrderFoldWhateverTheArrivalOrder() throws {
        let a = try event(#"{"id":"1","ts":1764000000000001,"utm_source":"A.lp.cc","country":"DE"}"#)
        let b = try event(#"{"id":"1","ts":1764000000000002,"utm_source":"B.lp2"}"#)
        let c = try event(#"{"id":"1","ts":1764000000000003,"contribution_id":"9","language":"en"}"#)
        var forward = TrackingRow(id: "1")
        for e in [a, b, c] { try forward.apply(e) }
        var backward = TrackingRow(id: "1")
        for e in [c, b, a] { try backward.apply(e) }
        #expect(forward == backward)
        #expect(forward.values == [.utmSource: "B.lp2", .country: "DE", .language: "en"])
        #expect(forward.banner == "B" && forward.landingPage == "lp2" && forward.paymentMethod == nil)
        #expect(forward.status == .donated)
        #expect(forward.legacyTimestamp == "20251124160000")
        #expect(throws: TrackingConflict(id: "1", linked: "9", offered: "10")) {
            try forward.apply(try event(#"{"id":"1","ts":1764000000000000,"contribution_id":"10"}"#))
        }
    }
}

@Suite("Tracking consumer and store: one contract, both databases")
struct TrackingStoreTests {
    @Test(arguments: stacks)
    func mergeRulesDamagedEventsAndRedelivery(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let input = [
            #"{"id":"t1","ts":1764000000000300,"utm_source":"B1.lp1.cc","utm_campaign":"C1","email":"a@example.org"}"#,
            // late and older: fills country only
            #"{"id":"t1","ts":1764000000000100,"utm_source":"OLD.x.y","country":"DE","utm_campaign":""}"#,
            #"{"id":"t1","ts":1764000000000200,"contribution_id":"501"}"#,
            #"{"id":"t1","ts":1764000000000400,"contribution_id":"502"}"#,  // a contribution id never changes
            #"{"id":"t2","ts":1764000000000100,"utm_medium":"\#(String(repeating: "m", count: 129))"}"#,  // over-long
            #"{"ts":1764000000000100,"utm_medium":"email"}"#,  // no id
            #"{"id":"T1","ts":1764000000000100,"language":"fr"}"#,  // differs from t1 only by case: another attempt
            #"{"id":"t3","ts":1764000000000100,"contribution_id":"501"}"#,  // contribution already linked to t1
        ]
        try push(s, input)
        let first = try consumeTracking(s, batch: 50)
        #expect(first.outcomes == ["applied": 4])
        #expect(first.damaged == 4)
        let reasons = try s.damaged.list(queue: TrackingConsumer.queueName, limit: 10).map(\.error).sorted()
        #expect(reasons == [
            "contribution 501 is already linked to contribution tracking t1; an event links it to t3",
            "contribution tracking t1 is linked to contribution 501; an event links it to 502, and a contribution_id never changes",
            "not a valid tracking event: field 'id': is missing: a tracking event needs the contribution tracking id",
            "not a valid tracking event: field 'utm_medium': is 129 characters long, the column holds 128",
        ])
        let store = TrackingStore(connection: s.database)
        let t1 = try #require(try store.fetch(id: "t1"))
        #expect(t1.values == [.utmSource: "B1.lp1.cc", .utmCampaign: "C1", .country: "DE"])
        #expect(t1.contributionID == "501" && t1.status == .donated && t1.eventCount == 3)
        #expect(t1.banner == "B1" && t1.landingPage == "lp1" && t1.paymentMethod == "cc")
        #expect(t1.firstEventAt == 1_764_000_000_000_100 && t1.lastEventAt == 1_764_000_000_000_300)
        #expect(t1.legacyTimestamp == "20251124160000")
        #expect(try store.fetch(id: "T1")?.values == [.language: "fr"])
        #expect(try store.fetch(id: "t2") == nil && store.fetch(id: "t3") == nil)
        #expect(try store.events(id: "t1").map(\.ts) == [1_764_000_000_000_100, 1_764_000_000_000_200, 1_764_000_000_000_300])

        // Redelivering everything changes nothing (the damaged ones are damaged again).
        let before = try store.allRows()
        try push(s, input)
        let second = try consumeTracking(s, batch: 3)
        #expect(second.outcomes == ["duplicate": 4])
        #expect(second.damaged == 4)
        #expect(try store.allRows() == before)
        #expect(try store.eventCount() == 4)
    }

    /// The tracking policy leaves out the queue consumer's JSON screen: the
    /// consumer's own parse must damage what the screen would have.
    @Test(arguments: stacks)
    func bodiesThatAreNotJSONObjectsAreDamagedByTheConsumerItself(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        #expect(TrackingConsumer.policy().requiresJSONObject == false)
        let bodies = [
            "not json", "[1,2]", "\"a string\"", #"{"id":"j1","ts":1764000000000100"#, #"{"id":"j1","id":"j2","ts":1764000000000100}"#,
            #"{"id":"j3","ts":1764000000000100,"country":"FR"}"#,
        ]
        try s.queue.append(bodies.map { Array($0.utf8) }, to: TrackingConsumer.queueName)
        let summary = try consumeTracking(s, batch: 10)
        #expect(summary.outcomes == ["applied": 1])
        #expect(summary.damaged == 5)
        let damaged = try s.damaged.list(queue: TrackingConsumer.queueName, limit: 10)
        #expect(Set(damaged.map(\.messageText)) == Set(bodies.dropLast()))
        for record in damaged {
            #expect(record.trace?.contains("MessageError") == true, "\(record.error) / \(record.trace ?? "no trace")")
        }
        #expect(try TrackingStore(connection: s.database).fetch(id: "j3")?.values == [.country: "FR"])
        #expect(try TrackingStore(connection: s.database).fetch(id: "j1") == nil)
    }

    @Test(arguments: stacks)
    func abandonJobAndRebuildFromTheEventTable(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let now = TrackingEvent.micros(Date())
        let hour: Int64 = 3_600_000_000
        try push(s, [
            #"{"id":"old","ts":\#(now - 2 * hour),"utm_source":"B.l.p"}"#,
            #"{"id":"recent","ts":\#(now - 60_000_000),"utm_source":"B.l.p"}"#,
            #"{"id":"paid","ts":\#(now - 2 * hour),"contribution_id":"77"}"#,
            #"{"id":"late","ts":\#(now - 3 * hour)}"#,
        ])
        _ = try consumeTracking(s)
        let store = TrackingStore(connection: s.database)
        #expect(try store.abandon(lastEventBefore: Date().addingTimeInterval(-1800)) == 2)
        #expect(try store.statusCounts() == [.abandoned: 2, .started: 1, .donated: 1])
        // A donation linked after the window still wins.
        try push(s, [#"{"id":"late","ts":\#(now),"contribution_id":"78"}"#])
        _ = try consumeTracking(s)
        #expect(try store.fetch(id: "late")?.status == .donated)
        #expect(try store.fetch(id: "old")?.status == .abandoned)

        // Rebuilding from the events gives the same rows; a damaged row is repaired.
        let rows = try store.allRows()
        #expect(try store.rebuild(batchSize: 2) == TrackingStore.RebuildSummary(rows: 4, changed: 0, skipped: 0))
        #expect(try store.allRows() == rows)
        try s.database.execute("UPDATE contribution_tracking SET utm_source = 'tampered', event_count = 9 WHERE id = 'recent'", [])
        #expect(try store.rebuild().changed == 1)
        #expect(try store.allRows() == rows)
    }

    @Test(arguments: stacks)
    func sinkLinksBookedDonationsAndRedeliveryLinksAgainIdempotently(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        let s = try f.open()
        let tracker = try ContributionTracker(storage: s, configuration: f.configuration)
        let id = String(try tracker.nextID())
        try tracker.track(id: id, fields: ["utm_source": .string("B9.lp.cc"), "email": .string("z@example.org")])
        let donation = #"{"gateway":"paypal","gateway_txn_id":"L1","currency":"EUR","gross":"10.00","contribution_tracking_id":"\#(id)"}"#
        let producer = QueueProducer(queue: s.queue)
        // The process died between the sink's commit and its push: the donation is booked, no link event.
        try producer.push(donation, to: DonationsSink.queueName)
        _ = try runSink(s, DonationsSink(connection: s.database))
        #expect(try s.queue.stats(TrackingConsumer.queueName).waiting == 1)
        // Redelivered: a duplicate for the sink, and the link is pushed now (twice: it is redelivered twice).
        var sink = DonationsSink(connection: s.database)
        sink.tracking = TrackingLink(queue: s.queue)
        for _ in 0..<2 {
            try producer.push(donation, to: DonationsSink.queueName)
            #expect(try runSink(s, sink).outcomes == ["duplicate": 1])
        }
        #expect(try s.queue.stats(TrackingConsumer.queueName).waiting == 3)
        let summary = try consumeTracking(s)
        #expect(summary.outcomes == ["applied": 2, "duplicate": 1])
        let rowID = try #require(try s.database.query("SELECT id FROM donations WHERE gateway_txn_id = 'L1'", []).first?.first?.string)
        let row = try #require(try TrackingStore(connection: s.database).fetch(id: id))
        #expect(row.contributionID == rowID)
        #expect(row.status == .donated && row.eventCount == 2 && row.values[.utmSource] == "B9.lp.cc")
    }

    func runSink(_ s: Storage, _ sink: DonationsSink) throws -> PopSummary {
        let consumer = QueueConsumer(queue: s.queue, damaged: s.damaged)
        return try ConsumerRunner(consumer: consumer, queueName: DonationsSink.queueName, limits: RunLimits(), logger: consumer.logger)
            .run(handler: sink.handle).pops
    }

    @Test(arguments: QueueBackendKind.allCases)
    func idsComeFromOneSequenceSharedWithOtherProducers(kind: QueueBackendKind) throws {
        let f = try StackFixture(queue: kind, database: .sqlite)
        let s = try f.open()
        let tracker = try ContributionTracker(storage: s, configuration: f.configuration, sequenceKey: "ct-seq-test")
        let first = try tracker.nextID()
        if let redis = f.redis {
            // A PHP producer takes ids from the same key.
            let php = RedisConnection(url: try RedisURL(parsing: redis.url))
            #expect(try php.command("INCR", "ct-seq-test", context: "test").integer == first + 1)
        }
        let next = try tracker.nextID()
        #expect(next == first + (kind == .redis ? 2 : 1))
        let other = try ContributionTracker(storage: try f.open(), configuration: f.configuration, sequenceKey: "ct-seq-test")
        #expect(try other.nextID() == next + 1)
        #expect(throws: TrackingEventError.self) { try tracker.track(id: "1", fields: ["ts": .number("1")]) }
        #expect(throws: TrackingEventError.self) { try tracker.track(id: "1", fields: ["country": .string("GBR")]) }
        #expect(try s.queue.stats(TrackingConsumer.queueName).waiting == 0)
    }
}
