public import Foundation

/// The changes a person makes by hand to pending rows and damaged messages,
/// each recorded in the ``AuditLog`` with its actor and reason in the same
/// transaction as the change (a damaged message is appended to its queue
/// first: should the transaction then fail, it is in both places, never in
/// neither).
public struct ManualActions {
    /// The stores changed.
    public let storage: any OpenedStores
    /// Who acts.
    public let actor: String
    /// Why.
    public let reason: String

    /// Actions by `actor` for `reason` (which must say something).
    public init(storage: any OpenedStores, actor: String, reason: String) throws {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        let actor = actor.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw ConfigurationError("a reason is required (--reason)") }
        guard !actor.isEmpty else { throw ConfigurationError("an actor is required (--by)") }
        self.storage = storage
        self.actor = actor
        self.reason = reason
    }

    private var audit: AuditLog { AuditLog(connection: storage.database) }

    /// Resolves the pending row `gateway`/`orderID` as `resolution`.
    public func resolvePending(gateway: String, orderID: String, as resolution: PendingResolution) throws {
        let store = PendingStore(connection: storage.database)
        try storage.database.transaction {
            guard let row = try store.fetch(gateway: gateway, orderID: orderID) else {
                throw ConfigurationError("no pending donation \(gateway)/\(orderID)")
            }
            guard try store.resolve(id: row.id, as: resolution) else {
                let was = row.resolution?.rawValue ?? "?"
                throw ConfigurationError("pending donation \(gateway)/\(orderID) is already resolved as \(was)")
            }
            try audit.record(actor: actor, action: "pending-resolve", target: "pending \(gateway)/\(orderID) (id \(row.id))",
                             reason: reason, detail: "as \(resolution.rawValue)")
        }
    }

    /// Deletes the pending row `gateway`/`orderID`.
    public func deletePending(gateway: String, orderID: String) throws {
        let store = PendingStore(connection: storage.database)
        try storage.database.transaction {
            guard let row = try store.fetch(gateway: gateway, orderID: orderID),
                  try store.delete(gateway: gateway, orderID: orderID) else {
                throw ConfigurationError("no pending donation \(gateway)/\(orderID)")
            }
            try audit.record(actor: actor, action: "pending-delete", target: "pending \(gateway)/\(orderID) (id \(row.id))",
                             reason: reason, detail: row.resolution.map { "was resolved as \($0.rawValue)" } ?? "was unresolved")
        }
    }

    /// Puts damaged message `id` back on its queue; `false` when there is none.
    public func requeueDamaged(id: Int64) throws -> Bool {
        try storage.database.transaction {
            guard let record = try storage.damaged.fetch(id: id) else { return false }
            try DamagedRequeuer(queue: storage.queue, damaged: storage.damaged).requeue(record)
            try audit.record(actor: actor, action: "damaged-requeue", target: Self.target(record), reason: reason,
                             detail: Self.detail(record))
            return true
        }
    }

    /// Deletes damaged message `id`; `false` when there is none.
    public func deleteDamaged(id: Int64) throws -> Bool {
        try storage.database.transaction {
            guard let record = try storage.damaged.fetch(id: id), try storage.damaged.delete(id: id) else { return false }
            try audit.record(actor: actor, action: "damaged-delete", target: Self.target(record), reason: reason,
                             detail: Self.detail(record))
            return true
        }
    }

    /// Requeues every damaged message whose retry date has passed; returns how many.
    public func requeueDueDamaged(at now: Date = Date()) throws -> Int {
        var total = 0
        while true {
            let due = try storage.damaged.due(at: now, limit: 500)
            for record in due {
                if try requeueDamaged(id: record.id) { total += 1 }
            }
            if due.count < 500 { return total }
        }
    }

    static func target(_ r: DamagedMessage) -> String { "damaged \(r.id) (queue \(r.originalQueue))" }

    static func detail(_ r: DamagedMessage) -> String {
        let order = [r.gateway, r.orderID].compactMap { $0 }.joined(separator: "/")
        let error = PersonalData.maskedText(r.error, showPersonalData: false).prefix(300)
        return (order.isEmpty ? "" : "order \(order); ") + "error: " + error
    }
}
