import Core
import Foundation
import FundqTestSupport
import MariaDBDriver
import Processors
import Testing

/// Secrets and personal data, end to end through the `fundq` binary: no
/// password in any message whatever the URL's shape, no credential, card
/// number or email echoed by a processor, one masking policy for every
/// view, and passwords for Redis and MariaDB kept off the command line.
@Suite("secrets and personal data")
struct SecretsTests {
    static let secret = "Hunter2-SECRET-9f3"

    @Test(arguments: [
        ["queue", "stats", "--db-url", "mysql:/fundq:\(secret)@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "mysql//fundq:\(secret)@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "fundq:\(secret)@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "mysql://fundq:\(secret)127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "mysql://fundq:\(secret)@127.0.0.1:3306"],
        ["queue", "stats", "--db-url", "mysql://:\(secret)@127.0.0.1:3306/fundq"],
        // A '?' or '@' left unencoded in the password: its rest reads as a query.
        ["queue", "stats", "--db-url", "mysql://fundq:Hunter@2?\(secret)@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "mysql://fundq:pw?ssl-mode=\(secret)@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "mysql://fundq:p@ss?\(secret)&x@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--db-url", "mysql://fundq:p@ss?\(secret)=x@127.0.0.1:3306/fundq"],
        ["queue", "stats", "--queue-url", "redis:/:\(secret)@127.0.0.1:6379"],
        ["queue", "stats", "--queue-url", "rediss://:\(secret)@127.0.0.1:6379"],
        ["queue", "stats", "--queue-url", "redis://:\(secret)@127.0.0.1:6379/\(secret)"],
        ["queue", "stats", "--queue-url", "redis://127.0.0.1:\(secret)"],
        ["queue", "stats", "--queue-url", "redis://127.0.0.1:31415926535"],
        ["queue", "stats", "--queue-url", "redis://user:\(secret)@@127.0.0.1:notaport"],
    ])
    func aMalformedURLNeverPrintsItsPassword(arguments: [String]) throws {
        let dir = try TemporaryDirectory()
        let r = try FundqProcess.run(arguments + ["--data-dir", dir.path])
        #expect(r.status == 2, "a malformed URL flag is a usage error: \(arguments): \(r.stderr)")
        #expect(r.stderr.hasPrefix("Error: --queue-url: ") || r.stderr.hasPrefix("Error: --db-url: "), "\(r.stderr)")
        #expect(!r.stderr.contains(Self.secret) && !r.stderr.contains("31415926535"), "\(arguments) printed the password: \(r.stderr)")
        #expect(!r.stdout.contains(Self.secret))
    }

    @Test func aMalformedURLInTheEnvironmentNeverPrintsItsPassword() throws {
        let dir = try TemporaryDirectory()
        for (variable, value) in [("FUNDQ_DB_URL", "mysql:/fundq:\(Self.secret)@127.0.0.1:3306/fundq"),
                                  ("FUNDQ_QUEUE_URL", "redis:/:\(Self.secret)@127.0.0.1:6379")] {
            let r = try FundqProcess.run(["queue", "stats", "--data-dir", dir.path], environment: [variable: value])
            #expect(r.status == 1)
            #expect(r.stderr.contains("must start with") && r.stderr.hasPrefix("fundq: \(variable): "), "\(r.stderr)")
            #expect(!r.stderr.contains(Self.secret), "\(variable) printed the password: \(r.stderr)")
        }
        let urlFile = dir.file("db-url")
        try "mysql:/fundq:\(Self.secret)@127.0.0.1:3306/fundq\n".write(toFile: urlFile, atomically: true, encoding: .utf8)
        let r = try FundqProcess.run(["queue", "stats", "--data-dir", dir.path], environment: ["FUNDQ_DB_URL_FILE": urlFile])
        #expect(r.status == 1)
        #expect(r.stderr.contains("must start with mysql://"), "\(r.stderr)")
        #expect(!r.stderr.contains(Self.secret), "\(r.stderr)")
    }

    @Test func aProcessorsEndpointWithCredentialsIsShownMasked() throws {
        let dir = try TemporaryDirectory()
        let env = ["FUNDQ_PROCESSORS_DIR": RepositoryPaths.processors, "FUNDQ_DATA_DIR": dir.path,
                   "FUNDQ_PAYPAL_ENDPOINT": "https://api:\(Self.secret)@api-3t.example.org/nvp"]
        let r = try FundqProcess.run(["processor", "list", "--json"], environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("api-3t.example.org"))
        #expect(!r.stdout.contains(Self.secret), "\(r.stdout)")
    }

    // MARK: one masking policy for every view

    static let donor = #"{"gateway":"paypal","order_id":"ORD-1","gateway_session_id":"EC-1","date":1764000000,"gross":"10.00","#
        + #""currency":"EUR","email":"ada@example.org","first_name":"Ada","card_num":"4111111111111111","cvv":"737","#
        + #""note":"or bill 5555 5555 5555 4444"}"#

    /// Whether `text` holds `digits` as a number of its own: the CVV 737 is
    /// also in many a timestamp or pid of the output (`source_enqueued_time`
    /// 1796207372 made this test fail once).
    static func containsNumber(_ text: String, _ digits: String) -> Bool {
        let bytes = Array(text.utf8), needle = Array(digits.utf8)
        guard bytes.count >= needle.count else { return false }
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) }
        return (0...(bytes.count - needle.count)).contains { i in
            bytes[i..<(i + needle.count)].elementsEqual(needle) && !isDigit(i - 1) && !isDigit(i + needle.count)
        }
    }

    func expectMasked(_ text: String, _ what: String, personal: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        for never in ["4111111111111111", "5555 5555 5555 4444"] {
            #expect(!text.contains(never), "\(what) shows \(never): \(text)", sourceLocation: sourceLocation)
        }
        #expect(!Self.containsNumber(text, "737"), "\(what) shows the CVV: \(text)", sourceLocation: sourceLocation)
        #expect(text.contains("****1111"), "\(what): \(text)", sourceLocation: sourceLocation)
        #expect(text.contains("ada@example.org") == personal, "\(what): \(text)", sourceLocation: sourceLocation)
        #expect(text.contains("Ada") == personal, "\(what): \(text)", sourceLocation: sourceLocation)
    }

    @Test func theCVVCheckFindsItAloneAndNotInsideALongerNumber() {
        #expect(Self.containsNumber(#"{"cvv":"737"}"#, "737") && Self.containsNumber("737", "737"))
        #expect(!Self.containsNumber(#"{"source_enqueued_time":1796207372}"#, "737") && !Self.containsNumber("73", "737"))
    }

    @Test func pendingShowMasksCardNumbersAndCVVsEvenWithShowPersonalData() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        #expect(try FundqProcess.run(["queue", "push", "pending"] + flags, stdin: Self.donor).status == 0)
        #expect(try FundqProcess.run(["consume", "pending"] + flags).status == 0)
        let masked = try FundqProcess.run(["pending", "show", "paypal", "ORD-1"] + flags)
        #expect(masked.status == 0, "\(masked.stderr)")
        expectMasked(masked.stdout, "pending show", personal: false)
        let shown = try FundqProcess.run(["pending", "show", "paypal", "ORD-1", "--show-personal-data"] + flags)
        #expect(shown.status == 0, "\(shown.stderr)")
        expectMasked(shown.stdout, "pending show --show-personal-data", personal: true)
    }

    @Test func damagedShowListAndQueuePeekMaskTheMessageAndTheError() throws {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        #expect(try FundqProcess.run(["queue", "push", "crm"] + flags, stdin: Self.donor).status == 0)
        for json in [false, true] {
            let peek = try FundqProcess.run(["queue", "peek", "crm"] + flags + (json ? ["--json"] : []))
            #expect(peek.status == 0, "\(peek.stderr)")
            expectMasked(peek.stdout, "queue peek", personal: false)
        }
        let peekShown = try FundqProcess.run(["queue", "peek", "crm", "--show-personal-data"] + flags)
        expectMasked(peekShown.stdout, "queue peek --show-personal-data", personal: true)
        // The handler fails echoing the message: the error holds the donor's data too.
        let pop = try FundqProcess.run(["queue", "pop", "crm", "--exec", "cat >&2; exit 3", "-v"] + flags)
        #expect(pop.status == 0, "\(pop.stderr)")
        #expect(pop.stderr.contains("message moved to the damaged store"), "\(pop.stderr)")
        #expect(!pop.stderr.contains("ada@example.org") && !pop.stderr.contains("4111111111111111")
                    && !Self.containsNumber(pop.stderr, "737"),
                "the log line about the damaged message shows donor data: \(pop.stderr)")
        let list = try FundqProcess.run(["damaged", "list", "--json"] + flags)
        guard case .array(let rows) = try JSONParser().parse(list.stdout), let id = rows.first?.objectValue?["id"]?.scalarText else {
            Issue.record("damaged list printed \(list.stdout)")
            return
        }
        #expect(!list.stdout.contains("ada@example.org") && !list.stdout.contains("4111111111111111"), "\(list.stdout)")
        let table = try FundqProcess.run(["damaged", "list"] + flags)
        #expect(!table.stdout.contains("ada@example.org") && !table.stdout.contains("4111111111111111"), "\(table.stdout)")
        for json in [false, true] {
            let show = try FundqProcess.run(["damaged", "show", id] + flags + (json ? ["--json"] : []))
            #expect(show.status == 0, "\(show.stderr)")
            expectMasked(show.stdout, "damaged show", personal: false)
        }
        let shown = try FundqProcess.run(["damaged", "show", id, "--show-personal-data"] + flags)
        expectMasked(shown.stdout, "damaged show --show-personal-data", personal: true)
    }

    // MARK: passwords kept off the command line

    @Test func redisPasswordFromAFileOrTheSecretsFile() throws {
        let password = "redis-pw-\(UUID().uuidString.prefix(8))"
        let redis = try RedisServer(password: password)
        let dir = try TemporaryDirectory()
        try password.write(toFile: dir.file("redis-password"), atomically: true, encoding: .utf8)
        try "# fundq secrets\nFUNDQ_QUEUE_PASSWORD=\(password)\n".write(toFile: dir.file("secrets"), atomically: true, encoding: .utf8)
        try "redis://:\(password)@127.0.0.1:\(redis.port)\n".write(toFile: dir.file("queue-url"), atomically: true, encoding: .utf8)
        let flags = ["--data-dir", dir.path]

        let refused = try FundqProcess.run(["queue", "push", "q", "--queue-url", redis.url] + flags, stdin: "{}")
        #expect(refused.status == 1, "without the password Redis refuses")

        let pushed = try FundqProcess.run(["queue", "push", "q", "--queue-url", redis.url] + flags, stdin: "{}",
                                          environment: ["FUNDQ_QUEUE_PASSWORD_FILE": dir.file("redis-password")])
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let viaSecrets = try FundqProcess.run(["queue", "push", "q", "--queue-url", redis.url] + flags, stdin: "{}",
                                              environment: ["FUNDQ_SECRETS_FILE": dir.file("secrets")])
        #expect(viaSecrets.status == 0, "\(viaSecrets.stderr)")
        let viaURLFile = try FundqProcess.run(["queue", "stats", "q", "--json"] + flags,
                                              environment: ["FUNDQ_QUEUE_URL_FILE": dir.file("queue-url")])
        #expect(viaURLFile.status == 0, "\(viaURLFile.stderr)")
        #expect(viaURLFile.stdout.contains(#""waiting":2"#), "\(viaURLFile.stdout)")
        // Tracking ids come from the same Redis, reached the same way.
        let nextID = try FundqProcess.run(["tracking", "next-id", "--queue-url", redis.url] + flags,
                                          environment: ["FUNDQ_QUEUE_PASSWORD_FILE": dir.file("redis-password")])
        #expect(nextID.status == 0 && Int(nextID.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) != nil, "\(nextID.stderr)")
        for r in [refused, pushed, viaSecrets, viaURLFile, nextID] {
            #expect(!(r.stdout + r.stderr).contains(password))
        }
        try "FUNDQ_QUEUE_PASSWORD=wrong-\(password)\n".write(toFile: dir.file("wrong"), atomically: true, encoding: .utf8)
        let wrong = try FundqProcess.run(["queue", "stats", "--queue-url", redis.url] + flags,
                                         environment: ["FUNDQ_SECRETS_FILE": dir.file("wrong")])
        #expect(wrong.status == 1)
        #expect(!wrong.stderr.contains(password), "\(wrong.stderr)")
    }

    @Test func mariaDBPasswordFromAFileOrTheSecretsFile() throws {
        let db = try DatabaseFixture(.mariadb)
        let url = try DatabaseURL(parsing: try #require(db.databaseURL))
        let password = try #require(url.password)
        let bare = "mysql://\(url.user)@\(url.host):\(url.port)/\(url.database)"
        let dir = try TemporaryDirectory()
        try "\(password)\n".write(toFile: dir.file("db-password"), atomically: true, encoding: .utf8)
        try "FUNDQ_DB_PASSWORD=\(password)\n".write(toFile: dir.file("secrets"), atomically: true, encoding: .utf8)
        try bare.write(toFile: dir.file("db-url"), atomically: true, encoding: .utf8)
        let flags = ["--data-dir", dir.path]

        let refused = try FundqProcess.run(["db", "status", "--db-url", bare] + flags)
        #expect(refused.status == 1, "without the password MariaDB refuses: \(refused.stdout)")
        for environment in [["FUNDQ_DB_PASSWORD_FILE": dir.file("db-password")], ["FUNDQ_SECRETS_FILE": dir.file("secrets")]] {
            let r = try FundqProcess.run(["db", "status", "--db-url", bare] + flags, environment: environment)
            #expect(r.status == 0, "\(environment): \(r.stderr)")
        }
        let fileEnvironment = ["FUNDQ_DB_URL_FILE": dir.file("db-url"), "FUNDQ_SECRETS_FILE": dir.file("secrets")]
        let fromFiles = try FundqProcess.run(["pending", "list"] + flags, environment: fileEnvironment)
        #expect(fromFiles.status == 0, "\(fromFiles.stderr)")
        #expect(!(refused.stderr + fromFiles.stdout + fromFiles.stderr).contains(password))
    }
}
