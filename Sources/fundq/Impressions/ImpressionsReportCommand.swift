import ArgumentParser
import Core
import Foundation
import Impressions

/// `fundq impressions report`: top banners and counts per minute.
struct ImpressionsReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Top banners and impressions per minute.")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Only minutes at or after this: an ISO 8601 time or a duration ago (90m, 2h, 3d).", valueName: "time"))
    var since: String?

    @Option(help: "Only this banner.")
    var banner: String?

    @Option(help: "Only this campaign.")
    var campaign: String?

    @Option(help: "Rows in each table.")
    var limit = 20

    @Flag(help: "Print the report as JSON.")
    var json = false

    func sinceSeconds() throws -> Int64? {
        guard let since else { return nil }
        if let duration = DurationArgument(argument: since) { return Int64(Date().timeIntervalSince1970 - duration.seconds) }
        if let date = try? Date(since, strategy: .iso8601) { return Int64(date.timeIntervalSince1970) }
        throw ValidationError("--since \(since): expected an ISO 8601 time (2026-12-01T16:00:00Z) or a duration (90m, 2h, 3d)")
    }

    func run() throws {
        let filter = ImpressionFilter(since: try sinceSeconds(), banner: banner, campaign: campaign)
        let store = ImpressionStore(connection: try storage.openReadOnly().database)
        let top = try store.topBanners(filter, limit: limit)
        let minutes = try store.perMinute(filter, limit: limit)
        func iso(_ m: Int64) -> String { Output.iso(Date(timeIntervalSince1970: Double(m))) }
        if json {
            try Output.json(.object([
                "top_banners": .array(top.map { .object(["banner": .string($0.banner), "campaign": .string($0.campaign),
                                                         "count": .number(String($0.count))]) }),
                "per_minute": .array(minutes.map { .object(["minute": .string(iso($0.minute)), "count": .number(String($0.count))]) }),
            ]))
            return
        }
        try Output.line(Output.table(["BANNER", "CAMPAIGN", "IMPRESSIONS"], top.map { [$0.banner, $0.campaign, String($0.count)] }))
        try Output.line("")
        try Output.line(Output.table(["MINUTE", "IMPRESSIONS"], minutes.map { [iso($0.minute), String($0.count)] }))
    }
}

/// `fundq impressions rejects`: invalid events by reason with a sample, and skips.
struct ImpressionsRejectsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rejects", abstract: "Invalid impression events by reason (with the latest sample), and skipped ones (bots, hidden).")

    @OptionGroup var storage: StorageOptions

    @OptionGroup var format: ListingFormat

    func run() throws {
        let rejects = try ImpressionStore(connection: try storage.openReadOnly().database).rejects()
        if format.isJSON {
            try format.write(rejects.map { r in
                .object(["reason": .string(r.reason), "kind": .string(r.kind), "count": .number(String(r.count)),
                         "sample": r.sample.map { .string($0) } ?? .null, "sample_date": Output.date(r.sampleDate)])
            }, cut: false)
            return
        }
        try Output.line(Output.table(["KIND", "REASON", "EVENTS", "LATEST SAMPLE"], rejects.map { r in
            [r.kind, r.reason, String(r.count), r.sample.map { String($0.prefix(100)) } ?? "-"]
        }))
    }
}
