import Core
import Foundation
import FundqTestSupport
import Testing

/// `fundq tracking …`, `fundq consume tracking` and `fundq jobs
/// abandon-tracking` as real child processes.
@Suite("Tracking commands")
struct TrackingCommandTests {
    @Test(arguments: stacks)
    func pushConsumeShowListRebuildAndAbandon(queue: QueueBackendKind, database: DatabaseKind) throws {
        let f = try StackFixture(queue: queue, database: database)
        var r = try FundqProcess.run(["tracking", "next-id"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        let id = try #require(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        r = try FundqProcess.run(["tracking", "next-id"] + f.flags)
        #expect(r.stdout == "\(id + 1)\n")

        let old = TrackingEvent.micros(Date()) - 7_200_000_000
        let input = [
            #"{"id":"\#(id)","utm_source":"B1.lp1.cc","utm_campaign":"spring","email":"donor@example.org","first_name":"Zoë","#
                + #""note":"Zoë at donor@example.org, card 4111 1111 1111 1111"}"#,
            #"{"id":"\#(id)","ts":\#(old),"country":"DE","utm_source":"OLD.x.y"}"#,
            #"{"id":"gone","ts":\#(old),"utm_campaign":"autumn"}"#,
        ].joined(separator: "\n")
        // One refused line pushes nothing.
        r = try FundqProcess.run(["tracking", "push", "--lines"] + f.flags, stdin: input + "\n" + #"{"id":"x","country":"GBR"}"#)
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: line 4: field 'country': is 3 characters long, the column holds 2\n")
        r = try FundqProcess.run(["tracking", "push", "--lines"] + f.flags, stdin: input)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("pushed 3 tracking events to contribution-tracking"))
        r = try FundqProcess.run(["consume", "tracking"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("consume tracking: 3 messages in"))
        #expect(r.stderr.contains("3 applied, 0 damaged"))

        r = try FundqProcess.run(["tracking", "show", String(id), "--json"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        let shown = try #require(try JSONParser().parse(r.stdout).objectValue)
        let row = try #require(shown["row"]?.objectValue)
        #expect(row["utm_source"] == .string("B1.lp1.cc") && row["country"] == .string("DE") && row["banner"] == .string("B1"))
        #expect(row["status"] == .string("started") && row["event_count"] == .number("2"))
        #expect(!r.stdout.contains("donor@example.org") && !r.stdout.contains("Zoë"))
        #expect(r.stdout.contains(#""email":"***""#))
        #expect(row["note"] == .string("***"), "the row's note is masked as its event is: \(row)")
        r = try FundqProcess.run(["tracking", "show", String(id)] + f.flags)
        #expect(!r.stdout.contains("donor@example.org") && !r.stdout.contains("Zoë") && !r.stdout.contains("4111 1111"), "\(r.stdout)")
        r = try FundqProcess.run(["tracking", "list", "--json"] + f.flags)
        #expect(!r.stdout.contains("donor@example.org") && !r.stdout.contains("4111 1111") && r.stdout.contains(#""note":"***""#))
        r = try FundqProcess.run(["tracking", "show", String(id), "--show-personal-data"] + f.flags)
        #expect(r.stdout.contains("donor@example.org") && r.stdout.contains("Zoë"))
        #expect(!r.stdout.contains("4111 1111 1111 1111") && r.stdout.contains("card ****1111"), "a whole card number is never shown")
        r = try FundqProcess.run(["tracking", "show", "nope"] + f.flags)
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: no contribution tracking row nope\n")

        r = try FundqProcess.run(["tracking", "list", "--utm-campaign", "autumn", "--json"] + f.flags)
        guard case .array(let listed) = try JSONParser().parse(r.stdout) else { Issue.record("tracking list printed \(r.stdout)"); return }
        #expect(listed.compactMap { $0.objectValue?["id"]?.scalarText } == ["gone"])
        r = try FundqProcess.run(["tracking", "list", "--since", "1h"] + f.flags)
        #expect(r.lines.count == 2)  // header + the row with a recent event
        #expect(r.lines.last?.hasPrefix(String(id)) == true)

        r = try FundqProcess.run(["jobs", "abandon-tracking", "--after", "30m"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("abandon-tracking: 1 row without a donation"))
        r = try FundqProcess.run(["tracking", "rebuild"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "tracking rebuild: 2 rows folded from their events, 0 differed and were rewritten, 0 stored events skipped\n")
        r = try FundqProcess.run(["tracking", "list", "--json"] + f.flags)
        let statuses = try JSONParser().parse(r.stdout)
        guard case .array(let all) = statuses else { Issue.record("tracking list printed \(r.stdout)"); return }
        #expect(all.compactMap { $0.objectValue?["status"]?.scalarText }.sorted() == ["abandoned", "started"])
    }

    @Test func demoTracksEveryDonorAndLinksEveryBookedDonation() throws {
        let dir = try TemporaryDirectory()
        let env = ["FUNDQ_PROCESSORS_DIR": RepositoryPaths.processors]
        for _ in 0..<2 {  // the second run on the same file: new ids from the sequence, still balanced
            let r = try FundqProcess.run(["demo", "--data-dir", dir.path], environment: env)
            #expect(r.status == 0, "\(r.stderr)")
            // How many donors book a donation rather than a recurring signup depends on the registered processors.
            let line = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("tracking: ") }, "\(r.stderr)")
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count == 6 else { Issue.record("\(line)"); continue }
            let (donated, booked, abandoned, started) = (numbers[0], numbers[1], numbers[2], numbers[3])
            #expect(donated == booked && donated + abandoned + started == 300 && started == 15, "\(line)")
            #expect(line.hasSuffix("= 300 rows of 300 donors: every donor tracked, every booked donation linked"))
            // Every donor's first event, the 15 retries' second, and one link per booked donation.
            #expect(r.stderr.contains("tracking consumer: \(315 + donated) messages in"))
            #expect(r.stderr.contains("\(315 + donated) applied, 0 damaged"))
        }
    }
}
