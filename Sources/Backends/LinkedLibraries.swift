import CurlHTTP
import MariaDBDriver
import RedisDriver
import SQLiteDriver

/// Versions of the C libraries the drivers are linked against.
public enum LinkedLibraries {
    /// (library, version) for hiredis, MariaDB Connector/C, libcurl and SQLite
    /// (librdkafka's is `KafkaLibrary.version` in Impressions).
    public static func versions() -> [(library: String, version: String)] {
        [
            ("hiredis", RedisConnection.libraryVersion),
            ("MariaDB Connector/C", MariaDBConnection.libraryVersion),
            ("libcurl", HTTPClient.libraryVersion),
            ("SQLite", SQLiteDatabase.libraryVersion),
        ]
    }
}
