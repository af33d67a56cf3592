import Core
import Foundation
import FundqTestSupport
import Testing

/// End-to-end tests of the command line: the real binary, real backends.
@Suite("fundq queue and damaged commands")
struct QueueCommandTests {
    @Test(arguments: QueueBackendKind.allCases)
    func pushPeekStatsPopRoundTrip(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let q = f.queueName
        var r = try FundqProcess.run(["queue", "push", q, "--json"] + f.flags, stdin: #"{"gateway":"paypal","gross":"5.00"}"#)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "{\"pushed\":1,\"queue\":\"\(q)\"}\n")
        r = try FundqProcess.run(["queue", "push", q, "--lines"] + f.flags, stdin: "{\"n\":2}\n\n{\"n\":3}\r\n")
        #expect(r.status == 0)
        #expect(r.stderr.contains("pushed 2 messages to \(q)"))

        r = try FundqProcess.run(["queue", "peek", q, "--json"] + f.flags)
        let peeked = try JSONParser().parse(r.stdout).objectValue?["message"]?.objectValue
        #expect(peeked?["gross"] == .string("5.00"))
        #expect(peeked?["source_name"] == .string("fundq"))

        r = try FundqProcess.run(["queue", "stats", q, "--json"] + f.flags)
        guard case .array(let rows) = try JSONParser().parse(r.stdout), let row = rows.first?.objectValue else {
            Issue.record("stats --json printed \(r.stdout)")
            return
        }
        #expect(row["waiting"] == .number("3"))
        #expect(row["in_flight"] == .number("0"))
        #expect(row["damaged"] == .number("0"))

        r = try FundqProcess.run(["queue", "pop", q, "--limit", "2"] + f.flags)
        #expect(r.status == 0)
        #expect(r.lines.count == 2)
        #expect(r.lines[0].hasPrefix(#"{"gateway":"paypal","gross":"5.00","source_name":"fundq""#))
        #expect(r.lines[1].hasPrefix(#"{"n":2,"#))
        #expect(r.stderr.contains("popped 2 messages from \(q): 2 acknowledged, 0 damaged"))
        r = try FundqProcess.run(["queue", "pop", q] + f.flags)
        #expect(r.lines.count == 1)
        r = try FundqProcess.run(["queue", "pop", q] + f.flags)
        #expect(r.status == 0)
        #expect(r.lines.isEmpty)
    }

    @Test(arguments: QueueBackendKind.allCases)
    func execAcknowledgesOnlyOnExitZeroAndDamagesWithTheCommandsError(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let q = f.queueName
        let input = (1...4).map { #"{"n":\#($0),"gateway":"globalcollect","order_id":"o\#($0)"}"# }.joined(separator: "\n")
        #expect(try FundqProcess.run(["queue", "push", q, "--lines"] + f.flags, stdin: input).status == 0)
        let handled = f.directory.file("handled")
        // n=2 fails for good, n=3 fails temporarily (exit 75), others succeed.
        let script = """
            body=$(cat); case "$body" in *'"n":2'*) echo "no such donor" >&2; exit 3;; *'"n":3'*) echo "CRM down" >&2; exit 75;; esac; \
            echo "$body" >> \(handled)
            """
        let r = try FundqProcess.run(["queue", "pop", q, "--exec", script, "--retry-after", "0"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("popped 4 messages from \(q): 2 acknowledged, 2 damaged"))
        let handledLines = try String(contentsOfFile: handled, encoding: .utf8).split(separator: "\n")
        #expect(handledLines.count == 2)

        let list = try FundqProcess.run(["damaged", "list", "--queue", q, "--json"] + f.flags)
        guard case .array(let rows) = try JSONParser().parse(list.stdout) else {
            Issue.record("damaged list --json printed \(list.stdout)")
            return
        }
        let byOrder = Dictionary(uniqueKeysWithValues: rows.compactMap(\.objectValue).map { ($0["order_id"]?.scalarText ?? "", $0) })
        #expect(byOrder["o2"]?["error"]?.scalarText?.contains("exited with status 3: no such donor") == true)
        #expect(byOrder["o2"]?["retry_date"] == .null)
        #expect(byOrder["o3"]?["error"]?.scalarText?.contains("CRM down") == true)
        #expect(byOrder["o3"]?["retry_date"] != .null)

        // The requeue job puts back only the due one.
        let requeue = try FundqProcess.run(["damaged", "requeue", "--due", "--json", "--reason", "CRM is back"] + f.flags)
        #expect(requeue.stdout == #"{"matched":1,"requeued":1}"# + "\n", "\(requeue.stdout)")
        let again = try FundqProcess.run(["queue", "pop", q] + f.flags)
        #expect(again.lines.count == 1)
        #expect(again.lines.first?.contains(#""n":3"#) == true)

        // show, then requeue by id and delete.
        let id = try #require(byOrder["o2"]?["id"]?.scalarText)
        let show = try FundqProcess.run(["damaged", "show", id] + f.flags)
        #expect(show.stdout.contains("order id:       o2"))
        #expect(show.stdout.contains("trace:          ExecHandler.CommandFailed") || show.stdout.contains("CommandFailed"))
        #expect(try FundqProcess.run(["damaged", "delete", id, "--reason", "no such donor"] + f.flags).status == 0)
        let missing = try FundqProcess.run(["damaged", "show", id] + f.flags)
        #expect(missing.status == 1)
        #expect(missing.stderr == "fundq: no damaged message with id \(id)\n")
    }

    @Test(arguments: QueueBackendKind.allCases)
    func execRestoresDefaultSignalsEnforcesItsTimeoutAndStopsOnAMissingCommand(kind: QueueBackendKind) throws {
        let f = try QueueFixture(kind)
        let q = f.queueName
        #expect(try FundqProcess.run(["queue", "push", q, "--lines"] + f.flags, stdin: "{\"n\":1}\n{\"n\":2}\n").status == 0)
        // fundq ignores SIGTERM and SIGPIPE itself; its commands must not inherit that.
        var r = try FundqProcess.run(["queue", "pop", q, "--limit", "1", "--exec", "cat >/dev/null; kill -TERM $$; sleep 5"] + f.flags)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 damaged"))
        r = try FundqProcess.run(["queue", "pop", q, "--limit", "1", "--lease", "10", "--exec-timeout", "1", "--exec", "sleep 30"]
                                 + f.flags)
        #expect(r.stderr.contains("1 damaged"))
        let errors = try f.open().damaged.list(queue: q, limit: 10).map(\.error).sorted()
        #expect(errors.count == 2)
        #expect(errors.contains { $0.contains("was killed by signal 15") })
        #expect(errors.contains { $0.contains("did not finish within 1 s and was killed") })
        #expect(try f.open().damaged.list(queue: q, limit: 10).allSatisfy { $0.retryDate != nil })

        // A command that does not exist damages nothing: fundq stops, the message stays.
        #expect(try FundqProcess.run(["queue", "push", q] + f.flags, stdin: "{\"n\":3}").status == 0)
        r = try FundqProcess.run(["queue", "pop", q, "--exec", "/no/such/handler"] + f.flags)
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot run (exit 127)"))
        let stats = try f.open().queue.stats(q)
        #expect(stats.waiting == 1)
        #expect(try f.open().damaged.count(queue: q) == 2)
    }

    @Test func malformedInputIsRefusedWithWhatAndWhereAndExitOne() throws {
        let f = try QueueFixture(.sqlite)
        let q = f.queueName
        var r = try FundqProcess.run(["queue", "push", q] + f.flags, stdin: "{\"gross\": 5,\n \"currency\" \"EUR\"}")
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: standard input: message is not valid JSON: invalid JSON at line 2, column 13 (byte 25): "
            + "unexpected '\"', expected ':' after object key\n")
        r = try FundqProcess.run(["queue", "push", q, "--lines"] + f.flags, stdin: "{\"a\":1}\n[1]\n")
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: line 2 of standard input: message must be a JSON object, found an array\n")
        let big = "{\"x\":\"" + String(repeating: "a", count: 2 << 20) + "\"}"
        r = try FundqProcess.run(["queue", "push", q] + f.flags, stdin: big)
        #expect(r.status == 1)
        #expect(r.stderr.contains("over the limit of 1048576 bytes"))
        r = try FundqProcess.run(["queue", "stats", q, "--json"] + f.flags)
        #expect(r.stdout.contains("\"waiting\":0"))
    }

    @Test func usageErrorsExitTwo() throws {
        for args in [["queue", "pop"], ["queue", "push", "bad name"], ["queue", "pop", "q", "--batch", "0"], ["nonsense"],
                     ["damaged", "requeue"]] {
            let r = try FundqProcess.run(args)
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(!r.stderr.isEmpty)
        }
        #expect(try FundqProcess.run(["--help"]).status == 0)
    }

    @Test func unreachableRedisIsAClearOperationalError() throws {
        let port = try FreePort.find()
        let r = try FundqProcess.run(["queue", "push", "donations", "--queue-url", "redis://127.0.0.1:\(port)"], stdin: "{}")
        #expect(r.status == 1)
        #expect(r.stderr == "fundq: cannot reach Redis at 127.0.0.1:\(port): connection refused (while pushing to donations)\n")
        let bad = try FundqProcess.run(["queue", "stats", "--queue-url", "redis://:hunter2@127.0.0.1:notaport"])
        #expect(bad.status == 2, "a malformed --queue-url is a usage error")
        #expect(bad.stderr.contains("invalid port"))
        #expect(!bad.stderr.contains("hunter2"))
    }

    @Test func demoRunsTheWholeBackOfficeAndAccountsForEveryDonor() throws {
        let dir = try TemporaryDirectory()
        let env = ["FUNDQ_PROCESSORS_DIR": RepositoryPaths.processors]
        let r = try FundqProcess.run(["demo", "--data-dir", dir.path], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("pending consumer: 300 messages"))
        #expect(r.stderr.contains("rectifier dry run: 150 orphans"))
        #expect(r.stderr.contains("rectifier: 150 orphans: 60 completed (60 collected by the rectifier), 75 failed or abandoned, 15 left"))
        #expect(r.stderr.contains("+ 0 sent to review + 15 in the damaged store = 300 of 300 donors: every donor accounted for"))
        #expect(r.stderr.contains("each payment at most once: true"))
        #expect(!r.stderr.contains("warning"))
        // Run again on the same file: a new set of donors, still balanced.
        let again = try FundqProcess.run(["demo", "--data-dir", dir.path], environment: env)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("every donor accounted for"))
    }

    @Test func versionNamesTheLinkedCLibraries() throws {
        let r = try FundqProcess.run(["version"])
        #expect(r.status == 0)
        for library in ["hiredis", "MariaDB Connector/C", "libcurl", "SQLite", "librdkafka"] {
            #expect(r.stdout.contains(library))
        }
    }
}
