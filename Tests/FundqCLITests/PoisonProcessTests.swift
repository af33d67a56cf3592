import Core
import Foundation
import FundqTestSupport
import Testing

/// The consumers as real processes fed the adversarial run's poison (issue
/// 8): each run exits 0 with the poison damaged, never traps, never blocks.
@Suite("Poison messages through fundq consume")
struct PoisonProcessTests {
    @Test(arguments: [DatabaseKind.mariadb, .sqlite])
    func consumeDonationsAndPendingDamageThePoisonAndExitZero(database: DatabaseKind) throws {
        let f = try StackFixture(queue: .redis, database: database)
        /// Pushes the messages with `queue push --lines`, then runs `consume CONSUMER --json`.
        func pushAndConsume(_ queue: String, _ messages: [String]) throws -> [String: JSONValue] {
            let push = try FundqProcess.run(["queue", "push", queue, "--lines"] + f.flags, stdin: messages.joined(separator: "\n"))
            #expect(push.status == 0, "\(push.stderr)")
            let consume = try FundqProcess.run(["consume", queue, "--json"] + f.flags)
            #expect(consume.status == 0, "exit \(consume.status): \(consume.stderr.suffix(600))")
            return try JSONParser().parse(Array(consume.stdout.utf8)).objectValue ?? [:]
        }
        let donations = interleaved(valid: validDonation, poisons: donationPoisons)
        #expect(try pushAndConsume("donations", donations.messages)["damaged"]?.scalarText == String(donationPoisons.count))
        let pending = interleaved(valid: validPending, poisons: pendingPoisons)
        #expect(try pushAndConsume("pending", pending.messages)["damaged"]?.scalarText == String(pendingPoisons.count))

        let s = try f.open()
        #expect(try DonationsStore(connection: s.database).count() == donations.validCount)
        #expect(try PendingStore(connection: s.database).list(includeResolved: true, limit: 1000).count == pending.validCount)
        #expect(try s.damaged.count(queue: nil) == donationPoisons.count + pendingPoisons.count)
        for queue in ["donations", "pending"] {
            let stats = try s.queue.stats(queue)
            #expect(stats.waiting == 0 && stats.inFlight == 0, "\(queue) is not empty: \(stats)")
        }
    }
}
