import ArgumentParser
import Backends
import Core

/// Who takes an action by hand and why: recorded in the audit log (`fundq audit`).
struct AuditOptions: ParsableArguments {
    @Option(help: "Why (required; recorded in the audit log with the change).")
    var reason: String

    @Option(help: ArgumentHelp("Who acts (default: the OS user).", valueName: "name"))
    var by: String?

    func validate() throws {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw ValidationError("--reason must say why") }
        if let by, by.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("--by must name someone") }
    }

    /// The audited actions on `stores`.
    func actions(_ stores: Storage) throws -> ManualActions {
        try ManualActions(storage: stores, actor: by ?? AuditLog.osUser(), reason: reason)
    }
}
