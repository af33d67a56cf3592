import Core
public import Foundation

/// What claiming a file found.
public enum FileClaim: Sendable, Equatable {
    /// Loaded before: skip it.
    case alreadyLoaded(events: Int64)
    /// Ours to load, under `token`; `restarted` when a half-loaded earlier
    /// attempt was rolled back first.
    case claimed(token: String, restarted: Bool)
    /// Another live loader holds it until `until`.
    case busy(host: String, pid: Int32, until: Date)
}

/// Files: each is staged under its key, then merged into the counts in one
/// transaction that also marks it done, so a file counts once or not at all.
extension ImpressionStore {
    /// Claims the file `key`. A claim left by a loader that is gone (per
    /// `holderIsGone`) or whose lease ran out is taken over: its staged
    /// rows are deleted (the half-loaded attempt is rolled back).
    public func claimFile(key: String, path: String, host: String, pid: Int32, lease: Double,
                          holderIsGone: (String, Int32) -> Bool) throws -> FileClaim {
        let token = UUID().uuidString
        let now = Date()
        let until = dialect.value(now.addingTimeInterval(lease))
        return try retryingTransaction { () throws -> FileClaim in
            let lock = dialect == .mariadb ? " FOR UPDATE" : ""
            let rows = try connection.query(
                "SELECT state, host, pid, claim_until, events FROM banner_impression_files WHERE file_key = ?\(lock)", [.text(key)])
            guard let row = rows.first else {
                try connection.execute("""
                    INSERT INTO banner_impression_files (file_key, path, state, token, host, pid, claim_until, events, started)
                    VALUES (?, ?, 'loading', ?, ?, ?, ?, 0, ?)
                    """, [.text(key), .text(path), .text(token), .text(host), .int(Int(pid)), until, dialect.value(now)])
                return .claimed(token: token, restarted: false)
            }
            if row[0].string == "done" { return .alreadyLoaded(events: row[4].int64 ?? 0) }
            let holder = row[1].string ?? ""
            let holderPid = Int32(row[2].int64 ?? 0)
            let holderUntil = dialect.date(row[3]) ?? .distantPast
            guard holderUntil < now || holderIsGone(holder, holderPid) else {
                return .busy(host: holder, pid: holderPid, until: holderUntil)
            }
            try connection.execute("DELETE FROM banner_impression_file_staging WHERE file_key = ?", [.text(key)])
            try connection.execute("DELETE FROM banner_impression_file_rejects WHERE file_key = ?", [.text(key)])
            try connection.execute("""
                UPDATE banner_impression_files SET path = ?, token = ?, host = ?, pid = ?, claim_until = ?, events = 0, started = ?
                WHERE file_key = ?
                """, [.text(path), .text(token), .text(host), .int(Int(pid)), until, dialect.value(now), .text(key)])
            return .claimed(token: token, restarted: true)
        }
    }

    /// Renews the claim on `key` (fails unless `token` still holds it).
    private func renew(key: String, token: String, lease: Double, events: Int) throws {
        let changed = try connection.execute(
            "UPDATE banner_impression_files SET claim_until = ?, events = events + ? "
                + "WHERE file_key = ? AND token = ? AND state = 'loading'",
            [dialect.value(Date().addingTimeInterval(lease)), .int(events), .text(key), .text(token)])
        guard changed == 1 else { throw ImpressionsError("lost the claim on file \(key): another loader took it over") }
    }

    /// Adds `batch` to the file's staged rows and renews the claim.
    public func stage(_ batch: ImpressionBatch, fileKey: String, token: String, lease: Double) throws {
        let sealed = batch.sealed()
        try retryingTransaction {
            try renew(key: fileKey, token: token, lease: lease, events: sealed.events)
            try addCounts(sealed, table: "banner_impression_file_staging", fileKey: fileKey)
            try addRejects(sealed, table: "banner_impression_file_rejects", fileKey: fileKey)
        }
    }

    /// Merges the file's staged rows into the counts, fills the lookups,
    /// marks the file done and drops its staging, in one transaction.
    public func finishFile(key: String, token: String) throws {
        let k: [SQLValue] = [.text(key)]
        try retryingTransaction {
            try renew(key: key, token: token, lease: 60, events: 0)
            let lookups = [("country", "iso_code", "country"), ("language", "iso_code", "language"), ("project", "project", "project")]
            for (table, column, value) in lookups {
                try connection.execute("""
                    \(insertIgnore) INTO \(table) (\(column)) SELECT DISTINCT \(value) FROM banner_impression_file_staging
                    WHERE file_key = ? ORDER BY \(value)
                    """, k)
            }
            let keyColumns = "minute, banner, campaign, project, language, country, device"
            try connection.execute("""
                INSERT INTO banner_impressions_minute (\(keyColumns), count)
                SELECT \(keyColumns), count FROM banner_impression_file_staging WHERE file_key = ? ORDER BY \(keyColumns)
                \(dialect == .sqlite ? "ON CONFLICT (\(keyColumns)) DO UPDATE SET count = count + excluded.count"
                                      : "ON DUPLICATE KEY UPDATE count = banner_impressions_minute.count + VALUES(count)")
                """, k)
            try connection.execute("""
                INSERT INTO banner_impression_rejects (reason, kind, count, sample, sample_date)
                SELECT reason, kind, count, sample, sample_date FROM banner_impression_file_rejects WHERE file_key = ? ORDER BY reason
                \(dialect == .sqlite
                  ? "ON CONFLICT (reason) DO UPDATE SET count = count + excluded.count, sample = COALESCE(excluded.sample, sample), "
                    + "sample_date = COALESCE(excluded.sample_date, sample_date)"
                  : "ON DUPLICATE KEY UPDATE count = banner_impression_rejects.count + VALUES(count), "
                    + "sample = COALESCE(VALUES(sample), banner_impression_rejects.sample), "
                    + "sample_date = COALESCE(VALUES(sample_date), banner_impression_rejects.sample_date)")
                """, k)
            try connection.execute("DELETE FROM banner_impression_file_staging WHERE file_key = ?", k)
            try connection.execute("DELETE FROM banner_impression_file_rejects WHERE file_key = ?", k)
            try connection.execute("UPDATE banner_impression_files SET state = 'done', finished = ? WHERE file_key = ?",
                                   [dialect.value(Date()), .text(key)])
        }
    }
}
