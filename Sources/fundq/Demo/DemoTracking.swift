import Backends
import Consumers
import Core
import Foundation
import Logging
import Tracking

/// The demo's contribution tracking: the frontend tracks each donor (ids
/// from the shared sequence, one event when the donor arrives, another
/// when a donor is still retrying), the donations sink links the booked
/// donations, and at the end the tracking consumer and the abandon job run
/// and the rows are accounted for against the donations.
struct DemoTracking {
    let tracker: ContributionTracker
    private(set) var ids: [String] = []
    /// The abandon window the demo uses.
    static let window: TimeInterval = 1800

    init(stores: Storage, configuration: StorageConfiguration) throws {
        tracker = try ContributionTracker(storage: stores, configuration: configuration,
                                          envelope: MessageEnvelope(sourceName: "fundq-demo-frontend", sourceType: "demo"))
    }

    /// A donor reached the form `started` (unix seconds); one still retrying
    /// now also sends a second event. Returns the donor's tracking id.
    mutating func donorArrives(_ i: Int, at started: Int, gateway: String, stillRetrying: Bool) throws -> String {
        let id = String(try tracker.nextID())
        ids.append(id)
        let method = gateway.replacingOccurrences(of: "-", with: "")  // the form a donor used, as a campaign names it
        try tracker.track(id: id, fields: [
            "utm_source": .string("B26_demo\(i % 3).lp\(i % 2).\(method)"), "utm_medium": .string("sitenotice"),
            "utm_campaign": .string("demo"), "language": .string(["en", "de", "fr"][i % 3]), "country": .string(["GB", "DE", "FR"][i % 3]),
            "form_amount": .string("EUR \(5 + i % 20)"), "payments_form": .string(gateway), "email": .string("donor\(i)@example.org"),
        ], at: Date(timeIntervalSince1970: Double(started)))
        if stillRetrying { try tracker.track(id: id, fields: ["referrer": .string("https://donate.example.org/retry")]) }
        return id
    }

    /// Consumes the tracking queue, runs the abandon job, prints the
    /// accounting line; returns whether it balances (every donor one row;
    /// donated rows = booked donations).
    func settle(stores: Storage, booked: Int, logger: Logger) throws -> Bool {
        let consumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged, policy: TrackingConsumer.policy(), logger: logger)
        let run = try ConsumerRunner(consumer: consumer, queueName: TrackingConsumer.queueName, limits: RunLimits(batchSize: 500),
                                     logger: logger)
            .run(handler: TrackingConsumer(connection: stores.database).handle)
        Output.note(run.line(for: "tracking consumer"))
        let store = TrackingStore(connection: stores.database)
        let now = Date()
        let abandoned = try store.abandon(lastEventBefore: now.addingTimeInterval(-Self.window), at: now)
        Output.note("abandon job (window \(Int(Self.window / 60)) min): \(abandoned) rows marked abandoned")
        let rows = try store.rows(ids: ids)
        var counts: [TrackingStatus: Int] = [:]
        for row in rows.values { counts[row.status, default: 0] += 1 }
        let (donated, gaveUp, started) = (counts[.donated, default: 0], counts[.abandoned, default: 0], counts[.started, default: 0])
        let sum = donated + gaveUp + started
        let balanced = sum == ids.count && donated == booked
        let verdict = balanced ? "every donor tracked, every booked donation linked" : "NOT BALANCED"
        Output.note("tracking: \(donated) donated (\(booked) donations booked) + \(gaveUp) abandoned + \(started) started = \(sum) rows "
                    + "of \(ids.count) donors: \(verdict)")
        return balanced
    }
}
