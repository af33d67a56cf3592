import ArgumentParser
import Core
import Foundation

/// `fundq audit`: who changed what by hand, and why.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log: every pending resolve/delete and damaged requeue/delete done by hand, with actor and reason, "
            + "newest first.")

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Only entries this recent (30m, 6h, 2d).", valueName: "duration"))
    var since: DurationArgument?

    @Option(help: "Only this action: pending-resolve, pending-delete, damaged-requeue, damaged-delete.")
    var action: String?

    @Option(help: "At most this many entries.")
    var limit = 100

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let entries = try AuditLog(connection: try storage.open().database).list(
            since: since.map { Date().addingTimeInterval(-$0.seconds) }, action: action, limit: limit)
        if json {
            try Output.json(.array(entries.map { e in
                .object(["id": .number(String(e.id)), "at": Output.date(e.at), "actor": .string(e.actor), "action": .string(e.action),
                         "target": .string(e.target), "reason": .string(e.reason), "detail": e.detail.map(JSONValue.string) ?? .null])
            }))
            return
        }
        try Output.line(Output.table(["TIME", "ACTOR", "ACTION", "TARGET", "REASON", "DETAIL"], entries.map { e in
            [Output.iso(e.at), e.actor, e.action, e.target, String(e.reason.prefix(80)), String((e.detail ?? "-").prefix(80))]
        }))
    }
}
