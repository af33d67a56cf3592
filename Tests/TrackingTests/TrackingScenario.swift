import Backends
import Consumers
import Core
import Foundation
import FundqTestSupport
import Logging

/// A reproducible pseudo-random generator (SplitMix64), so a failing
/// property run can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The state of one attempt as the test computes it, independently of the
/// store: the events of an id applied one after the other in `ts` order.
struct ExpectedRow: Equatable, CustomStringConvertible {
    var id: String
    var contributionID: String?
    var values: [String: String] = [:]
    var first: Int64 = .max
    var last: Int64 = .min
    var count = 0
    var status = "started"
    var banner: String?

    var description: String {
        "\(id) cid=\(contributionID ?? "-") n=\(count) \(first)…\(last) \(status) \(values.sorted { $0.key < $1.key })"
    }

    /// The projection of a stored row compared with the expectation.
    init(_ row: TrackingRow) {
        id = row.id
        contributionID = row.contributionID
        values = Dictionary(uniqueKeysWithValues: row.values.map { ($0.key.rawValue, $0.value) })
        first = row.firstEventAt
        last = row.lastEventAt
        count = row.eventCount
        status = row.status.rawValue
        banner = row.banner
    }

    init(id: String) { self.id = id }
}

/// Events for many ids, shuffled and partly duplicated, with the in-order
/// result computed by plain folding.
struct TrackingScenario {
    /// One generated event.
    struct Event {
        let id: String
        let ts: Int64
        let fields: [String: JSONValue]
        var json: String { JSONValue.object(fields.merging(["id": .string(id), "ts": .number(String(ts))]) { $1 }).serialized() }
    }

    let events: [Event]
    /// Message bodies in push order: every event once, shuffled, plus
    /// repeats of some of them.
    let bodies: [[UInt8]]
    let expected: [String: ExpectedRow]

    static let pools: [String: [JSONValue]] = [
        "utm_source": ["B26_a.lp1.cc", "B26_b.lp2.paypal", "B26_c", "x.y"].map(JSONValue.string),
        "utm_medium": ["sitenotice", "email", "banner"].map(JSONValue.string),
        "utm_campaign": ["C26_a", "C26_b", "C26_c"].map(JSONValue.string),
        "language": ["en", "de", "fr", "pt-br"].map(JSONValue.string),
        "country": ["GB", "DE", "FR", "BR"].map(JSONValue.string),
        "form_amount": ["EUR 5", "USD 10", "GBP 3"].map(JSONValue.string),
        "usd_amount": ["5.00", "12.50", "0.99"].map(JSONValue.number),
        "anonymous": [.number("0"), .number("1")],
        "note": ["", "thanks", "Zoë ☕"].map(JSONValue.string),
    ]

    init(ids: Int, events total: Int, duplicates: Int, seed: UInt64, prefix: String = "") {
        var rng = SeededGenerator(state: seed)
        var events: [Event] = []
        let base: Int64 = 1_764_000_000_000_000
        for n in 0..<total {
            let k = n % ids
            let id = prefix + String(k)
            // Distinct per id, unrelated to the order of generation.
            let ts = base + Int64(UInt64.random(in: 0..<1_000_000_000, using: &rng)) * 1000 + Int64(n / ids)
            var fields: [String: JSONValue] = [:]
            for (name, pool) in TrackingScenario.pools.sorted(by: { $0.key < $1.key }) where Bool.random(using: &rng) {
                fields[name] = Int.random(in: 0..<5, using: &rng) == 0 ? .null : pool.randomElement(using: &rng)!
            }
            if k % 3 == 0 && Int.random(in: 0..<5, using: &rng) == 0 { fields["contribution_id"] = .string("c\(prefix)\(k)") }
            if Int.random(in: 0..<4, using: &rng) == 0 { fields["email"] = .string("donor\(k)@example.org") }
            events.append(Event(id: id, ts: ts, fields: fields))
        }
        self.events = events
        var order = Array(events.indices).shuffled(using: &rng)
        order += (0..<duplicates).map { _ in Int.random(in: 0..<events.count, using: &rng) }
        order.shuffle(using: &rng)
        bodies = order.map { Array(events[$0].json.utf8) }
        expected = TrackingScenario.fold(events)
    }

    /// Applies each id's events in `ts` order: a non-empty value overwrites, an empty one is no value.
    static func fold(_ events: [Event]) -> [String: ExpectedRow] {
        var rows: [String: ExpectedRow] = [:]
        for event in events.sorted(by: { $0.ts < $1.ts }) {
            var row = rows[event.id] ?? ExpectedRow(id: event.id)
            for (name, value) in event.fields where pools[name] != nil {
                let text: String?
                switch value {
                case .string(let s): text = s.isEmpty ? nil : s
                case .number(let n): text = n
                default: text = nil
                }
                if let text { row.values[name] = text }
            }
            if case .string(let cid)? = event.fields["contribution_id"] { row.contributionID = cid; row.status = "donated" }
            row.first = min(row.first, event.ts)
            row.last = max(row.last, event.ts)
            row.count += 1
            row.banner = row.values["utm_source"].flatMap { $0.split(separator: ".").first.map(String.init) }
            rows[event.id] = row
        }
        return rows
    }

    /// Pushes every body through a producer (which stamps the envelope), in chunks.
    func push(to queue: any MessageQueue) throws {
        let producer = QueueProducer(queue: queue, envelope: MessageEnvelope(sourceName: "tracking-test", sourceType: "test"))
        for start in stride(from: 0, to: bodies.count, by: 1_000) {
            try producer.push(contentsOf: Array(bodies[start..<min(start + 1_000, bodies.count)]), to: TrackingConsumer.queueName)
        }
    }

    /// The stored rows, as comparable projections.
    static func actual(_ store: TrackingStore) throws -> [String: ExpectedRow] {
        Dictionary(uniqueKeysWithValues: try store.allRows().map { ($0.id, ExpectedRow($0)) })
    }

    /// Describes the first few differences between `actual` and the expectation.
    func differences(_ actual: [String: ExpectedRow]) -> [String] {
        var out: [String] = []
        for id in Set(expected.keys).union(actual.keys).sorted() where expected[id] != actual[id] {
            out.append("expected \(expected[id].map(\.description) ?? "no row"), got \(actual[id].map(\.description) ?? "no row")")
            if out.count == 5 { break }
        }
        return out
    }
}

/// Runs the tracking consumer in-process over everything queued.
func consumeTracking(_ storage: Storage, batch: Int = 500) throws -> PopSummary {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    let consumer = QueueConsumer(queue: storage.queue, damaged: storage.damaged, policy: TrackingConsumer.policy(), logger: logger)
    return try ConsumerRunner(consumer: consumer, queueName: TrackingConsumer.queueName, limits: RunLimits(batchSize: batch),
                              logger: logger)
        .run(handler: TrackingConsumer(connection: storage.database).handle).pops
}
