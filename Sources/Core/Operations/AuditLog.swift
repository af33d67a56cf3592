public import Foundation

/// One action a person took by hand, with the reason they gave: a row of `fundq_audit`.
public struct AuditEntry: Sendable, Equatable {
    /// The row's id.
    public var id: Int64
    /// When.
    public var at: Date
    /// Who (`--by`, by default the OS user).
    public var actor: String
    /// What: `pending-resolve`, `pending-delete`, `damaged-requeue`, `damaged-delete`.
    public var action: String
    /// On what: `pending acme/o1 (id 17)`, `damaged 42 (queue donations)`.
    public var target: String
    /// Why, in the actor's words.
    public var reason: String
    /// More about it (the resolution; the damaged message's error, masked).
    public var detail: String?

    /// An entry.
    public init(id: Int64, at: Date, actor: String, action: String, target: String, reason: String, detail: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.reason = reason
        self.detail = detail
    }
}

/// The audit log (`fundq_audit`): written in the same transaction as the
/// change it records, so an entry exists exactly when the change was made.
public struct AuditLog {
    /// The database holding the log.
    public let connection: any SQLConnection

    /// The log in `connection`'s database.
    public init(connection: any SQLConnection) {
        self.connection = connection
    }

    /// Records an entry; returns its id.
    @discardableResult
    public func record(actor: String, action: String, target: String, reason: String, detail: String? = nil,
                       at now: Date = Date()) throws -> Int64 {
        try connection.insert("INSERT INTO fundq_audit (at, actor, action, target, reason, detail) VALUES (?, ?, ?, ?, ?, ?)",
                              [connection.dialect.value(now), .text(String(actor.prefix(255))), .text(action),
                               .text(String(target.prefix(1000))), .text(reason), .text(detail)])
    }

    /// Entries, newest first, optionally since a time and of one action.
    public func list(since: Date? = nil, action: String? = nil, limit: Int = 100) throws -> [AuditEntry] {
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if let since { conditions.append("at >= ?"); parameters.append(connection.dialect.value(since)) }
        if let action { conditions.append("action = ?"); parameters.append(.text(action)) }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT id, at, actor, action, target, reason, detail FROM fundq_audit\(whereClause) ORDER BY id DESC LIMIT ?"
        return try connection.query(sql, parameters + [.int(limit)]).map { r in
            AuditEntry(id: r[0].int64 ?? 0, at: connection.dialect.date(r[1]) ?? Date(timeIntervalSince1970: 0), actor: r[2].string ?? "",
                       action: r[3].string ?? "", target: r[4].string ?? "", reason: r[5].string ?? "", detail: r[6].string)
        }
    }

    /// The OS user running this process (the default actor).
    public static func osUser() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return ProcessInfo.processInfo.environment["USER"] ?? "uid \(geteuid())"
    }
}
