import Core
@testable import MariaDBDriver
@testable import RedisDriver
@testable import SQLiteDriver
import Testing

/// Each driver's errors say their own ``HandlingFailure`` (Core names no
/// driver): an outage is released and retried, a value's fault damages its
/// message, anything else splits the batch. A driver error that lost its
/// conformance would be `.unknown`, and an outage would be taken for a bad batch.
@Suite("Handling failure by driver")
struct HandlingFailureTests {
    func mariadb(_ code: UInt32) -> HandlingFailure {
        HandlingFailure(classifying: MariaDBError(code: code, message: "m", endpoint: "db.test", context: "testing"))
    }

    func sqlite(_ code: Int32) -> HandlingFailure {
        HandlingFailure(classifying: SQLiteError(code: code, message: "m", context: "testing"))
    }

    func redis(_ kind: RedisError.Kind) -> HandlingFailure {
        HandlingFailure(classifying: RedisError(kind: kind, endpoint: "redis.test", context: "testing"))
    }

    @Test func mariadbLostConnectionsDeadlocksAndLockWaitsAreOutagesValuesAreContent() {
        // 2006 gone away, 2013 lost during query; 1213 deadlock, 1205 lock wait timeout.
        #expect([2002, 2003, 2005, 2006, 2013, 2026, 2055, 1213, 1205].allSatisfy { mariadb($0) == .outage })
        #expect([1048, 1062, 1153, 1264, 1265, 1292, 1366, 1367, 1406, 1411, 1690, 4025, 4038].allSatisfy { mariadb($0) == .content })
        // 1146 no such table, 1021 disk full: the environment or the batch, split to find out.
        #expect(mariadb(1146) == .unknown && mariadb(1021) == .unknown)
        #expect(OutagePolicy.isOutage(MariaDBError(code: 2013, message: "lost", endpoint: "db.test", context: "testing")))
    }

    @Test func sqliteBusyAndLockedAreOutagesConstraintsAndOversizeValuesAreContent() {
        // SQLITE_BUSY 5, SQLITE_LOCKED 6; SQLITE_CONSTRAINT 19, SQLITE_TOOBIG 18, SQLITE_MISMATCH 20; SQLITE_FULL 13, SQLITE_IOERR 10.
        #expect(sqlite(5) == .outage && sqlite(6) == .outage)
        #expect(sqlite(19) == .content && sqlite(18) == .content && sqlite(20) == .content)
        #expect(sqlite(13) == .unknown && sqlite(10) == .unknown)
    }

    @Test func redisUnreachableAndLostConnectionsAreOutagesErrorRepliesAreUnknown() {
        #expect(redis(.unreachable(reason: "refused")) == .outage && redis(.io(reason: "reset")) == .outage)
        #expect(redis(.reply("ERR wrong number of arguments")) == .unknown && redis(.unexpectedReply("nil")) == .unknown)
    }
}
