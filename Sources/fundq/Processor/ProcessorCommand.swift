import ArgumentParser
import Backends
import Core
import Foundation
import Processors

/// `fundq processor list` and `fundq processor NAME status|check|finish|cancel …`.
struct ProcessorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "processor",
        abstract: "List processors; ask one for a payment's status; check its configuration; finish or cancel one payment.",
        usage: """
            fundq processor list [--json]
            fundq processor NAME status ORDER_ID|TOKEN [--json]
            fundq processor NAME check [--json]
            fundq processor check --all [--json]
            fundq processor NAME finish ORDER_ID|TOKEN [--dry-run] [--json]
            fundq processor NAME cancel ORDER_ID [--dry-run] [--json]
            """,
        discussion: """
            status and check are read-only. finish and cancel move money; with --dry-run they print the exact \
            request they would send (credentials masked) and send nothing that changes anything.
            """
    )

    @OptionGroup var processors: ProcessorOptions
    @OptionGroup var storage: StorageOptions
    @OptionGroup var money: MoneyOptions

    @Argument(help: "list, or a processor's name.", completion: .list(["list", "check"] + Processors.all.map { $0.name }))
    var name: String

    @Argument(help: "status, check, finish or cancel.")
    var action: String?

    @Argument(help: "The payment's id in the field the processor names payments by (`fundq processor list`: IDENTITY).")
    var id: String?

    @Flag(help: "With check: check every registered processor and print each one's effective configuration and its sources.")
    var all = false

    func validate() throws {
        if name == "check" {
            guard all, action == nil else {
                throw ValidationError("'processor check' checks every processor with --all; one: fundq processor NAME check")
            }
            return
        }
        if all { throw ValidationError("--all goes with 'processor check' only") }
        if name == "list" {
            guard action == nil else { throw ValidationError("'processor list' takes no further arguments") }
            return
        }
        guard Processors.named(name) != nil else {
            throw ValidationError("no processor called '\(name)'; registered: \(Processors.all.map { $0.name }.joined(separator: ", "))")
        }
        switch action {
        case "check": guard id == nil else { throw ValidationError("'processor \(name) check' takes no id") }
        case "status", "finish", "cancel":
            guard id != nil else { throw ValidationError("'processor \(name) \(action!)' needs an order id or token") }
        case nil: throw ValidationError("say what to do: fundq processor \(name) status|check|finish|cancel")
        default: throw ValidationError("unknown action '\(action!)': use status, check, finish or cancel")
        }
    }

    func run() throws {
        if name == "check" { return try ProcessorCheckAllCommand(processors: processors, json: money.json).run() }
        switch action {
        case nil: try ProcessorListCommand(processors: processors, json: money.json).run()
        case "status": try ProcessorStatusCommand(processors: processors, storage: storage, name: name, id: id!, json: money.json).run()
        case "check": try ProcessorCheckCommand(processors: processors, name: name, json: money.json).run()
        case "finish":
            try ProcessorMoneyCommand(processors: processors, storage: storage, money: money, name: name, id: id!, action: .finish).run()
        default:
            try ProcessorMoneyCommand(processors: processors, storage: storage, money: money, name: name, id: id!, action: .cancel).run()
        }
    }

    /// A pending row to ask about: the stored one when the pending database
    /// has it (by order id, or by transaction id for processors that name
    /// payments by it), else one made from the id in the field the
    /// processor's payments are named by (``PaymentProcessor/paymentIdentity``).
    static func row(for processor: any PaymentProcessor, id: String, storage: StorageOptions?) throws -> PendingRecord {
        let adapter = type(of: processor)
        if let storage, let database = try? Storage.openDatabase(storage.configuration, readOnly: true) {
            let store = PendingStore(connection: database)
            if let stored = try? store.fetch(gateway: adapter.gateway, orderID: id) { return stored }
            if adapter.paymentIdentity == .transactionID,
               let stored = try? store.fetch(gateway: adapter.gateway, gatewayTxnID: id).first {
                return stored
            }
        }
        return adapter.paymentIdentity.row(gateway: adapter.gateway, id: id)
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
    @Option(help: ArgumentHelp("Folder of the processors' NAME.yaml files (env FUNDQ_PROCESSORS_DIR, default ./processors).",
                               valueName: "dir"))
    var processorsDir: String?

    var directory: String {
        processorsDir ?? ProcessInfo.processInfo.environment["FUNDQ_PROCESSORS_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "./processors"
    }

    func make(_ name: String) throws -> any PaymentProcessor {
        try Processors.make(name, directory: directory)
    }
}

/// The registered processors: name, configuration file, endpoint, capabilities.
struct ProcessorListCommand {
    let processors: ProcessorOptions
    let json: Bool

    func run() throws {
        var rows: [[String]] = []
        var items: [JSONValue] = []
        for type in Processors.all {
            let config = try? ProcessorConfiguration.load(name: type.name, directory: processors.directory)
            let capabilities = type.capabilities.sorted().map(\.rawValue)
            let endpoint = config.map { SecretMasking.url($0.endpoint) }
            rows.append([type.name, type.gateway, type.paymentIdentity.rawValue, config?.source ?? "(missing)", endpoint ?? "-",
                         capabilities.joined(separator: ",")])
            items.append(.object([
                "name": .string(type.name), "gateway": .string(type.gateway), "identity": .string(type.paymentIdentity.rawValue),
                "config": config.map { .string($0.source) } ?? .null,
                "endpoint": endpoint.map(JSONValue.string) ?? .null, "capabilities": .array(capabilities.map(JSONValue.string)),
            ]))
        }
        if json { try Output.json(.array(items)) } else {
            try Output.line(Output.table(["NAME", "GATEWAY", "IDENTITY", "CONFIG", "ENDPOINT", "CAPABILITIES"], rows))
        }
    }
}

/// Asks the processor what became of one payment (read-only) and prints the
/// normalized status with its evidence.
struct ProcessorStatusCommand {
    let processors: ProcessorOptions
    let storage: StorageOptions
    let name: String
    let id: String
    let json: Bool

    func run() throws {
        let processor = try processors.make(name)
        let status = try processor.status(of: try ProcessorCommand.row(for: processor, id: id, storage: storage))
        if json {
            try Output.json(ProcessorCommand.json(status, processor: name, id: id))
        } else {
            try Output.line(ProcessorCommand.text(status))
        }
    }
}

/// Checks a processor's configuration and connectivity, with no side
/// effects (a read-only call for a made-up id).
struct ProcessorCheckCommand {
    let processors: ProcessorOptions
    let name: String
    let json: Bool

    func run() throws {
        let config = try ProcessorConfiguration.load(name: name, directory: processors.directory)
        if json {
            let (probe, answer) = try connectivity()
            try Output.json(.object([
                "processor": .string(name), "configuration": .string(config.source),
                "endpoint": .string(SecretMasking.url(config.endpoint)),
                "credentials": .object(config.credentialVariables.mapValues(JSONValue.string)),
                "connect_timeout_seconds": Output.number(config.connectTimeout.seconds),
                "total_timeout_seconds": Output.number(config.totalTimeout.seconds),
                "rate_limit_per_second": Output.number(config.rateLimitPerSecond), "concurrency": Output.number(config.concurrency),
                "probe_id": .string(probe), "connectivity": .string(answer),
            ]))
            return
        }
        let credentials = config.credentialVariables.sorted { $0.key < $1.key }.map { "\($0.key) from \($0.value)" }
        try Output.line("configuration: \(config.source)")
        try Output.line("endpoint:      \(SecretMasking.url(config.endpoint))")
        try Output.line("credentials:   \(credentials.joined(separator: ", "))")
        try Output.line("timeouts:      connect \(config.connectTimeout.seconds) s, total \(config.totalTimeout.seconds) s; "
            + "\(config.rateLimitPerSecond)/s, \(config.concurrency) at once")
        try Output.line("connectivity:  \(try connectivity().answer)")
    }

    /// Asks for a made-up id: the probe and what the answer shows.
    func connectivity() throws -> (probe: String, answer: String) {
        let processor = try processors.make(name)
        let probe = "fundq-check-\(UUID().uuidString.prefix(8))"
        do {
            let status = try processor.status(of: try ProcessorCommand.row(for: processor, id: probe, storage: nil))
            return (probe, "answered for made-up id \(probe) with \(status.status.rawValue) (\(status.evidence))")
        } catch let error as ProcessorError {
            switch error.kind {
            case .processorError(let code, let message):
                return (probe, "ok (the processor answered error \(code) \"\(message)\" for made-up id \(probe), as expected)")
            case .httpError(404, let body):
                return (probe, "ok (the processor answered 404 \"\(body.prefix(120))\" for made-up id \(probe), as expected)")
            default:  // refused credentials (.authentication) among them
                throw error
            }
        }
    }
}

/// `processor check --all`: every processor's effective configuration, each
/// value with where it came from, its credentials and connectivity; exit 1
/// when any fails (after checking all of them).
struct ProcessorCheckAllCommand {
    let processors: ProcessorOptions
    let json: Bool

    func run() throws {
        var failed: [String] = []
        var items: [JSONValue] = []
        for type in Processors.all {
            var item: [String: JSONValue] = ["processor": .string(type.name), "configuration": .null, "settings": .object([:]),
                                             "connectivity": .null, "error": .null]
            do {
                let config = try ProcessorConfiguration.load(name: type.name, directory: processors.directory)
                item["configuration"] = .string(config.source)
                let settings = config.effective.sorted { $0.key < $1.key }
                item["settings"] = .object(Dictionary(uniqueKeysWithValues: settings.map {
                    ($0.key, .object(["value": .string(SecretMasking.urls(in: $0.value.value)), "source": .string($0.value.source)]))
                }))
                if !json {
                    try Output.line("\(type.name) (\(config.source))")
                    try Output.line(Output.table(["  KEY", "VALUE", "SOURCE"], settings.map {
                        ["  " + $0.key, SecretMasking.urls(in: $0.value.value), $0.value.source]
                    }))
                }
                let answer = try ProcessorCheckCommand(processors: processors, name: type.name, json: json).connectivity().answer
                item["connectivity"] = .string(answer)
                if !json { try Output.line("  connectivity: \(answer)\n") }
            } catch {
                failed.append(type.name)
                item["error"] = .string(SecretMasking.urls(in: "\(error)"))
                if !json { try Output.line("  FAILED: \(SecretMasking.urls(in: "\(error)"))\n") }
            }
            items.append(.object(item))
        }
        if json { try Output.json(.array(items)) }
        guard failed.isEmpty else {
            let names = failed.joined(separator: ", ")
            throw ConfigurationError("\(failed.count) of \(Processors.all.count) processors failed their check: \(names)")
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

/// Finishes (capturing an authorized payment: asks for its status first and
/// refuses unless it is pending-poke) or cancels one payment; with
/// `--dry-run`, prints the request instead of sending it.
struct ProcessorMoneyCommand {
    let processors: ProcessorOptions
    let storage: StorageOptions
    let money: MoneyOptions
    let name: String
    let id: String
    let action: ProcessorCapability

    func run() throws {
        let processor = try processors.make(name)
        let row = try ProcessorCommand.row(for: processor, id: id, storage: storage)
        var current: ProcessorStatus? = nil
        if action == .finish {
            let status = try processor.status(of: row)
            guard status.status == .pendingPoke else {
                throw ConfigurationError("\(name) \(id) is \(status.status.rawValue) (\(status.evidence)); "
                    + "only pending-poke payments are finished")
            }
            current = status
        }
        if money.dryRun {
            try Output.line("dry run: would send\n" + (try processor.preview(action, for: row, current: current)))
            return
        }
        let done = action == .finish ? try processor.finish(row, current: current!) : try processor.cancel(row)
        if money.json {
            try Output.json(ProcessorCommand.json(done, processor: name, id: id))
        } else {
            try Output.line(ProcessorCommand.text(done))
        }
    }
}
