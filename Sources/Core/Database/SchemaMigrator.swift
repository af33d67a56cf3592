import Foundation

/// fundq's database schema as numbered migrations, one SQL text per dialect,
/// recorded in `fundq_schema`. The embedded file is migrated when it is
/// opened; MariaDB is migrated by `fundq db migrate`, and every other command
/// refuses to run on an older schema with an error saying so.
public enum SchemaMigrator {
    struct Migration {
        let summary: String
        let sqlite: String
        let mariadb: String
    }

    static let migrations: [Migration] = [
        Migration(
            summary: "queues and the damaged store",
            sqlite: """
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
                CREATE INDEX damaged_by_queue ON damaged(original_queue, id)
                """,
            mariadb: """
                CREATE TABLE damaged (
                  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  original_date DATETIME(6) NULL,
                  damaged_date DATETIME(6) NOT NULL,
                  retry_date DATETIME(6) NULL,
                  original_queue VARCHAR(255) NOT NULL,
                  gateway VARCHAR(255) NULL,
                  order_id VARCHAR(255) NULL,
                  gateway_txn_id VARCHAR(255) NULL,
                  error MEDIUMTEXT NOT NULL,
                  trace MEDIUMTEXT NULL,
                  message LONGBLOB NOT NULL,
                  KEY damaged_by_retry_date (retry_date),
                  KEY damaged_by_queue (original_queue, id)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """),
        Migration(
            summary: "the pending database and the donations table",
            sqlite: """
                CREATE TABLE pending (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  date REAL NOT NULL,
                  gateway TEXT NOT NULL,
                  gateway_account TEXT,
                  order_id TEXT,
                  gateway_txn_id TEXT,
                  gateway_session_id TEXT,
                  contribution_tracking_id TEXT,
                  payment_method TEXT,
                  message TEXT NOT NULL,
                  attempts INTEGER NOT NULL DEFAULT 0,
                  last_attempt_date REAL,
                  next_attempt_date REAL,
                  claimed_by TEXT,
                  claim_until REAL,
                  resolution TEXT,
                  resolved_date REAL
                );
                CREATE UNIQUE INDEX pending_by_order ON pending(gateway, order_id);
                CREATE INDEX pending_by_date ON pending(date);
                CREATE INDEX pending_by_gateway_date ON pending(gateway, date);
                CREATE INDEX pending_by_txn ON pending(gateway_txn_id, gateway);
                CREATE INDEX pending_by_next_attempt ON pending(gateway, next_attempt_date);
                CREATE INDEX pending_by_resolved_date ON pending(resolved_date);
                CREATE TABLE donations (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  gateway TEXT NOT NULL,
                  gateway_txn_id TEXT NOT NULL,
                  order_id TEXT,
                  contribution_tracking_id TEXT,
                  currency TEXT NOT NULL,
                  gross TEXT NOT NULL,
                  fee TEXT,
                  date REAL,
                  message TEXT NOT NULL,
                  received_date REAL NOT NULL
                );
                CREATE UNIQUE INDEX donations_by_txn ON donations(gateway, gateway_txn_id);
                CREATE INDEX donations_by_order ON donations(gateway, order_id)
                """,
            mariadb: """
                CREATE TABLE pending (
                  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  date DATETIME(6) NOT NULL,
                  gateway VARCHAR(255) NOT NULL,
                  gateway_account VARCHAR(255) NULL,
                  order_id VARCHAR(255) NULL,
                  gateway_txn_id VARCHAR(255) NULL,
                  gateway_session_id VARCHAR(255) NULL,
                  contribution_tracking_id VARCHAR(255) NULL,
                  payment_method VARCHAR(255) NULL,
                  message MEDIUMTEXT NOT NULL,
                  attempts INT NOT NULL DEFAULT 0,
                  last_attempt_date DATETIME(6) NULL,
                  next_attempt_date DATETIME(6) NULL,
                  claimed_by VARCHAR(255) NULL,
                  claim_until DATETIME(6) NULL,
                  resolution VARCHAR(32) NULL,
                  resolved_date DATETIME(6) NULL,
                  UNIQUE KEY pending_by_order (gateway, order_id),
                  KEY pending_by_date (date),
                  KEY pending_by_gateway_date (gateway, date),
                  KEY pending_by_txn (gateway_txn_id, gateway),
                  KEY pending_by_next_attempt (gateway, next_attempt_date),
                  KEY pending_by_resolved_date (resolved_date)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
                CREATE TABLE donations (
                  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  gateway VARCHAR(255) NOT NULL,
                  gateway_txn_id VARCHAR(255) NOT NULL,
                  order_id VARCHAR(255) NULL,
                  contribution_tracking_id VARCHAR(255) NULL,
                  currency CHAR(3) NOT NULL,
                  gross DECIMAL(20,4) NOT NULL,
                  fee DECIMAL(20,4) NULL,
                  date DATETIME(6) NULL,
                  message MEDIUMTEXT NOT NULL,
                  received_date DATETIME(6) NOT NULL,
                  UNIQUE KEY donations_by_txn (gateway, gateway_txn_id),
                  KEY donations_by_order (gateway, order_id)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """),
        Migration(
            summary: "the rectifier: rows needing review, and the decision log",
            sqlite: """
                ALTER TABLE pending ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE pending ADD COLUMN review_reason TEXT;
                CREATE INDEX pending_by_review ON pending(needs_review, gateway);
                CREATE TABLE rectifier_decision (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  time REAL NOT NULL,
                  run_id TEXT NOT NULL,
                  processor TEXT NOT NULL,
                  gateway TEXT NOT NULL,
                  order_id TEXT,
                  pending_id INTEGER NOT NULL,
                  status TEXT NOT NULL,
                  evidence TEXT NOT NULL,
                  raw TEXT,
                  action TEXT NOT NULL,
                  result TEXT NOT NULL
                );
                CREATE INDEX rectifier_decision_by_order ON rectifier_decision(gateway, order_id, id);
                CREATE INDEX rectifier_decision_by_time ON rectifier_decision(time)
                """,
            mariadb: """
                ALTER TABLE pending ADD COLUMN needs_review TINYINT NOT NULL DEFAULT 0, ADD COLUMN review_reason TEXT NULL,
                  ADD KEY pending_by_review (needs_review, gateway);
                CREATE TABLE rectifier_decision (
                  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  time DATETIME(6) NOT NULL,
                  run_id VARCHAR(64) NOT NULL,
                  processor VARCHAR(64) NOT NULL,
                  gateway VARCHAR(255) NOT NULL,
                  order_id VARCHAR(255) NULL,
                  pending_id BIGINT UNSIGNED NOT NULL,
                  status VARCHAR(32) NOT NULL,
                  evidence TEXT NOT NULL,
                  raw MEDIUMTEXT NULL,
                  action VARCHAR(64) NOT NULL,
                  result TEXT NOT NULL,
                  KEY rectifier_decision_by_order (gateway, order_id, id),
                  KEY rectifier_decision_by_time (time)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """),
        Migration(
            summary: "identifiers compare byte for byte; damaged messages too large to keep whole keep their size and digest",
            sqlite: """
                ALTER TABLE damaged ADD COLUMN original_size INTEGER;
                ALTER TABLE damaged ADD COLUMN original_sha256 TEXT
                """,
            // utf8mb4_unicode_ci made ch_abc = ch_ABC, café = cafe, x1 = 'x1 '
            // and 😀 = 😁, so unique keys merged distinct payments. NO PAD
            // binary compares the bytes, trailing spaces included. (SQLite's
            // default BINARY collation already does.)
            mariadb: """
                ALTER TABLE pending
                  MODIFY gateway \(binaryID) NOT NULL, MODIFY gateway_account \(binaryID) NULL,
                  MODIFY order_id \(binaryID) NULL, MODIFY gateway_txn_id \(binaryID) NULL,
                  MODIFY gateway_session_id \(binaryID) NULL, MODIFY contribution_tracking_id \(binaryID) NULL,
                  MODIFY claimed_by \(binaryID) NULL;
                ALTER TABLE donations
                  MODIFY gateway \(binaryID) NOT NULL, MODIFY gateway_txn_id \(binaryID) NOT NULL,
                  MODIFY order_id \(binaryID) NULL, MODIFY contribution_tracking_id \(binaryID) NULL;
                ALTER TABLE damaged
                  MODIFY original_queue \(binaryID) NOT NULL, MODIFY gateway \(binaryID) NULL,
                  MODIFY order_id \(binaryID) NULL, MODIFY gateway_txn_id \(binaryID) NULL,
                  ADD COLUMN original_size BIGINT NULL, ADD COLUMN original_sha256 CHAR(64) NULL;
                ALTER TABLE rectifier_decision
                  MODIFY gateway \(binaryID) NOT NULL, MODIFY order_id \(binaryID) NULL
                """),
        Migration(
            summary: "contribution tracking: the current row per attempt, every event, the embedded id sequence",
            sqlite: """
                CREATE TABLE contribution_tracking (
                  id TEXT NOT NULL PRIMARY KEY,
                  contribution_id TEXT,
                  form_amount TEXT, usd_amount TEXT, note TEXT, referrer TEXT, anonymous INTEGER,
                  utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, utm_key TEXT, payments_form TEXT,
                  optout INTEGER, language TEXT, country TEXT, ts TEXT,
                  banner TEXT, landing_page TEXT, payment_method TEXT,
                  first_event_at REAL NOT NULL, last_event_at REAL NOT NULL, event_count INTEGER NOT NULL,
                  status TEXT NOT NULL, abandoned_at REAL, field_ts TEXT NOT NULL
                );
                CREATE UNIQUE INDEX contribution_tracking_by_contribution ON contribution_tracking(contribution_id);
                CREATE INDEX contribution_tracking_by_status ON contribution_tracking(status, last_event_at);
                CREATE INDEX contribution_tracking_by_last_event ON contribution_tracking(last_event_at);
                CREATE INDEX contribution_tracking_by_campaign ON contribution_tracking(utm_campaign, last_event_at);
                CREATE TABLE contribution_tracking_event (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  contribution_tracking_id TEXT NOT NULL,
                  ts INTEGER NOT NULL,
                  event_hash INTEGER NOT NULL,
                  received_at REAL NOT NULL,
                  source_name TEXT,
                  source_host TEXT,
                  source_enqueued_time INTEGER,
                  message TEXT NOT NULL
                );
                CREATE UNIQUE INDEX contribution_tracking_event_by_id \
                ON contribution_tracking_event(contribution_tracking_id, ts, event_hash);
                CREATE TABLE contribution_tracking_sequence (name TEXT NOT NULL PRIMARY KEY, value INTEGER NOT NULL)
                """,
            mariadb: """
                CREATE TABLE contribution_tracking (
                  id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
                  contribution_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NULL,
                  form_amount VARCHAR(20) NULL,
                  usd_amount DECIMAL(20,2) NULL,
                  note TEXT NULL,
                  referrer VARCHAR(4096) NULL,
                  anonymous TINYINT(1) NULL,
                  utm_source VARCHAR(128) NULL,
                  utm_medium VARCHAR(128) NULL,
                  utm_campaign VARCHAR(128) NULL,
                  utm_key VARCHAR(128) NULL,
                  payments_form VARCHAR(128) NULL,
                  optout TINYINT(1) NULL,
                  language VARCHAR(8) NULL,
                  country VARCHAR(2) NULL,
                  ts CHAR(14) NULL,
                  banner VARCHAR(128) NULL,
                  landing_page VARCHAR(128) NULL,
                  payment_method VARCHAR(128) NULL,
                  first_event_at DATETIME(6) NOT NULL,
                  last_event_at DATETIME(6) NOT NULL,
                  event_count INT NOT NULL,
                  status VARCHAR(16) NOT NULL,
                  abandoned_at DATETIME(6) NULL,
                  field_ts TEXT NOT NULL,
                  UNIQUE KEY contribution_tracking_by_contribution (contribution_id),
                  KEY contribution_tracking_by_status (status, last_event_at),
                  KEY contribution_tracking_by_last_event (last_event_at),
                  KEY contribution_tracking_by_campaign (utm_campaign, last_event_at)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
                CREATE TABLE contribution_tracking_event (
                  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  contribution_tracking_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
                  ts BIGINT NOT NULL,
                  event_hash BIGINT NOT NULL,
                  received_at DATETIME(6) NOT NULL,
                  source_name VARCHAR(255) NULL,
                  source_host VARCHAR(255) NULL,
                  source_enqueued_time BIGINT NULL,
                  message MEDIUMTEXT NOT NULL,
                  UNIQUE KEY contribution_tracking_event_by_id (contribution_tracking_id, ts, event_hash)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """),
        // The rectifier's intents (recorded before a money call) move out of
        // the message into their own columns; rows that recorded one under
        // the old message keys keep it. The call-slot schedule every
        // rectifier process shares when the queues are not in Redis.
        Migration(
            summary: "the rectifier's intents in their own columns; shared processor call rates",
            sqlite: """
                ALTER TABLE pending ADD COLUMN finish_requested_at REAL;
                ALTER TABLE pending ADD COLUMN profile_requested_at REAL;
                UPDATE pending SET finish_requested_at = CAST(json_extract(message, '$.finish_requested_at') AS REAL)
                  WHERE message LIKE '%"finish_requested_at"%' AND json_valid(message);
                UPDATE pending SET profile_requested_at = CAST(json_extract(message, '$.recurring_profile_requested_at') AS REAL)
                  WHERE message LIKE '%"recurring_profile_requested_at"%' AND json_valid(message);
                CREATE TABLE rectifier_rate (name TEXT NOT NULL PRIMARY KEY, next_slot REAL NOT NULL)
                """,
            mariadb: """
                ALTER TABLE pending ADD COLUMN finish_requested_at DATETIME(6) NULL, ADD COLUMN profile_requested_at DATETIME(6) NULL;
                UPDATE pending SET finish_requested_at =
                    TIMESTAMPADD(SECOND, CAST(JSON_VALUE(message, '$.finish_requested_at') AS SIGNED), '1970-01-01 00:00:00')
                  WHERE message LIKE '%"finish_requested_at"%' AND JSON_VALID(message);
                UPDATE pending SET profile_requested_at =
                    TIMESTAMPADD(SECOND, CAST(JSON_VALUE(message, '$.recurring_profile_requested_at') AS SIGNED), '1970-01-01 00:00:00')
                  WHERE message LIKE '%"recurring_profile_requested_at"%' AND JSON_VALID(message);
                CREATE TABLE rectifier_rate (name \(binaryID) NOT NULL PRIMARY KEY, next_slot DOUBLE NOT NULL) ENGINE=InnoDB
                """),
        Migration(
            summary: "banner impressions: counts per minute, lookups, rejects, Kafka offsets, loaded files, LEGACY views",
            sqlite: ImpressionsSchema.sqlite,
            mariadb: ImpressionsSchema.mariadb),
        // Retention (issue 13) removes tracking events by age in batches.
        Migration(
            summary: "retention: tracking events by the time they were received",
            sqlite: "CREATE INDEX contribution_tracking_event_by_received ON contribution_tracking_event(received_at)",
            mariadb: "ALTER TABLE contribution_tracking_event ADD KEY contribution_tracking_event_by_received (received_at)"),
        Migration(
            summary: "retention: impressions rolled up per hour and per day; the LEGACY views answer over all three",
            sqlite: ImpressionsRollupSchema.sqlite,
            mariadb: ImpressionsRollupSchema.mariadb),
        // Every long-running process's heartbeat (fundq status), and who did
        // what by hand, with the reason (fundq audit).
        Migration(
            summary: "the process registry (heartbeats) and the audit log",
            sqlite: """
                CREATE TABLE fundq_process (
                  id TEXT NOT NULL PRIMARY KEY,
                  role TEXT NOT NULL,
                  host TEXT NOT NULL,
                  pid INTEGER NOT NULL,
                  started_at REAL NOT NULL,
                  heartbeat_at REAL NOT NULL,
                  interval_ms INTEGER NOT NULL,
                  doing TEXT NOT NULL,
                  doing_since REAL NOT NULL,
                  counters TEXT NOT NULL
                );
                CREATE INDEX fundq_process_by_heartbeat ON fundq_process(heartbeat_at);
                CREATE TABLE fundq_audit (
                  id INTEGER PRIMARY KEY AUTOINCREMENT,
                  at REAL NOT NULL,
                  actor TEXT NOT NULL,
                  action TEXT NOT NULL,
                  target TEXT NOT NULL,
                  reason TEXT NOT NULL,
                  detail TEXT
                );
                CREATE INDEX fundq_audit_by_at ON fundq_audit(at)
                """,
            mariadb: """
                CREATE TABLE fundq_process (
                  id \(binaryID) NOT NULL PRIMARY KEY,
                  role VARCHAR(255) NOT NULL,
                  host VARCHAR(255) NOT NULL,
                  pid BIGINT NOT NULL,
                  started_at DATETIME(6) NOT NULL,
                  heartbeat_at DATETIME(6) NOT NULL,
                  interval_ms BIGINT NOT NULL,
                  doing VARCHAR(1024) NOT NULL,
                  doing_since DATETIME(6) NOT NULL,
                  counters MEDIUMTEXT NOT NULL,
                  KEY fundq_process_by_heartbeat (heartbeat_at)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
                CREATE TABLE fundq_audit (
                  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
                  at DATETIME(6) NOT NULL,
                  actor VARCHAR(255) NOT NULL,
                  action VARCHAR(64) NOT NULL,
                  target VARCHAR(1024) NOT NULL,
                  reason TEXT NOT NULL,
                  detail MEDIUMTEXT NULL,
                  KEY fundq_audit_by_at (at)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
                """),
        // A claim, a dry run's sweep and the oldest and newest unresolved row
        // of a gateway read its unresolved rows in date order. By (gateway,
        // date) each read also passed every resolved row kept in its date
        // range — a look-up of the row apiece and, on MariaDB, a lock held
        // until the claim committed — so a claim cost more with every orphan
        // resolved before it (MariaDB's CPU per orphan 183–226 µs with 160,000–
        // 240,000 rows kept, 117–134 µs by this index). Every query by gateway and
        // date asks for unresolved rows but the operator's `pending list --all`:
        // with `--gateway` it now reads by date and passes other gateways' rows
        // (101 rows at most are listed).
        Migration(
            summary: "pending: a gateway's unresolved rows in date order, passing no resolved row",
            sqlite: """
                DROP INDEX pending_by_gateway_date;
                CREATE INDEX pending_by_gateway_resolution_date ON pending(gateway, resolution, date)
                """,
            mariadb: """
                ALTER TABLE pending DROP KEY pending_by_gateway_date,
                  ADD KEY pending_by_gateway_resolution_date (gateway, resolution, date)
                """),
    ]

    /// The MariaDB type of an identifier column: compared byte for byte,
    /// trailing spaces included.
    public static let binaryID = "VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"

    /// The schema version this build of fundq expects.
    public static var currentVersion: Int { migrations.count }

    /// The highest migration applied to `connection` (0 for a new database).
    /// Only reads (a SELECT-only user may ask): a database without the
    /// version table is at version 0.
    public static func installedVersion(_ connection: any SQLConnection) throws -> Int {
        let exists: String
        switch connection.dialect {
        case .sqlite: exists = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'fundq_schema'"
        case .mariadb:
            exists = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'fundq_schema'"
        }
        guard try connection.query(exists, []).first?.first?.int64 ?? 0 > 0 else { return 0 }
        let rows = try connection.query("SELECT COALESCE(MAX(version), 0) FROM fundq_schema", [])
        return Int(rows.first?.first?.int64 ?? 0)
    }

    private static func ensureVersionTable(_ connection: any SQLConnection) throws {
        switch connection.dialect {
        case .sqlite:
            try connection.executeScript("CREATE TABLE IF NOT EXISTS fundq_schema (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
        case .mariadb:
            try connection.executeScript("""
                CREATE TABLE IF NOT EXISTS fundq_schema (version INT NOT NULL PRIMARY KEY, applied_at DATETIME(6) NOT NULL) ENGINE=InnoDB
                """)
        }
    }

    /// Applies every migration `connection` has not had; returns the versions
    /// applied. Safe with several processes at once (SQLite: each migration
    /// re-checks the version inside its write transaction; MariaDB, whose DDL
    /// is not transactional: under a named lock).
    @discardableResult
    public static func migrate(_ connection: any SQLConnection) throws -> [Int] {
        try migrate(connection, upTo: currentVersion)
    }

    /// Applies the migrations up to `version` only (tests of a migration
    /// start from the schema before it).
    @discardableResult
    public static func migrate(_ connection: any SQLConnection, upTo version: Int) throws -> [Int] {
        // Before any table exists on a new file (and once, by VACUUM, on an
        // older one): free pages can then be given back while in use.
        try connection.prepareForMigrations()
        try ensureVersionTable(connection)
        if connection.dialect == .mariadb {
            let got = try connection.query("SELECT GET_LOCK('fundq-schema-migration', 60)", []).first?.first?.int64
            guard got == 1 else { throw ConfigurationError("another process holds the schema migration lock on \(connection.location)") }
        }
        defer {
            if connection.dialect == .mariadb { _ = try? connection.query("SELECT RELEASE_LOCK('fundq-schema-migration')", []) }
        }
        var applied: [Int] = []
        let target = version
        for (offset, migration) in migrations.enumerated() where offset < target {
            let version = offset + 1
            try connection.transaction {
                guard try installedVersion(connection) < version else { return }
                try connection.executeScript(connection.dialect == .sqlite ? migration.sqlite : migration.mariadb)
                try connection.execute("INSERT INTO fundq_schema (version, applied_at) VALUES (?, ?)",
                                       [.int(version), connection.dialect.value(Date())])
                applied.append(version)
            }
        }
        if target == currentVersion { try check(connection) }
        return applied
    }

    /// Throws a ``ConfigurationError`` unless `connection` has exactly the
    /// schema this build expects.
    public static func check(_ connection: any SQLConnection) throws {
        let installed = try installedVersion(connection)
        if installed < currentVersion {
            throw ConfigurationError("\(connection.location) has schema version \(installed) "
                + "but this fundq needs \(currentVersion): run `fundq db migrate`")
        }
        if installed > currentVersion {
            throw ConfigurationError("\(connection.location) has schema version \(installed), "
                + "newer than this fundq (\(currentVersion)): upgrade fundq")
        }
    }
}
