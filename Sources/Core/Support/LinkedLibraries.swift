internal import CHiredis
internal import CMariaDB
internal import CCurl
internal import CSQLite
internal import CRdKafka

/// Versions of the C libraries fundq is linked against.
public enum LinkedLibraries {
    /// (library, version) for hiredis, MariaDB Connector/C, libcurl, SQLite and librdkafka.
    public static func versions() -> [(library: String, version: String)] {
        [
            ("hiredis", "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)"),
            ("MariaDB Connector/C", String(cString: mysql_get_client_info())),
            ("libcurl", String(cString: fundq_curl_version())),
            ("SQLite", String(cString: sqlite3_libversion())),
            ("librdkafka", String(cString: rd_kafka_version_str())),
        ]
    }
}
