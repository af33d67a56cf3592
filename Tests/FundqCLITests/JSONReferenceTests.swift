import Backends
import Core
import Foundation
import FundqTestSupport
import Testing

/// Every `--json` output against docs/json-reference.md, both ways: each key
/// printed is documented with its type, each documented key is printed.
@Suite("JSON reference")
struct JSONReferenceTests {
    /// The documented shapes: heading ("fundq queue stats --json") → path → allowed types.
    static func reference() throws -> [String: [String: Set<String>]] {
        let text = try String(contentsOfFile: RepositoryPaths.root + "/docs/json-reference.md", encoding: .utf8)
        var shapes: [String: [String: Set<String>]] = [:]
        var heading: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("### `") {
                heading = String(line.dropFirst(5).prefix { $0 != "`" })
                continue
            }
            if line.hasPrefix("#") { heading = nil }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let heading, line.hasPrefix("| `"), cells.count >= 2 else { continue }
            let path = String(cells[0].dropFirst().dropLast())
            shapes[heading, default: [:]][path] = Set(cells[1].components(separatedBy: " or "))
        }
        return shapes
    }

    /// The type names a value may be documented as.
    static func types(of value: JSONValue) -> Set<String> {
        switch value {
        case .null: return ["null"]
        case .bool: return ["boolean"]
        case .number(let n): return n.contains(where: { ".eE".contains($0) }) ? ["number"] : ["integer", "number"]
        case .string: return ["string"]
        case .array: return ["array"]
        case .object: return ["object"]
        }
    }

    /// Every path in `value` with the types seen there; members of a map
    /// documented as `PATH.*` are walked as `*`; `any` values are not walked.
    static func walk(_ value: JSONValue, at path: String, shape: [String: Set<String>], into seen: inout [String: Set<String>]) {
        if !path.isEmpty { seen[path, default: []].formUnion(types(of: value)) }
        if shape[path]?.contains("any") == true { return }
        switch value {
        case .array(let items):
            for item in items { walk(item, at: path + "[]", shape: shape, into: &seen) }
        case .object(let members):
            let wildcard = path.isEmpty ? "*" : path + ".*"
            for (key, member) in members {
                let child = shape[wildcard] != nil ? wildcard : (path.isEmpty ? key : path + "." + key)
                walk(member, at: child, shape: shape, into: &seen)
            }
        default:
            break
        }
    }

    /// Checks `output` against the shape documented under `heading`.
    @discardableResult
    static func check(_ heading: String, _ result: FundqProcess.Result, shapes: [String: [String: Set<String>]]) throws -> JSONValue {
        #expect(result.status == 0, "\(heading): \(result.stderr)")
        return try check(heading, try JSONParser().parse(result.stdout), shapes: shapes)
    }

    /// Checks one JSON value against the shape documented under `heading`.
    @discardableResult
    static func check(_ heading: String, _ value: JSONValue, shapes: [String: [String: Set<String>]]) throws -> JSONValue {
        let shape = try #require(shapes[heading], "docs/json-reference.md has no section `\(heading)`")
        var seen: [String: Set<String>] = [:]
        walk(value, at: "", shape: shape, into: &seen)
        for (path, types) in seen {
            guard let allowed = shape[path] else {
                Issue.record("\(heading): key \(path) is printed but not documented")
                continue
            }
            #expect(allowed.contains("any") || !types.isDisjoint(with: allowed), "\(heading): \(path) is \(types), documented \(allowed)")
        }
        for path in shape.keys where seen[path] == nil {
            Issue.record("\(heading): documented key \(path) was not printed: \(value.serialized().prefix(400))")
        }
        return value
    }

    /// Checks a listing's `--json-lines` output: each row line is an element of the
    /// array its `--json` prints (documented under `heading`), in the same order, then a summary line.
    static func checkLines(_ heading: String, _ lines: FundqProcess.Result, array: JSONValue,
                           shapes: [String: [String: Set<String>]]) throws {
        #expect(lines.status == 0, "\(heading): \(lines.stderr)")
        let parsed = try lines.lines.map { try JSONParser().parse($0) }
        let rows = parsed.dropLast().map { line -> JSONValue in
            var members = line.objectValue ?? [:]
            #expect(members.removeValue(forKey: "type") == .string("row"), "\(heading): \(line.serialized())")
            return .object(members)
        }
        #expect(JSONValue.array(rows) == array, "\(heading): the rows differ from --json's")
        try check(heading, .array(rows), shapes: shapes)
        let summary = try #require(parsed.last, "\(heading): no summary line")
        try check("fundq LISTING --json-lines (summary line)", summary, shapes: shapes)
        #expect(summary.objectValue?["rows"] == .number(String(rows.count)), "\(heading): \(summary.serialized())")
    }

    @Test func everyJSONOutputHasItsDocumentedShape() throws {
        let shapes = try Self.reference()
        let db = try DatabaseFixture(.sqlite)
        let f = try SandboxFixture()
        var env = f.environment(["FUNDQ_PAYPAL_RATE_LIMIT_PER_SECOND": "1000", "FUNDQ_GLOBALCOLLECT_RATE_LIMIT_PER_SECOND": "1000"])
        env["FUNDQ_PROCESSORS_DIR"] = RepositoryPaths.processors
        env["FUNDQ_DATA_DIR"] = db.directory.path
        func run(_ arguments: [String], stdin: String? = nil) throws -> FundqProcess.Result {
            try FundqProcess.run(arguments, stdin: stdin, environment: env)
        }
        var checked: Set<String> = []
        @discardableResult
        func check(_ heading: String, _ arguments: [String], stdin: String? = nil) throws -> JSONValue {
            checked.insert(heading)
            let value = try Self.check(heading, try run(arguments, stdin: stdin), shapes: shapes)
            if Self.listings.contains(heading) {
                let streamed = try run(arguments.map { $0 == "--json" ? "--json-lines" : $0 })
                try Self.checkLines(heading, streamed, array: value, shapes: shapes)
                checked.insert("fundq LISTING --json-lines (summary line)")
            }
            return value
        }
        let started = Int(Date().timeIntervalSince1970) - 3600
        try f.sandbox.script("paypal", id: "J-1", outcome: .abandoned)
        try f.sandbox.script("globalcollect", id: "J-2", outcome: .complete)
        let pending = [
            #"{"gateway":"paypal","order_id":"J-1","gateway_session_id":"J-1","date":\#(started),"gross":"5.00","currency":"EUR"}"#,
            #"{"gateway":"globalcollect","order_id":"J-2","date":\#(started),"gross":"5.00","currency":"EUR","email":"d@example.org"}"#,
            #"{"gateway":"paypal","order_id":"J-3","date":\#(started),"gross":"5.00","currency":"EUR"}"#,
            #"{"gateway":"paypal"}"#,
        ]
        try check("fundq queue push QUEUE --json", ["queue", "push", "pending", "--lines", "--json"],
                  stdin: pending.joined(separator: "\n"))
        try check("fundq queue peek QUEUE --json", ["queue", "peek", "pending", "--json"])
        try check("fundq queue stats --json", ["queue", "stats", "--json"])
        try check("fundq consume pending --json", ["consume", "pending", "--json"])
        #expect(try run(["queue", "push", "donations"], stdin: validDonation(1)).status == 0)
        try check("fundq consume donations --json", ["consume", "donations", "--json"])
        let micros = TrackingEvent.micros(Date())
        #expect(try run(["tracking", "push"], stdin: #"{"id":"77","ts":\#(micros),"utm_source":"B1.lp.cc"}"#).status == 0)
        try check("fundq consume tracking --json", ["consume", "tracking", "--json"])

        try check("fundq damaged list --json", ["damaged", "list", "--json"])
        try check("fundq damaged show ID --json", ["damaged", "show", "1", "--json"])
        try check("fundq damaged requeue --due --json", ["damaged", "requeue", "--due", "--reason", "JSON reference test", "--json"])

        try check("fundq rectify --json", ["rectify", "--dry-run", "--json", "--processor", "paypal"])
        let streamed = try run(["rectify", "--dry-run", "--json-lines"])
        #expect(streamed.status == 0, "\(streamed.stderr)")
        let lines = try streamed.lines.map { try JSONParser().parse($0) }
        #expect(lines.count == 4 && lines.last?.objectValue?["type"] == .string("summary"), "\(streamed.stdout)")
        for line in lines {
            let kind = line.objectValue?["type"]?.scalarText ?? "?"
            try Self.check("fundq rectify --json-lines (\(kind) line)", line, shapes: shapes)
            checked.insert("fundq rectify --json-lines (\(kind) line)")
        }
        try check("fundq rectify --json", ["rectify", "--json"])
        guard case .array(let logged) = try check("fundq rectify log --json", ["rectify", "log", "--json"]) else { return }
        // Their pending rows are kept (resolved): each decision knows the payment's age.
        let ages = logged.compactMap { $0.objectValue?["age_seconds"]?.scalarText.flatMap(Double.init) }
        #expect(!logged.isEmpty && ages.count == logged.count && ages.allSatisfy { $0 >= 3500 }, "\(logged)")
        try check("fundq pending list --json", ["pending", "list", "--all", "--json"])
        let cut = try run(["pending", "list", "--all", "--limit", "1", "--json-lines"])
        #expect(cut.lines.count == 2 && cut.lines.last == #"{"cut":true,"rows":1,"type":"summary"}"#, "\(cut.stdout)")
        #expect(cut.stderr.contains("showing the first 1 pending rows"), "\(cut.stderr)")
        #expect(try run(["pending", "list", "--json", "--json-lines"]).status == 2)
        try check("fundq pending show GATEWAY ORDER_ID", ["pending", "show", "paypal", "J-3"])
        let storage = try Storage(db.configuration)
        try storage.database.execute("UPDATE pending SET needs_review = 1, review_reason = 'a person must look' WHERE order_id = 'J-3'", [])
        try check("fundq pending list --needs-review --json", ["pending", "list", "--needs-review", "--json"])

        try check("fundq processor list --json", ["processor", "list", "--json"])
        try check("fundq processor NAME status ID --json", ["processor", "globalcollect", "status", "J-2", "--json"])
        try check("fundq processor NAME check --json", ["processor", "paypal", "check", "--json"])
        try check("fundq processor check --all --json", ["processor", "check", "--all", "--json"])

        try check("fundq tracking list --json", ["tracking", "list", "--json"])
        try check("fundq tracking show ID --json", ["tracking", "show", "77", "--json"])

        let impressions = db.directory.file("impressions.jsonl")
        try Self.impressionLines(minute: started).write(toFile: impressions, atomically: true, encoding: .utf8)
        #expect(try run(["impressions", "load", "--file", impressions]).status == 0)
        try check("fundq impressions report --json", ["impressions", "report", "--json"])
        try check("fundq impressions rejects --json", ["impressions", "rejects", "--json"])

        func checkValue(_ heading: String, _ value: JSONValue) throws {
            checked.insert(heading)
            try Self.check(heading, value, shapes: shapes)
        }
        try checkOperations(storage: storage, run: { try run($0, stdin: $1) }, check: { _ = try check($0, $1) }, checkValue: checkValue)
        try checkBenchmarks(check: { try check($0, $1) })
        let notRun = try Self.headingsNotRun()
        for heading in shapes.keys.sorted() where !checked.contains(heading) && !notRun.contains(heading) {
            Issue.record("docs/json-reference.md documents `\(heading)`, which this test does not run")
        }
        for command in try Self.commandsWithJSON() where !Self.covered(command, by: Set(shapes.keys)) {
            Issue.record("`fundq \(command.joined(separator: " "))` takes --json but docs/json-reference.md has no section for it")
        }
    }

    /// status (a registered process, a threshold crossed), audit, db status and stats, jobs retention, damaged delete.
    func checkOperations(storage: Storage, run: ([String], String?) throws -> FundqProcess.Result, check: (String, [String]) throws -> Void,
                         checkValue: (String, JSONValue) throws -> Void) throws {
        let now = Date()
        try ProcessRegistry(connection: storage.database).write(ProcessRecord(
            id: "reference:1:0", role: "consume-pending", host: "reference", pid: 1, startedAt: now, heartbeatAt: now,
            intervalSeconds: 60, doing: "waiting for messages", doingSince: now, counters: ["claimed": 3]))
        let status = try run(["status", "--json", "--check", "--max-needs-review", "0"], nil)
        #expect(status.status == 1, "a threshold is crossed: \(status.stderr)")
        try checkValue("fundq status --json", try JSONParser().parse(status.stdout))
        #expect(try run(["queue", "push", "pending"], #"{"gateway":"paypal"}"#).status == 0)
        #expect(try run(["consume", "pending"], nil).status == 0)
        let damaged = try storage.damaged.list(queue: "pending", limit: 1)
        let id = try #require(damaged.first?.id, "a damaged message to delete")
        try check("fundq damaged delete ID --json", ["damaged", "delete", String(id), "--reason", "JSON reference test", "--json"])
        try check("fundq audit --json", ["audit", "--json"])
        try check("fundq db status --json", ["db", "status", "--json"])
        try check("fundq jobs retention --json", ["jobs", "retention", "--dry-run", "--json"])
        // With the queues in Redis, so that its memory per queue is printed too.
        let privateRedis = RedisServer.sharedURL == nil ? try RedisServer() : nil
        let redis = ["--queue-url", try #require(RedisServer.sharedURL ?? privateRedis?.url)]
        #expect(try run(["queue", "push", "reference-\(UUID().uuidString.prefix(8))"] + redis, #"{"n":1}"#).status == 0)
        try check("fundq db stats --json", ["db", "stats", "--json"] + redis)
    }

    /// Every benchmark, with tiny sizes (their figures are not looked at, only their shape).
    func checkBenchmarks(check: (String, [String]) throws -> JSONValue) throws {
        _ = try check("fundq bench queue --json", ["bench", "queue", "--messages", "20", "--batch", "5", "--json"])
        _ = try check("fundq bench consume --json", ["bench", "consume", "--messages", "20", "--baseline-messages", "10", "--batch", "5",
                                                     "--json"])
        _ = try check("fundq bench tracking --json", ["bench", "tracking", "--events", "20", "--baseline-events", "10", "--batch", "5",
                                                      "--json"])
        _ = try check("fundq bench reclaim --json", ["bench", "reclaim", "--messages", "20", "--push-interval-ms", "0", "--json"])
        let kafka = try KafkaFixture(), topic = "json-reference-\(UUID().uuidString.prefix(8))"
        try kafka.createTopic(topic, partitions: 1)
        let impressions = try check("fundq bench impressions --json", [
            "bench", "impressions", "--events", "100", "--baseline-events", "50", "--brokers", kafka.brokers, "--topic", topic,
            "--kafka-events", "20", "--kafka-rounds", "3", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=1000", "--json"])
        // The runs shown are the median round's, not another round's or a mix.
        try Self.expectMedianRound(impressions, rounds: "kafka_rounds", "ratio", runs: "runs", "ratio", count: 3)
        _ = try check("fundq bench processor NAME --json", ["bench", "processor", "paypal", "--requests", "10", "--json"])
        let rectify = try check("fundq bench rectify --json", ["bench", "rectify", "--orphans", "10", "--baseline-orphans", "5",
                                                               "--status-calls", "10", "--json"])
        try Self.expectMedianRound(rectify, rounds: "rounds", "ratio_to_status_calls", runs: "runs", "ratio_to_status_calls", count: 3)
    }

    /// Expects `count` rounds in `value[rounds]`, and the last run's `runKey` to be the median of their `roundKey`.
    static func expectMedianRound(_ value: JSONValue, rounds: String, _ roundKey: String, runs: String, _ runKey: String,
                                  count: Int) throws {
        let ratios = numberTexts(value, rounds, roundKey)
        #expect(ratios.count == count, "\(value.serialized().prefix(400))")
        let median = try #require(ratios.sorted { Double($0)! < Double($1)! }.dropFirst(ratios.count / 2).first)
        #expect(numberTexts(value, runs, runKey).last == median, "\(value.serialized().prefix(400))")
    }

    /// The number texts of `key` in each object of the array `array` of `value`.
    static func numberTexts(_ value: JSONValue, _ array: String, _ key: String) -> [String] {
        guard case .array(let items)? = value.objectValue?[array] else { return [] }
        return items.compactMap { item in
            if case .number(let text)? = item.objectValue?[key] { return text }
            return nil
        }
    }

    /// Headings whose section says the test does not run them (they need a broker).
    static func headingsNotRun() throws -> Set<String> {
        let text = try String(contentsOfFile: RepositoryPaths.root + "/docs/json-reference.md", encoding: .utf8)
        var result: Set<String> = []
        var heading: String?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("### `") { heading = String(line.dropFirst(5).prefix { $0 != "`" }) }
            if line.hasPrefix("Not run by the reference test"), let heading { result.insert(heading) }
        }
        return result
    }

    /// Every command path that takes `--json` or `--json-lines`, from the parser's own description of the
    /// command tree (`fundq --experimental-dump-help`).
    static func commandsWithJSON() throws -> [[String]] {
        let dump = try FundqProcess.run(["--experimental-dump-help"])
        // The JSON document ends at the first line that is a lone "}".
        let end = try #require(dump.stdout.range(of: "\n}\n")?.upperBound, "no JSON in --experimental-dump-help")
        let root = try #require(try JSONParser().parse(String(dump.stdout[..<end])).objectValue?["command"])
        var found: [[String]] = []
        func walk(_ command: JSONValue, _ path: [String]) {
            let members = command.objectValue ?? [:]
            let longNames = (members["arguments"].map(Self.elements) ?? []).flatMap { argument in
                (argument.objectValue?["names"].map(Self.elements) ?? []).compactMap { name -> String? in
                    name.objectValue?["kind"] == .string("long") ? name.objectValue?["name"]?.scalarText : nil
                }
            }
            if longNames.contains("json") || longNames.contains("json-lines") {
                // A default subcommand may be left out: `fundq rectify --json` runs `rectify run`.
                found.append(path)
            }
            let defaultName = members["defaultSubcommand"]?.scalarText
            for sub in members["subcommands"].map(Self.elements) ?? [] {
                let name = sub.objectValue?["commandName"]?.scalarText ?? "?"
                walk(sub, name == defaultName ? path : path + [name])
            }
        }
        walk(root, [])
        #expect(found.count >= 20, "the command tree lists \(found.count) commands with --json")
        return found
    }

    /// The elements of an array, none for anything else.
    static func elements(_ value: JSONValue) -> [JSONValue] {
        if case .array(let items) = value { return items }
        return []
    }

    /// Whether some heading (`fundq consume pending --json`) starts with the command's words.
    static func covered(_ command: [String], by headings: Set<String>) -> Bool {
        headings.contains { heading in
            let words = heading.split(separator: " ").dropFirst().map(String.init)
            return words.count >= command.count && Array(words.prefix(command.count)) == command
        }
    }

    /// The listings that also take `--json-lines`.
    static let listings: Set = ["fundq pending list --json", "fundq pending list --needs-review --json", "fundq damaged list --json",
                                "fundq tracking list --json", "fundq impressions rejects --json"]

    /// One counted impression, one from a bot (skipped), one malformed (rejected).
    static func impressionLines(minute: Int) -> String {
        let dt = Date(timeIntervalSince1970: Double(minute)).formatted(.iso8601)
        func event(isBot: Bool) -> String {
            #"{"dt":"\#(dt)","uuid":"0a1b2c3d-4b1c-9d2e-5f60718293a4","wiki":"enwiki","userAgent":{"is_bot":\#(isBot)},"# +
                #""event":{"banner":"B26_1","campaign":"C26_x","country":"US","db":"enwiki","uselang":"en","statusCode":"6","# +
                #""result":"show","device":"desktop","project":"wikipedia","impressionEventSampleRate":0.01}}"#
        }
        return [event(isBot: false), event(isBot: true), #"{"dt":"\#(dt)","event":{"banner":"#].joined(separator: "\n") + "\n"
    }
}
