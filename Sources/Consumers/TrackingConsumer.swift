public import Core
import Foundation

/// The tracking consumer: `contribution-tracking` queue →
/// `contribution_tracking` (current state per attempt) and
/// `contribution_tracking_event` (every event), the only writer of both.
///
/// - Events are merged in `ts` order per id whatever order they arrive in
///   (see ``TrackingRow``); a redelivered event is a duplicate and changes
///   nothing.
/// - An event without `id` or `ts`, with a value longer than its column or
///   of the wrong kind, or whose `contribution_id` contradicts its row, is
///   damaged with the reason; nothing is cut.
/// - A batch is one transaction. If the database refuses the batch (a
///   concurrent consumer linked the same contribution, say), the consumer
///   splits it down to the event at fault, which alone is damaged.
public struct TrackingConsumer {
    /// The queue it reads (the PHP frontend's queue name).
    public static let queueName = "contribution-tracking"
    /// Every label its verdicts count messages under.
    public static let outcomeLabels = ["applied", "duplicate"]

    /// The store written.
    public let store: TrackingStore

    /// `base` for this consumer: it parses every body itself and damages
    /// one that is not a JSON object with the same reason and error type
    /// as the queue consumer's screen, so the screen's parse (a second pass
    /// over every message) is left out.
    public static func policy(_ base: ConsumerPolicy = ConsumerPolicy(acknowledgement: .withNextClaim)) -> ConsumerPolicy {
        var policy = base
        policy.requiresJSONObject = false
        return policy
    }

    /// A consumer writing through `connection`.
    public init(connection: any SQLConnection) {
        store = TrackingStore(connection: connection)
    }

    /// Judges and stores a batch.
    public func handle(_ batch: [DeliveredMessage]) throws -> [MessageVerdict] {
        var verdicts = [MessageVerdict](repeating: .released, count: batch.count)
        var valid: [(index: Int, event: TrackingEvent, body: [UInt8])] = []
        for (index, message) in batch.enumerated() {
            let members: [String: JSONValue]
            do {
                members = try message.members()
            } catch {
                verdicts[index] = .damaged(reason: error.description, errorType: "MessageError", retryAfter: nil)
                continue
            }
            do {
                valid.append((index, try TrackingEvent(members: members), message.body))
            } catch {
                verdicts[index] = .damaged(reason: "not a valid tracking event: \(error)", errorType: "TrackingEventInvalid",
                                           retryAfter: nil)
            }
        }
        guard !valid.isEmpty else { return verdicts }
        // A batch the database refuses is split down to the event at fault
        // by QueueConsumer (one mechanism for every consumer).
        let outcomes = try store.connection.transaction { try store.apply(valid.map { ($0.event, $0.body) }) }
        for (item, outcome) in zip(valid, outcomes) { verdicts[item.index] = TrackingConsumer.verdict(outcome) }
        return verdicts
    }

    static func verdict(_ outcome: TrackingOutcome) -> MessageVerdict {
        switch outcome {
        case .applied: return .handled("applied")
        case .duplicate: return .handled("duplicate")
        case .refused(let reason): return .damaged(reason: reason, errorType: "TrackingConflict", retryAfter: nil)
        }
    }
}

/// Links booked donations to their contribution tracking rows: for each
/// donation carrying `contribution_tracking_id`, one event
/// `{id, ts, contribution_id, gateway, gateway_txn_id}` pushed to the
/// tracking queue (the tracking consumer stays the only writer of the
/// table). `contribution_id` is the donation's `donations.id`; `ts` is its
/// `received_date`, so the event is byte-for-byte the same however often it
/// is pushed, and the tracking consumer stores it once.
public struct TrackingLink {
    /// Where link events are pushed.
    public let producer: QueueProducer

    /// A link pushing to `queue`.
    public init(queue: any MessageQueue,
                envelope: MessageEnvelope = MessageEnvelope(sourceName: "fundq-donations-sink", sourceType: "consumer")) {
        producer = QueueProducer(queue: queue, envelope: envelope)
    }

    /// Pushes the link events for `donations` (already committed to the
    /// `donations` table read through `connection`) as one atomic append.
    /// Returns how many were pushed.
    @discardableResult
    public func link(_ donations: [DonationMessage], connection: any SQLConnection) throws -> Int {
        let tracked = donations.filter { $0.contributionTrackingID != nil }
        guard !tracked.isEmpty else { return 0 }
        var events: [[UInt8]] = []
        for (gateway, items) in Dictionary(grouping: tracked, by: \.gateway) {
            let ids = Array(Set(items.map(\.gatewayTxnID)))
            for start in stride(from: 0, to: ids.count, by: 500) {
                let part = Array(ids[start..<min(start + 500, ids.count)])
                let rows = try connection.query(
                    "SELECT id, contribution_tracking_id, received_date, gateway_txn_id FROM donations "
                        + "WHERE gateway = ? AND gateway_txn_id IN ("
                        + SQLValue.placeholders(part.count) + ")",
                    [.text(gateway)] + part.map { .text($0) })
                for row in rows {
                    guard let trackingID = row[1].string, let contributionID = row[0].string,
                          let received = connection.dialect.date(row[2]) else { continue }
                    let event: [String: JSONValue] = [
                        "id": .string(trackingID), "ts": .number(String(TrackingEvent.micros(received))),
                        "contribution_id": .string(contributionID), "gateway": .string(gateway),
                        "gateway_txn_id": row[3].string.map(JSONValue.string) ?? .null,
                    ]
                    events.append(Array(JSONValue.object(event).serialized().utf8))
                }
            }
        }
        try producer.push(contentsOf: events, to: TrackingConsumer.queueName)
        return events.count
    }
}
