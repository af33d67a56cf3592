import ArgumentParser
import Core
import Foundation

/// `fundq pending …`: look at and act on the pending database.
struct PendingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending",
        abstract: "List, show, resolve and delete pending donations.",
        subcommands: [PendingListCommand.self, PendingShowCommand.self, PendingResolveCommand.self, PendingDeleteCommand.self]
    )

    /// A pending row as JSON, its message masked by ``PersonalData`` (personal
    /// fields shown only when `personal`; card numbers and CVVs never).
    static func json(_ r: PendingRecord, withMessage: Bool, personal: Bool) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .number(String(r.id)), "date": Output.date(r.date), "gateway": .string(r.gateway),
            "gateway_account": r.gatewayAccount.map(JSONValue.string) ?? .null, "order_id": r.orderID.map(JSONValue.string) ?? .null,
            "gateway_txn_id": r.gatewayTxnID.map(JSONValue.string) ?? .null,
            "gateway_session_id": r.gatewaySessionID.map(JSONValue.string) ?? .null,
            "contribution_tracking_id": r.contributionTrackingID.map(JSONValue.string) ?? .null,
            "payment_method": r.paymentMethod.map(JSONValue.string) ?? .null, "attempts": Output.number(r.attempts),
            "last_attempt_date": Output.date(r.lastAttemptDate), "next_attempt_date": Output.date(r.nextAttemptDate),
            "resolution": r.resolution.map { .string($0.rawValue) } ?? .null, "resolved_date": Output.date(r.resolvedDate),
        ]
        if withMessage { o["message"] = .object(PersonalData.masked(r.message, showPersonalData: personal)) }
        return .object(o)
    }
}

struct PendingListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List unresolved pending donations, oldest first.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "Only this gateway.")
    var gateway: String?

    @Option(help: ArgumentHelp("Only rows started longer ago than this (20m, 6h, 2d).", valueName: "duration"))
    var olderThan: DurationArgument?

    @Flag(help: "Include resolved rows.")
    var all = false

    @Flag(help: "Only rows the rectifier marked for a person to review, with the reason.")
    var needsReview = false

    @Option(help: "At most this many rows (a note on stderr says when there are more).")
    var limit = 100

    @OptionGroup var format: ListingFormat

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let stores = try storage.openReadOnly()
        let now = Date()
        if needsReview {
            let store = PendingStore(connection: stores.database)
            let (rows, cut) = Output.cutSaying(try store.needingReview(gateway: gateway, limit: limit + 1), limit: limit,
                                               what: "rows needing review")
            if format.isJSON {
                try format.write(rows.map { r in
                    var o = PendingCommand.json(r.record, withMessage: false, personal: false).objectValue ?? [:]
                    o["review_reason"] = .string(r.reason)
                    return .object(o)
                }, cut: cut)
            } else {
                try Output.line(Output.table(["ID", "GATEWAY", "ORDER", "AGE", "ATTEMPTS", "REASON"], rows.map { r in
                    [String(r.record.id), r.record.gateway, r.record.orderID ?? "-", Output.age(now.timeIntervalSince(r.record.date)),
                     String(r.record.attempts), r.reason]
                }))
            }
            return
        }
        let (rows, cut) = Output.cutSaying(try PendingStore(connection: stores.database).list(
            gateway: gateway, olderThan: olderThan.map { now.addingTimeInterval(-$0.seconds) }, includeResolved: all, limit: limit + 1),
            limit: limit, what: "pending rows")
        if format.isJSON {
            try format.write(rows.map { PendingCommand.json($0, withMessage: false, personal: false) }, cut: cut)
            return
        }
        try Output.line(Output.table(
            ["ID", "GATEWAY", "ORDER", "TXN", "AGE", "ATTEMPTS", "NEXT ATTEMPT", "RESOLUTION"],
            rows.map { r in
                [String(r.id), r.gateway, r.orderID ?? "-", r.gatewayTxnID ?? "-", Output.age(now.timeIntervalSince(r.date)),
                 String(r.attempts), r.nextAttemptDate.map(Output.iso) ?? "-", r.resolution?.rawValue ?? "-"]
            }))
    }
}

/// The `GATEWAY ORDER_ID` pair naming one pending row.
struct PendingRowArguments: ParsableArguments {
    @Argument(help: "The gateway.")
    var gateway: String

    @Argument(help: "The order id.")
    var orderID: String
}

struct PendingShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one pending donation with its message.")

    @OptionGroup var storage: StorageOptions
    @OptionGroup var target: PendingRowArguments

    @Flag(help: "Show the donor's personal data instead of masking it (never a CVV or a whole card number).")
    var showPersonalData = false

    func run() throws {
        let stores = try storage.openReadOnly()
        guard let row = try PendingStore(connection: stores.database).fetch(gateway: target.gateway, orderID: target.orderID) else {
            throw ConfigurationError("no pending donation \(target.gateway)/\(target.orderID)")
        }
        try Output.json(PendingCommand.json(row, withMessage: true, personal: showPersonalData))
    }
}

struct PendingResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve", abstract: "Resolve one pending donation by hand (the row is kept with its resolution).")

    @OptionGroup var storage: StorageOptions
    @OptionGroup var target: PendingRowArguments

    @Option(name: .customLong("as"), help: "completed, failed, cancelled, timeout, expired, duplicate or manual.")
    var resolutionName: String

    @OptionGroup var audit: AuditOptions

    var resolution: PendingResolution { PendingResolution(rawValue: resolutionName) ?? .manual }

    func validate() throws {
        guard PendingResolution(rawValue: resolutionName) != nil else {
            throw ValidationError("--as must be one of \(PendingResolution.allCases.map(\.rawValue).joined(separator: ", ")), "
                + "not '\(resolutionName)'")
        }
    }

    func run() throws {
        try audit.actions(try storage.open()).resolvePending(gateway: target.gateway, orderID: target.orderID, as: resolution)
        Output.note("resolved \(target.gateway)/\(target.orderID) as \(resolution.rawValue)")
    }
}

struct PendingDeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete one pending donation for good.")

    @OptionGroup var storage: StorageOptions
    @OptionGroup var target: PendingRowArguments
    @OptionGroup var audit: AuditOptions

    func run() throws {
        try audit.actions(try storage.open()).deletePending(gateway: target.gateway, orderID: target.orderID)
        Output.note("deleted \(target.gateway)/\(target.orderID)")
    }
}
