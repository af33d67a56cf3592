import Core
import Foundation
import FundqTestSupport
import Testing

/// Several fundq processes started at once on a store that does not exist
/// yet (operators start every daemon together on a fresh machine): each
/// creates or migrates it, none fails, and the schema is whole once.
@Suite("Concurrent start")
struct ConcurrentStartTests {
    static let processes = 8
    static let rounds = 5

    /// Starts `processes` copies of `fundq ARGS` at once and waits for them all.
    static func runTogether(_ arguments: [String], stdin: String? = nil, in dir: TemporaryDirectory) throws -> [FundqProcess.Result] {
        let spawned = try (0..<processes).map { _ in try FundqProcess.spawn(arguments, stdin: stdin, outputIn: dir) }
        return spawned.map { $0.wait() }
    }

    @Test(arguments: DatabaseKind.allCases)
    func manyProcessesOpeningANewStoreAtOnceAllSucceed(kind: DatabaseKind) throws {
        for round in 1...Self.rounds {
            let f = try DatabaseFixture(kind, migrate: false)
            // A producer migrates the embedded file it opens; MariaDB is migrated by `fundq db migrate`.
            let command = kind == .sqlite ? ["queue", "push", "donations"] : ["db", "migrate"]
            let results = try Self.runTogether(command + f.flags, stdin: "{\"round\":\(round)}\n", in: f.directory)
            for r in results { #expect(r.status == 0, "round \(round), \(kind): \(r.stderr)") }
            let db = try f.openDatabase()
            #expect(try SchemaMigrator.installedVersion(db) == SchemaMigrator.currentVersion)
            let versions = try db.query("SELECT COUNT(*), COUNT(DISTINCT version) FROM fundq_schema", []).first
            #expect(versions?.first?.int64 == Int64(SchemaMigrator.currentVersion), "each migration applied once")
            #expect(versions?.last?.int64 == Int64(SchemaMigrator.currentVersion))
            if kind == .sqlite {
                let pushed = try db.query("SELECT COUNT(*) FROM queue_message", []).first?.first?.int64
                #expect(pushed == Int64(Self.processes), "every producer's message kept")
            }
        }
    }

    @Test func aCommandGivenNoStoreNeverWritesThePackagesVar() throws {
        let dir = try TemporaryDirectory()
        let spawned = try FundqProcess.spawn(["queue", "push", "donations"], stdin: "{}\n", outputIn: dir)
        #expect(spawned.wait().status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.file("var/fundq.sqlite")), "the child's store is its own")
    }
}
