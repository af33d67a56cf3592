import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// Actions by hand: each needs a reason, lands in the audit log with its
/// actor in the same transaction, and bulk damaged actions show their count first.
@Suite("Audited actions and bulk damaged operations")
struct AuditCommandTests {
    static func audit(_ flags: [String], _ extra: [String] = []) throws -> [[String: JSONValue]] {
        let r = try FundqProcess.run(["audit", "--json"] + extra + flags)
        guard r.status == 0, case .array(let rows)? = try? JSONParser().parse(Array(r.stdout.utf8)) else { return [] }
        return rows.compactMap(\.objectValue)
    }

    @Test(arguments: DatabaseKind.allCases)
    func pendingResolveAndDeleteNeedAReasonAndAreAudited(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let pending = PendingStore(connection: try f.openDatabase())
        for order in ["o1", "o2"] {
            _ = try pending.store(try PendingMessage(members: try #require(try JSONParser().parse(
                #"{"gateway":"paypal","order_id":"\#(order)","date":1700000000,"email":"donor@example.org"}"#).objectValue)))
        }
        #expect(try FundqProcess.run(["pending", "resolve", "paypal", "o1", "--as", "failed"] + f.flags).status == 2)
        #expect(try FundqProcess.run(["pending", "resolve", "paypal", "o1", "--as", "failed", "--reason", "  "] + f.flags).status == 2)
        #expect(try pending.fetch(gateway: "paypal", orderID: "o1")?.resolution == nil, "refused before anything changed")

        let resolve = try FundqProcess.run(["pending", "resolve", "paypal", "o1", "--as", "failed",
                                            "--reason", "donor phoned: card stolen"] + f.flags)
        #expect(resolve.status == 0, "\(resolve.stderr)")
        // A refused action leaves no entry.
        #expect(try FundqProcess.run(["pending", "resolve", "paypal", "o1", "--as", "failed", "--reason", "again"] + f.flags).status == 1)
        #expect(try FundqProcess.run(["pending", "delete", "paypal", "o2", "--reason", "test row", "--by", "alice"] + f.flags).status == 0)
        #expect(try FundqProcess.run(["pending", "delete", "paypal", "missing", "--reason", "x"] + f.flags).status == 1)

        let entries = try Self.audit(f.flags)
        #expect(entries.count == 2)
        let delete = try #require(entries.first)
        #expect(delete["action"] == .string("pending-delete") && delete["actor"] == .string("alice"))
        #expect(delete["reason"] == .string("test row") && delete["target"]?.scalarText?.hasPrefix("pending paypal/o2 (id ") == true)
        let resolved = try #require(entries.last)
        #expect(resolved["action"] == .string("pending-resolve") && resolved["actor"] == .string(AuditLog.osUser()))
        #expect(resolved["reason"] == .string("donor phoned: card stolen") && resolved["detail"] == .string("as failed"))
        #expect(try Self.audit(f.flags, ["--action", "pending-resolve"]).count == 1)
        let text = try FundqProcess.run(["audit"] + f.flags)
        #expect(text.stdout.contains("pending-delete") && text.stdout.contains("alice"))
    }

    @Test(arguments: DatabaseKind.allCases)
    func bulkRequeueAndDeleteShowTheCountFirstAndAuditEachMessage(kind: DatabaseKind) throws {
        let f = try DatabaseFixture(kind)
        let stores = try Storage(f.configuration)
        func damage(_ queue: String, _ error: String, ago: Double, _ n: Int) throws {
            _ = try stores.damaged.insert(DamagedMessage(
                originalDate: Date(), damagedDate: Date().addingTimeInterval(-ago), retryDate: nil, originalQueue: queue,
                gateway: "paypal", orderID: "\(queue)-\(n)", gatewayTxnID: nil, error: error, trace: nil,
                message: Array(#"{"n":\#(n)}"#.utf8)))
        }
        for n in 1...5 { try damage("donations", "CRM down: connection refused for donor@example.org", ago: 7200, n) }
        for n in 6...8 { try damage("donations", "bad date", ago: 0, n) }
        for n in 9...10 { try damage("refund", "CRM down", ago: 7200, n) }
        let crm = ["--queue", "donations", "--error-contains", "crm DOWN", "--older-than", "1h", "--reason", "CRM is back"]

        #expect(try FundqProcess.run(["damaged", "requeue", "--queue", "donations", "--reason", "r"] + f.flags).status == 2,
                "a bare --queue needs --all")
        #expect(try FundqProcess.run(["damaged", "requeue", "--older-than", "1h", "--reason", "r"] + f.flags).status == 2)
        // Without --yes (and no terminal to ask): the count, and nothing changed.
        let preview = try FundqProcess.run(["damaged", "requeue", "--json"] + crm + f.flags)
        #expect(preview.status == 0, "\(preview.stderr)")
        #expect(preview.stdout == #"{"matched":5,"requeued":0}"# + "\n")
        #expect(preview.stderr.contains(
            "5 damaged messages from queue donations match (damaged over 1h00m ago, error containing 'crm DOWN')"))
        #expect(preview.stderr.contains("nothing changed: add --yes"))
        #expect(try stores.damaged.count(queue: nil) == 10 && Self.audit(f.flags).isEmpty)

        let requeue = try FundqProcess.run(["damaged", "requeue", "--json", "--yes"] + crm + f.flags)
        #expect(requeue.stdout == #"{"matched":5,"requeued":5}"# + "\n", "\(requeue.stderr)")
        #expect(try stores.queue.stats("donations").waiting == 5)
        #expect(try stores.damaged.count(queue: "donations") == 3 && stores.damaged.count(queue: "refund") == 2)
        let requeued = try Self.audit(f.flags)
        #expect(requeued.count == 5)
        #expect(requeued.allSatisfy { $0["action"] == .string("damaged-requeue") && $0["reason"] == .string("CRM is back") })
        #expect(requeued.allSatisfy { ($0["detail"]?.scalarText ?? "").contains("error: CRM down") })
        #expect(!requeued.contains { ($0["detail"]?.scalarText ?? "").contains("donor@example.org") }, "the error is masked")

        let delete = try FundqProcess.run(["damaged", "delete", "--queue", "donations", "--all", "--yes", "--json",
                                           "--reason", "test data", "--by", "alice"] + f.flags)
        #expect(delete.stdout == #"{"deleted":3,"matched":3}"# + "\n", "\(delete.stderr)")
        #expect(try stores.damaged.count(queue: "donations") == 0 && stores.damaged.count(queue: "refund") == 2)
        let deleted = try Self.audit(f.flags, ["--action", "damaged-delete"])
        #expect(deleted.count == 3 && deleted.allSatisfy { $0["actor"] == .string("alice") })
        let none = try FundqProcess.run(["damaged", "delete", "--queue", "refund", "--error-contains", "nothing like it", "--yes",
                                         "--reason", "r"] + f.flags)
        #expect(none.status == 0 && none.stderr.contains("0 damaged messages from queue refund match"))
        #expect(try stores.damaged.count(queue: "refund") == 2)
    }
}
