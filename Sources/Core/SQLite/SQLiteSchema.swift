/// The embedded database's schema, as numbered migrations recorded in
/// `fundq_schema`. Each migration runs once, in its own transaction.
public enum SQLiteSchema {
    /// The migrations, in order; a migration's version is its position + 1.
    static let migrations: [String] = [
        // 1: queues and the damaged store.
        """
        CREATE TABLE queue_message (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          queue TEXT NOT NULL,
          body BLOB NOT NULL,
          enqueued_at REAL NOT NULL,
          lease_until REAL NOT NULL DEFAULT 0,
          deliveries INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX queue_message_by_queue ON queue_message(queue, id);
        CREATE INDEX queue_message_by_lease ON queue_message(queue, lease_until, id);
        CREATE TABLE damaged (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          original_date REAL,
          damaged_date REAL NOT NULL,
          retry_date REAL,
          original_queue TEXT NOT NULL,
          gateway TEXT,
          order_id TEXT,
          gateway_txn_id TEXT,
          error TEXT NOT NULL,
          trace TEXT,
          message BLOB NOT NULL
        );
        CREATE INDEX damaged_by_retry_date ON damaged(retry_date);
        CREATE INDEX damaged_by_queue ON damaged(original_queue, id);
        """,
    ]

    /// The schema version this build expects.
    public static var currentVersion: Int { migrations.count }

    /// Applies every migration `database` has not had yet. Safe to call from
    /// several processes at once: each migration checks the version inside
    /// its write transaction.
    public static func migrate(_ database: SQLiteDatabase) throws {
        try database.execute("CREATE TABLE IF NOT EXISTS fundq_schema (version INTEGER NOT NULL, applied_at REAL NOT NULL)",
                             context: "creating the schema table in \(database.path)")
        for (offset, sql) in migrations.enumerated() {
            let version = offset + 1
            try database.transaction {
                guard try installedVersion(database) < version else { return }
                try database.execute(sql, context: "applying schema migration \(version) to \(database.path)")
                try database.prepare("INSERT INTO fundq_schema (version, applied_at) VALUES (?, unixepoch('now'))")
                    .bind(.int(version)).run()
            }
        }
        let installed = try installedVersion(database)
        if installed > currentVersion {
            throw ConfigurationError("\(database.path) has schema version \(installed), newer than this fundq (\(currentVersion)); upgrade fundq")
        }
    }

    /// The highest migration applied to `database`.
    public static func installedVersion(_ database: SQLiteDatabase) throws -> Int {
        try database.prepare("SELECT COALESCE(MAX(version), 0) FROM fundq_schema").firstRow { Int($0.int(0) ?? 0) } ?? 0
    }
}
