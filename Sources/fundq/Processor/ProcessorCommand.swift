import ArgumentParser
import Core
import Foundation
import Processors

/// `fundq processor …`: the registered processors, and read-only or dry-run
/// calls to one of them.
struct ProcessorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "processor",
        abstract: "List processors; ask one for a payment's status; finish or cancel one payment (with --dry-run to only show the request).",
        subcommands: [ProcessorListCommand.self, ProcessorStatusCommand.self, ProcessorCheckCommand.self,
                      ProcessorFinishCommand.self, ProcessorCancelCommand.self]
    )

    /// A pending row to ask about: the stored one when the pending database
    /// has it, else one made from the id (PayPal's token is its session id).
    static func row(for processor: any PaymentProcessor, id: String, storage: StorageOptions?) throws -> PendingRecord {
        let gateway = type(of: processor).gateway
        if let storage, let stored = try? PendingStore(connection: Storage.openDatabase(storage.configuration)).fetch(gateway: gateway, orderID: id) {
            return stored
        }
        return PendingRecord(id: 0, date: Date(), gateway: gateway, gatewayAccount: nil, orderID: id, gatewayTxnID: nil,
                             gatewaySessionID: id, contributionTrackingID: nil, paymentMethod: nil,
                             message: ["gateway": .string(gateway), "order_id": .string(id)], attempts: 0,
                             lastAttemptDate: nil, nextAttemptDate: nil, resolution: nil, resolvedDate: nil)
    }

    /// A status as JSON.
    static func json(_ s: ProcessorStatus, processor: String, id: String) -> JSONValue {
        .object([
            "processor": .string(processor), "id": .string(id), "status": .string(s.status.rawValue), "evidence": .string(s.evidence),
            "transaction_id": s.transactionID.map(JSONValue.string) ?? .null, "fee": s.fee.map(JSONValue.string) ?? .null,
            "raw": .string(s.raw),
        ])
    }

    /// A status for people.
    static func text(_ s: ProcessorStatus) -> String {
        var lines = ["status:   \(s.status.rawValue)", "evidence: \(s.evidence)"]
        if let t = s.transactionID { lines.append("txn id:   \(t)") }
        if let f = s.fee { lines.append("fee:      \(f)") }
        lines.append("raw:      \(s.raw)")
        return lines.joined(separator: "\n")
    }
}

/// Where the processors' configuration files are.
struct ProcessorOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Folder of the processors' NAME.yaml files (env FUNDQ_PROCESSORS_DIR, default ./processors).", valueName: "dir"))
    var processorsDir: String?

    var directory: String {
        processorsDir ?? ProcessInfo.processInfo.environment["FUNDQ_PROCESSORS_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "./processors"
    }

    func make(_ name: String) throws -> any PaymentProcessor {
        try Processors.make(name, directory: directory)
    }
}

struct ProcessorListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The registered processors: name, configuration file, endpoint, capabilities.")

    @OptionGroup var processors: ProcessorOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        var rows: [[String]] = []
        var items: [JSONValue] = []
        for type in Processors.all {
            let config = try? ProcessorConfiguration.load(name: type.name, directory: processors.directory)
            let capabilities = type.capabilities.sorted().map(\.rawValue)
            rows.append([type.name, type.gateway, config?.source ?? "(missing)", config?.endpoint ?? "-", capabilities.joined(separator: ",")])
            items.append(.object([
                "name": .string(type.name), "gateway": .string(type.gateway), "config": config.map { .string($0.source) } ?? .null,
                "endpoint": config.map { .string($0.endpoint) } ?? .null, "capabilities": .array(capabilities.map(JSONValue.string)),
            ]))
        }
        if json { try Output.json(.array(items)) } else {
            try Output.line(Output.table(["NAME", "GATEWAY", "CONFIG", "ENDPOINT", "CAPABILITIES"], rows))
        }
    }
}

struct ProcessorStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Ask the processor what became of one payment (read-only) and print the normalized status with its evidence.")

    @OptionGroup var processors: ProcessorOptions
    @OptionGroup var storage: StorageOptions

    @Argument(help: "The processor's name.")
    var name: String

    @Argument(help: "The order id (GlobalCollect) or checkout token (PayPal).")
    var id: String

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let processor = try processors.make(name)
        let status = try processor.status(of: try ProcessorCommand.row(for: processor, id: id, storage: storage))
        if json { try Output.json(ProcessorCommand.json(status, processor: name, id: id)) } else { try Output.line(ProcessorCommand.text(status)) }
    }
}

struct ProcessorCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a processor's configuration and connectivity, with no side effects (a read-only call for a made-up id).")

    @OptionGroup var processors: ProcessorOptions

    @Argument(help: "The processor's name.")
    var name: String

    func run() throws {
        let config = try ProcessorConfiguration.load(name: name, directory: processors.directory)
        try Output.line("configuration: \(config.source)")
        try Output.line("endpoint:      \(config.endpoint)")
        try Output.line("credentials:   \(config.credentialVariables.sorted { $0.key < $1.key }.map { "\($0.key) from \($0.value)" }.joined(separator: ", "))")
        try Output.line("timeouts:      connect \(config.connectTimeout.seconds) s, total \(config.totalTimeout.seconds) s; \(config.rateLimitPerSecond)/s, \(config.concurrency) at once")
        let processor = try processors.make(name)
        let probe = "fundq-check-\(UUID().uuidString.prefix(8))"
        do {
            let status = try processor.status(of: try ProcessorCommand.row(for: processor, id: probe, storage: nil))
            try Output.line("connectivity:  answered for made-up id \(probe) with \(status.status.rawValue) (\(status.evidence))")
        } catch let error as ProcessorError {
            switch error.kind {
            case .processorError(let code, let message) where !["10002", "410120"].contains(code):
                try Output.line("connectivity:  ok (the processor answered error \(code) \"\(message)\" for made-up id \(probe), as expected)")
            default:
                throw error
            }
        }
    }
}

/// Options of the money-moving commands.
struct MoneyOptions: ParsableArguments {
    @Flag(help: "Only print the exact request that would be sent (credentials masked); send nothing that moves money.")
    var dryRun = false

    @Flag(help: "Print the result as JSON.")
    var json = false
}

struct ProcessorFinishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finish",
        abstract: "Finish or capture one authorized payment (asks for its status first; refuses unless it is pending-poke).")

    @OptionGroup var processors: ProcessorOptions
    @OptionGroup var storage: StorageOptions
    @OptionGroup var money: MoneyOptions

    @Argument(help: "The processor's name.")
    var name: String

    @Argument(help: "The order id (GlobalCollect) or checkout token (PayPal).")
    var id: String

    func run() throws {
        let processor = try processors.make(name)
        let row = try ProcessorCommand.row(for: processor, id: id, storage: storage)
        let current = try processor.status(of: row)
        guard current.status == .pendingPoke else {
            throw ConfigurationError("\(name) \(id) is \(current.status.rawValue) (\(current.evidence)); only pending-poke payments are finished")
        }
        if money.dryRun {
            try Output.line("dry run: would send\n" + (try processor.preview(.finish, for: row, current: current)))
            return
        }
        let done = try processor.finish(row, current: current)
        if money.json { try Output.json(ProcessorCommand.json(done, processor: name, id: id)) } else { try Output.line(ProcessorCommand.text(done)) }
    }
}

struct ProcessorCancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel one payment at the processor.")

    @OptionGroup var processors: ProcessorOptions
    @OptionGroup var storage: StorageOptions
    @OptionGroup var money: MoneyOptions

    @Argument(help: "The processor's name.")
    var name: String

    @Argument(help: "The order id.")
    var id: String

    func run() throws {
        let processor = try processors.make(name)
        let row = try ProcessorCommand.row(for: processor, id: id, storage: storage)
        if money.dryRun {
            try Output.line("dry run: would send\n" + (try processor.preview(.cancel, for: row, current: nil)))
            return
        }
        let done = try processor.cancel(row)
        if money.json { try Output.json(ProcessorCommand.json(done, processor: name, id: id)) } else { try Output.line(ProcessorCommand.text(done)) }
    }
}
