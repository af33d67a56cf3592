import ArgumentParser
import Core
import Foundation
import Tracking

/// `fundq tracking …`: contribution tracking ids, events and rows.
struct TrackingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracking",
        abstract: "Contribution tracking: hand out ids, push events, show and list rows, rebuild rows from the events.",
        subcommands: [TrackingNextIDCommand.self, TrackingPushCommand.self, TrackingShowCommand.self, TrackingListCommand.self,
                      TrackingRebuildCommand.self]
    )

    /// A row as JSON, its columns masked by the personal-data policy (`note`;
    /// a card number in any column) unless `showPersonalData`.
    static func json(_ r: TrackingRow, showPersonalData: Bool = false) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(r.id), "contribution_id": r.contributionID.map(JSONValue.string) ?? .null, "status": .string(r.status.rawValue),
            "ts": r.legacyTimestamp.map(JSONValue.string) ?? .null, "banner": r.banner.map(JSONValue.string) ?? .null,
            "landing_page": r.landingPage.map(JSONValue.string) ?? .null, "payment_method": r.paymentMethod.map(JSONValue.string) ?? .null,
            "first_event_at": Output.date(TrackingEvent.date(micros: r.firstEventAt)),
            "last_event_at": Output.date(TrackingEvent.date(micros: r.lastEventAt)), "event_count": Output.number(r.eventCount),
            "abandoned_at": Output.date(r.abandonedAt),
        ]
        for column in TrackingColumn.allCases {
            o[column.rawValue] = r.values[column].map {
                PersonalData.masked(.string($0), key: column.rawValue, showPersonalData: showPersonalData)
            } ?? .null
        }
        return .object(o)
    }
}

/// `fundq tracking next-id`.
struct TrackingNextIDCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "next-id",
        abstract: "Print a new contribution tracking id (Redis INCR with --queue-url, else the embedded file's counter).")

    @OptionGroup var storage: StorageOptions

    @Option(help: "The counter: the Redis key the PHP producers INCR (env FUNDQ_TRACKING_SEQUENCE_KEY).")
    var sequenceKey: String?

    func run() throws {
        let tracker = try ContributionTracker(storage: try storage.open(), configuration: storage.configuration, sequenceKey: sequenceKey)
        try Output.line(String(try tracker.nextID()))
    }
}

/// `fundq tracking push [FILE|-] [--lines]`.
struct TrackingPushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Push tracking events: JSON objects with an id; ts (UTC microseconds) is added when absent.",
        discussion: "Every event is checked first; if one is refused (no id, a value longer than its column), none is pushed.")

    @OptionGroup var storage: StorageOptions

    @Argument(help: "File to read, or - for standard input.")
    var file = "-"

    @Flag(help: "One event per line (otherwise the whole input is one event).")
    var lines = false

    func run() throws {
        let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
        let text = String(decoding: data, as: UTF8.self)
        let inputs = lines ? text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.allSatisfy(\.isWhitespace) } : [text]
        let stores = try storage.open()
        let tracker = ContributionTracker(queue: stores.queue, ids: NoIDs(),
                                          envelope: MessageEnvelope(sourceName: "fundq-tracking-push", sourceType: "cli"))
        var bodies: [[UInt8]] = []
        for (index, input) in inputs.enumerated() {
            let place = lines ? "line \(index + 1): " : ""
            let parsed: JSONValue
            do { parsed = try JSONParser().parse(Array(input.utf8)) } catch { throw ConfigurationError("\(place)not JSON: \(error)") }
            guard case .object(var members) = parsed else { throw ConfigurationError("\(place)an event must be a JSON object") }
            guard let id = members.removeValue(forKey: "id")?.scalarText, !id.isEmpty else {
                throw ConfigurationError("\(place)the event has no id")
            }
            let ts = members.removeValue(forKey: "ts")
            do {
                if let ts {
                    members["id"] = .string(id)
                    members["ts"] = ts
                    _ = try TrackingEvent(members: members)
                    bodies.append(Array(JSONValue.object(members).serialized().utf8))
                } else {
                    bodies.append(try tracker.event(id: id, fields: members))
                }
            } catch let error as TrackingEventError {
                throw ConfigurationError("\(place)\(error)")
            }
        }
        try tracker.producer.push(contentsOf: bodies, to: ContributionTracker.queueName)
        Output.note("pushed \(bodies.count) tracking event\(bodies.count == 1 ? "" : "s") to \(ContributionTracker.queueName) "
                    + "on \(stores.queue.location)")
    }

    /// `push` never takes ids.
    final class NoIDs: TrackingIDSource {
        func nextID() throws -> Int64 { throw ConfigurationError("tracking push does not hand out ids") }
    }
}

/// `fundq tracking show ID`.
struct TrackingShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one contribution tracking row and every event it was folded from.")

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The contribution tracking id.")
    var id: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Show donors' personal data in the events (masked by default).")
    var showPersonalData = false

    func run() throws {
        let store = TrackingStore(connection: try storage.openReadOnly().database)
        guard let row = try store.fetch(id: id) else { throw ConfigurationError("no contribution tracking row \(id)") }
        let events: [JSONValue] = try store.events(id: id).map { e in
            var value = Output.messageValue(e.message)
            // Card numbers and security codes are masked even when personal data is shown.
            if case .object(let members) = value { value = .object(PersonalData.masked(members, showPersonalData: showPersonalData)) }
            return .object(["ts": .number(String(e.ts)), "received_at": Output.date(e.receivedAt), "event": value])
        }
        if json {
            try Output.json(.object(["row": TrackingCommand.json(row, showPersonalData: showPersonalData), "events": .array(events)]))
            return
        }
        guard case .object(let fields) = TrackingCommand.json(row, showPersonalData: showPersonalData) else { return }
        try Output.line(Output.table(["FIELD", "VALUE"], fields.sorted { $0.key < $1.key }.map { [$0.key, $0.value.scalarText ?? "-"] }))
        try Output.line("\n\(events.count) event\(events.count == 1 ? "" : "s"), in ts order:")
        for event in events { try Output.line(event.serialized()) }
    }
}

/// `fundq tracking list`.
struct TrackingListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List contribution tracking rows, most recent first.")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Only rows with an event since: a duration ago (20m, 6h, 2d) or an ISO 8601 time.", valueName: "time"))
    var since: String?

    @Option(help: "Only this utm_campaign.")
    var utmCampaign: String?

    @Option(help: "At most this many rows (a note on stderr says when there are more).")
    var limit = 100

    @OptionGroup var format: ListingFormat

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func sinceDate() throws -> Date? {
        guard let since else { return nil }
        if let ago = DurationArgument(argument: since) { return Date().addingTimeInterval(-ago.seconds) }
        if let date = try? Date(since, strategy: .iso8601) { return date }
        throw ValidationError("--since must be a duration (20m, 6h, 2d) or an ISO 8601 time, not \(since)")
    }

    func run() throws {
        let (rows, cut) = Output.cutSaying(try TrackingStore(connection: try storage.openReadOnly().database)
            .list(since: try sinceDate(), utmCampaign: utmCampaign, limit: limit + 1), limit: limit, what: "tracking rows")
        if format.isJSON {
            try format.write(rows.map { TrackingCommand.json($0) }, cut: cut)
            return
        }
        try Output.line(Output.table(
            ["ID", "STATUS", "CONTRIBUTION", "CAMPAIGN", "SOURCE", "EVENTS", "LAST EVENT"],
            rows.map { r in
                [r.id, r.status.rawValue, r.contributionID ?? "-", r.values[.utmCampaign] ?? "-", r.values[.utmSource] ?? "-",
                 String(r.eventCount), Output.iso(TrackingEvent.date(micros: r.lastEventAt))]
            }))
    }
}

/// `fundq tracking rebuild`.
struct TrackingRebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Recompute every contribution tracking row from the event table and rewrite the rows that differ.",
        discussion: "Run it with the tracking consumer stopped: the consumer is the table's only writer.")

    @OptionGroup var storage: StorageOptions

    func run() throws {
        let summary = try TrackingStore(connection: try storage.open().database).rebuild()
        Output.note("tracking rebuild: \(summary.rows) rows folded from their events, \(summary.changed) differed and were rewritten, "
                    + "\(summary.skipped) stored events skipped")
    }
}
