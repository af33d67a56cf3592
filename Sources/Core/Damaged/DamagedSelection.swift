public import Foundation

/// Which damaged messages a bulk requeue or delete takes: every one from a
/// queue, optionally only those damaged before a time and those whose
/// error contains a text (case-insensitive, the same on both databases).
public struct DamagedSelection: Sendable, Equatable {
    /// The original queue.
    public var queue: String
    /// Only messages damaged before this.
    public var damagedBefore: Date?
    /// Only messages whose error contains this.
    public var errorContains: String?

    /// A selection.
    public init(queue: String, damagedBefore: Date? = nil, errorContains: String? = nil) {
        self.queue = queue
        self.damagedBefore = damagedBefore
        self.errorContains = errorContains
    }

    /// The ids of the matching messages in `connection`'s damaged store, oldest first.
    public func ids(in connection: any SQLConnection) throws -> [Int64] {
        var sql = "SELECT id, error FROM damaged WHERE original_queue = ?"
        var parameters: [SQLValue] = [.text(queue)]
        if let damagedBefore {
            sql += " AND damaged_date < ?"
            parameters.append(connection.dialect.value(damagedBefore))
        }
        let needle = errorContains?.lowercased()
        return try connection.query(sql + " ORDER BY id", parameters).compactMap { row in
            if let needle, !(row[1].string ?? "").lowercased().contains(needle) { return nil }
            return row[0].int64
        }
    }
}
