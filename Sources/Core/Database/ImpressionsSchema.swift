/// The banner impressions tables (issue 10), as one migration. The two
/// views keep the old reports working; they are LEGACY, listed in
/// `fundq_legacy_object` so that their users can be found before they go.
enum ImpressionsSchema {
    static let sqlite = """
        CREATE TABLE banner_impressions_minute (
          minute INTEGER NOT NULL,
          banner TEXT NOT NULL,
          campaign TEXT NOT NULL,
          project TEXT NOT NULL,
          language TEXT NOT NULL,
          country TEXT NOT NULL,
          device TEXT NOT NULL,
          count INTEGER NOT NULL,
          PRIMARY KEY (minute, banner, campaign, project, language, country, device)
        ) WITHOUT ROWID;
        CREATE INDEX banner_impressions_minute_by_banner ON banner_impressions_minute(banner, minute);
        CREATE TABLE country (id INTEGER PRIMARY KEY AUTOINCREMENT, iso_code TEXT NOT NULL UNIQUE);
        CREATE TABLE language (id INTEGER PRIMARY KEY AUTOINCREMENT, iso_code TEXT NOT NULL UNIQUE);
        CREATE TABLE project (id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL UNIQUE);
        CREATE TABLE banner_impression_rejects (
          reason TEXT NOT NULL PRIMARY KEY,
          kind TEXT NOT NULL,
          count INTEGER NOT NULL,
          sample TEXT,
          sample_date REAL
        );
        CREATE TABLE banner_impression_offsets (
          topic TEXT NOT NULL,
          kafka_partition INTEGER NOT NULL,
          next_offset INTEGER NOT NULL,
          updated REAL NOT NULL,
          PRIMARY KEY (topic, kafka_partition)
        );
        CREATE TABLE banner_impression_files (
          file_key TEXT NOT NULL PRIMARY KEY,
          path TEXT NOT NULL,
          state TEXT NOT NULL,
          token TEXT NOT NULL,
          host TEXT NOT NULL,
          pid INTEGER NOT NULL,
          claim_until REAL NOT NULL,
          events INTEGER NOT NULL DEFAULT 0,
          started REAL NOT NULL,
          finished REAL
        );
        CREATE TABLE banner_impression_file_staging (
          file_key TEXT NOT NULL,
          minute INTEGER NOT NULL,
          banner TEXT NOT NULL,
          campaign TEXT NOT NULL,
          project TEXT NOT NULL,
          language TEXT NOT NULL,
          country TEXT NOT NULL,
          device TEXT NOT NULL,
          count INTEGER NOT NULL,
          PRIMARY KEY (file_key, minute, banner, campaign, project, language, country, device)
        ) WITHOUT ROWID;
        CREATE TABLE banner_impression_file_rejects (
          file_key TEXT NOT NULL,
          reason TEXT NOT NULL,
          kind TEXT NOT NULL,
          count INTEGER NOT NULL,
          sample TEXT,
          sample_date REAL,
          PRIMARY KEY (file_key, reason)
        );
        CREATE TABLE fundq_legacy_object (name TEXT NOT NULL PRIMARY KEY, kind TEXT NOT NULL, comment TEXT NOT NULL);
        CREATE VIEW bannerimpressions /* LEGACY: the old report view; use banner_impressions_minute */ AS
          SELECT datetime(m.minute, 'unixepoch') AS "timestamp", m.banner AS banner, m.campaign AS campaign,
                 p.id AS project_id, l.id AS language_id, c.id AS country_id, SUM(m.count) AS count
          FROM banner_impressions_minute m
          JOIN project p ON p.project = m.project
          JOIN language l ON l.iso_code = m.language
          JOIN country c ON c.iso_code = m.country
          GROUP BY m.minute, m.banner, m.campaign, p.id, l.id, c.id;
        CREATE VIEW banner_impressions /* LEGACY: the oldest report view, utm_source is the banner; use banner_impressions_minute */ AS
          SELECT datetime(minute, 'unixepoch') AS on_minute, banner AS utm_source, country AS country, SUM(count) AS counts
          FROM banner_impressions_minute
          GROUP BY minute, banner, country;
        INSERT INTO fundq_legacy_object (name, kind, comment) VALUES
          ('bannerimpressions', 'view', 'LEGACY: old report view (timestamp, banner, campaign, project_id, language_id, \
        country_id, count); replaced by banner_impressions_minute'),
          ('banner_impressions', 'view', 'LEGACY: oldest report view (on_minute, utm_source, country, counts); \
        replaced by banner_impressions_minute')
        """

    static let mariadb = """
        CREATE TABLE banner_impressions_minute (
          minute DATETIME NOT NULL,
          banner VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          campaign VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          project VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          language VARCHAR(35) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          country CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          device VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          count BIGINT NOT NULL,
          PRIMARY KEY (minute, banner, campaign, project, language, country, device),
          KEY banner_impressions_minute_by_banner (banner, minute)
        ) ENGINE=InnoDB COMMENT='banner impressions per minute (fundq impressions)';
        CREATE TABLE country (
          id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          iso_code CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          UNIQUE KEY country_by_code (iso_code)
        ) ENGINE=InnoDB COMMENT='lookup for the LEGACY view bannerimpressions';
        CREATE TABLE language (
          id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          iso_code VARCHAR(35) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          UNIQUE KEY language_by_code (iso_code)
        ) ENGINE=InnoDB COMMENT='lookup for the LEGACY view bannerimpressions';
        CREATE TABLE project (
          id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          project VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          UNIQUE KEY project_by_name (project)
        ) ENGINE=InnoDB COMMENT='lookup for the LEGACY view bannerimpressions';
        CREATE TABLE banner_impression_rejects (
          reason VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
          kind VARCHAR(16) NOT NULL,
          count BIGINT NOT NULL,
          sample MEDIUMTEXT NULL,
          sample_date DATETIME(6) NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
        CREATE TABLE banner_impression_offsets (
          topic VARCHAR(249) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          kafka_partition INT NOT NULL,
          next_offset BIGINT NOT NULL,
          updated DATETIME(6) NOT NULL,
          PRIMARY KEY (topic, kafka_partition)
        ) ENGINE=InnoDB;
        CREATE TABLE banner_impression_files (
          file_key VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
          path TEXT NOT NULL,
          state VARCHAR(16) NOT NULL,
          token VARCHAR(64) NOT NULL,
          host VARCHAR(255) NOT NULL,
          pid INT NOT NULL,
          claim_until DATETIME(6) NOT NULL,
          events BIGINT NOT NULL DEFAULT 0,
          started DATETIME(6) NOT NULL,
          finished DATETIME(6) NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
        CREATE TABLE banner_impression_file_staging (
          file_key VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          minute DATETIME NOT NULL,
          banner VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          campaign VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          project VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          language VARCHAR(35) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          country CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          device VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          count BIGINT NOT NULL,
          PRIMARY KEY (file_key, minute, banner, campaign, project, language, country, device)
        ) ENGINE=InnoDB;
        CREATE TABLE banner_impression_file_rejects (
          file_key VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          reason VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          kind VARCHAR(16) NOT NULL,
          count BIGINT NOT NULL,
          sample MEDIUMTEXT NULL,
          sample_date DATETIME(6) NULL,
          PRIMARY KEY (file_key, reason)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
        CREATE TABLE fundq_legacy_object (
          name VARCHAR(64) NOT NULL PRIMARY KEY,
          kind VARCHAR(16) NOT NULL,
          comment TEXT NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
        CREATE VIEW bannerimpressions /* LEGACY: the old report view; use banner_impressions_minute */ AS
          SELECT m.minute AS `timestamp`, m.banner AS banner, m.campaign AS campaign,
                 p.id AS project_id, l.id AS language_id, c.id AS country_id, SUM(m.count) AS count
          FROM banner_impressions_minute m
          JOIN project p ON p.project = m.project
          JOIN language l ON l.iso_code = m.language
          JOIN country c ON c.iso_code = m.country
          GROUP BY m.minute, m.banner, m.campaign, p.id, l.id, c.id;
        CREATE VIEW banner_impressions /* LEGACY: the oldest report view; use banner_impressions_minute */ AS
          SELECT minute AS on_minute, banner AS utm_source, country AS country, SUM(count) AS counts
          FROM banner_impressions_minute
          GROUP BY minute, banner, country;
        INSERT INTO fundq_legacy_object (name, kind, comment) VALUES
          ('bannerimpressions', 'view', 'LEGACY: old report view (timestamp, banner, campaign, project_id, language_id, \
        country_id, count); replaced by banner_impressions_minute'),
          ('banner_impressions', 'view', 'LEGACY: oldest report view (on_minute, utm_source, country, counts); \
        replaced by banner_impressions_minute')
        """
}

/// Impressions rolled up (issue 13): per-minute counts older than the
/// retention age move into per-hour counts, and those into per-day counts.
/// `banner_impressions_all` answers over the three (its `minute` is the
/// start of the minute, hour or day), and the LEGACY views answer from it.
enum ImpressionsRollupSchema {
    static func sqliteTable(_ name: String, _ time: String) -> String {
        """
        CREATE TABLE \(name) (
          \(time) INTEGER NOT NULL, banner TEXT NOT NULL, campaign TEXT NOT NULL, project TEXT NOT NULL,
          language TEXT NOT NULL, country TEXT NOT NULL, device TEXT NOT NULL, count INTEGER NOT NULL,
          PRIMARY KEY (\(time), banner, campaign, project, language, country, device)
        ) WITHOUT ROWID
        """
    }

    static func mariadbTable(_ name: String, _ time: String, _ comment: String) -> String {
        """
        CREATE TABLE \(name) (
          \(time) DATETIME NOT NULL,
          banner VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          campaign VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          project VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          language VARCHAR(35) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          country CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          device VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
          count BIGINT NOT NULL,
          PRIMARY KEY (\(time), banner, campaign, project, language, country, device)
        ) ENGINE=InnoDB COMMENT='\(comment)'
        """
    }

    static let columns = "banner, campaign, project, language, country, device, count"
    static let legacyComments = """
        UPDATE fundq_legacy_object SET comment = REPLACE(comment, 'replaced by banner_impressions_minute',
          'replaced by banner_impressions_all (minutes, hours and days)') WHERE kind = 'view'
        """
    static let union = """
        CREATE VIEW banner_impressions_all AS
          SELECT minute, \(columns) FROM banner_impressions_minute
          UNION ALL SELECT hour, \(columns) FROM banner_impressions_hour
          UNION ALL SELECT day, \(columns) FROM banner_impressions_day
        """

    static let sqlite = """
        \(sqliteTable("banner_impressions_hour", "hour"));
        \(sqliteTable("banner_impressions_day", "day"));
        \(union);
        DROP VIEW bannerimpressions;
        DROP VIEW banner_impressions;
        CREATE VIEW bannerimpressions /* LEGACY: the old report view; use banner_impressions_all */ AS
          SELECT datetime(m.minute, 'unixepoch') AS "timestamp", m.banner AS banner, m.campaign AS campaign,
                 p.id AS project_id, l.id AS language_id, c.id AS country_id, SUM(m.count) AS count
          FROM banner_impressions_all m
          JOIN project p ON p.project = m.project
          JOIN language l ON l.iso_code = m.language
          JOIN country c ON c.iso_code = m.country
          GROUP BY m.minute, m.banner, m.campaign, p.id, l.id, c.id;
        CREATE VIEW banner_impressions /* LEGACY: the oldest report view, utm_source is the banner; use banner_impressions_all */ AS
          SELECT datetime(minute, 'unixepoch') AS on_minute, banner AS utm_source, country AS country, SUM(count) AS counts
          FROM banner_impressions_all
          GROUP BY minute, banner, country;
        \(legacyComments)
        """

    static let mariadb = """
        \(mariadbTable("banner_impressions_hour", "hour", "banner impressions per hour, rolled up from the minutes"));
        \(mariadbTable("banner_impressions_day", "day", "banner impressions per day, rolled up from the hours"));
        \(union);
        CREATE OR REPLACE VIEW bannerimpressions /* LEGACY: the old report view; use banner_impressions_all */ AS
          SELECT m.minute AS `timestamp`, m.banner AS banner, m.campaign AS campaign,
                 p.id AS project_id, l.id AS language_id, c.id AS country_id, SUM(m.count) AS count
          FROM banner_impressions_all m
          JOIN project p ON p.project = m.project
          JOIN language l ON l.iso_code = m.language
          JOIN country c ON c.iso_code = m.country
          GROUP BY m.minute, m.banner, m.campaign, p.id, l.id, c.id;
        CREATE OR REPLACE VIEW banner_impressions /* LEGACY: the oldest report view; use banner_impressions_all */ AS
          SELECT minute AS on_minute, banner AS utm_source, country AS country, SUM(count) AS counts
          FROM banner_impressions_all
          GROUP BY minute, banner, country;
        \(legacyComments)
        """
}
