import ArgumentParser
import Core
import Foundation

/// `fundq damaged …`: inspect, requeue and delete damaged messages.
struct DamagedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "damaged",
        abstract: "Inspect, requeue and delete messages that could not be processed.",
        subcommands: [DamagedListCommand.self, DamagedShowCommand.self, DamagedRequeueCommand.self, DamagedDeleteCommand.self]
    )

    /// A damaged record as JSON; its message, error and trace masked by
    /// ``PersonalData`` (personal data shown only when `personal`).
    static func json(_ r: DamagedMessage, withMessage: Bool, personal: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .number(String(r.id)), "original_queue": .string(r.originalQueue),
            "original_date": Output.date(r.originalDate), "damaged_date": Output.date(r.damagedDate),
            "retry_date": Output.date(r.retryDate), "gateway": r.gateway.map(JSONValue.string) ?? .null,
            "order_id": r.orderID.map(JSONValue.string) ?? .null, "gateway_txn_id": r.gatewayTxnID.map(JSONValue.string) ?? .null,
            "error": .string(PersonalData.maskedText(r.error, showPersonalData: personal)),
        ]
        if withMessage {
            o["trace"] = r.trace.map { .string(PersonalData.maskedText($0, showPersonalData: personal)) } ?? .null
            o["message"] = PersonalData.maskedBody(r.message, showPersonalData: personal)
        }
        return .object(o)
    }
}

struct DamagedListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List damaged messages, newest first.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Only messages from this queue.")
    var queue: String?

    @Option(help: "At most this many rows (a note on stderr says when there are more).")
    var limit = 100

    @OptionGroup var format: ListingFormat

    @Flag(help: "Show the donor's personal data in errors instead of masking it (never a whole card number).")
    var showPersonalData = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let stores = try storage.openReadOnly()
        let (records, cut) = Output.cutSaying(try stores.damaged.list(queue: queue, limit: limit + 1), limit: limit,
                                              what: "damaged messages")
        if format.isJSON {
            try format.write(records.map { DamagedCommand.json($0, withMessage: false, personal: showPersonalData) }, cut: cut)
            return
        }
        try Output.line(Output.table(
            ["ID", "QUEUE", "DAMAGED", "RETRY", "GATEWAY", "ORDER", "ERROR"],
            records.map { r in
                [String(r.id), r.originalQueue, Output.iso(r.damagedDate), r.retryDate.map(Output.iso) ?? "-",
                 r.gateway ?? "-", r.orderID ?? "-",
                 String(PersonalData.maskedText(r.error, showPersonalData: showPersonalData).prefix(100))]
            }))
    }
}

struct DamagedShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one damaged message with its error and trace.")

    @OptionGroup var storage: StorageOptions

    @Argument(help: "The damaged message's id.")
    var id: Int64

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Show the donor's personal data instead of masking it (never a CVV or a whole card number).")
    var showPersonalData = false

    func run() throws {
        let stores = try storage.openReadOnly()
        guard let r = try stores.damaged.fetch(id: id) else {
            throw ConfigurationError("no damaged message with id \(id)")
        }
        if json {
            try Output.json(DamagedCommand.json(r, withMessage: true, personal: showPersonalData))
            return
        }
        let shown = { (text: String) in PersonalData.maskedText(text, showPersonalData: showPersonalData) }
        try Output.line("""
            id:             \(r.id)
            original queue: \(r.originalQueue)
            original date:  \(r.originalDate.map(Output.iso) ?? "-")
            damaged date:   \(Output.iso(r.damagedDate))
            retry date:     \(r.retryDate.map(Output.iso) ?? "-")
            gateway:        \(r.gateway ?? "-")
            order id:       \(r.orderID ?? "-")
            gateway txn id: \(r.gatewayTxnID ?? "-")
            error:          \(shown(r.error))
            trace:          \(r.trace.map(shown) ?? "-")
            message:        \(Output.maskedBodyText(r.message, showPersonalData: showPersonalData))
            """)
    }
}

struct DamagedRequeueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue",
        abstract: "Put damaged messages back on their queue: one by id, those whose retry date has passed, or a queue's by filter.",
        discussion: """
            Each one is recorded in the audit log with --by and --reason. With --queue the count is shown first; \
            --yes proceeds (a terminal is asked; otherwise nothing changes).
            """)

    @OptionGroup var storage: StorageOptions
    @OptionGroup var target: DamagedTarget

    @Flag(help: "Requeue every message whose retry date has passed.")
    var due = false

    @OptionGroup var audit: AuditOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        let ways = [target.id != nil, due, target.queue != nil].filter { $0 }.count
        guard ways == 1 else { throw ValidationError("give one of: an id, --due, --queue") }
    }

    func run() throws {
        let stores = try storage.open()
        let actions = try audit.actions(stores)
        var result: [String: JSONValue] = [:]
        if let id = target.id {
            guard try actions.requeueDamaged(id: id) else { throw ConfigurationError("no damaged message with id \(id)") }
            result = ["matched": Output.number(1), "requeued": Output.number(1)]
        } else if let selection = target.selection {
            let (matched, done) = try target.bulk(selection, in: stores, verb: "requeue", act: actions.requeueDamaged(id:))
            result = ["matched": Output.number(matched), "requeued": Output.number(done)]
        } else {
            let requeued = Output.number(try actions.requeueDueDamaged())
            result = ["matched": requeued, "requeued": requeued]
        }
        if json {
            try Output.json(.object(result))
        } else {
            Output.note("requeued \(result["requeued"]?.scalarText ?? "0") message\(result["requeued"] == Output.number(1) ? "" : "s")")
        }
    }
}

struct DamagedDeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete damaged messages for good: one by id, or a queue's by filter.",
        discussion: """
            Each one is recorded in the audit log with --by and --reason. With --queue the count is shown first; \
            --yes proceeds (a terminal is asked; otherwise nothing changes).
            """)

    @OptionGroup var storage: StorageOptions
    @OptionGroup var target: DamagedTarget
    @OptionGroup var audit: AuditOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard (target.id != nil) != (target.queue != nil) else { throw ValidationError("give either an id or --queue") }
    }

    func run() throws {
        let stores = try storage.open()
        let actions = try audit.actions(stores)
        if let id = target.id {
            guard try actions.deleteDamaged(id: id) else { throw ConfigurationError("no damaged message with id \(id)") }
            if json {
                try Output.json(.object(["matched": Output.number(1), "deleted": Output.number(1)]))
            } else {
                Output.note("deleted damaged message \(id)")
            }
            return
        }
        guard let selection = target.selection else { return }
        let (matched, done) = try target.bulk(selection, in: stores, verb: "delete", act: actions.deleteDamaged(id:))
        if json {
            try Output.json(.object(["matched": Output.number(matched), "deleted": Output.number(done)]))
        } else {
            Output.note("deleted \(done) damaged message\(done == 1 ? "" : "s")")
        }
    }
}
