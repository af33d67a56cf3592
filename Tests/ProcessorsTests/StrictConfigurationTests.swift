import Core
import Foundation
import FundqTestSupport
import Testing

/// Processor files, overrides and the secrets file are read strictly: a
/// mistyped key, a key given twice, an override that overrides nothing, a
/// fraction where a whole number belongs, a malformed secrets line are
/// errors naming the key and the file or variable.
@Suite("Strict configuration")
struct StrictConfigurationTests {
    let base = "endpoint: https://example.org/api\ncredentials:\n  user: FUNDQ_X_USER\n"

    func failure(_ text: String, env: [String: String] = [:], others: [String] = []) -> String {
        do {
            _ = try ProcessorConfiguration.parse(text, name: "x", source: "x.yaml", otherProcessors: others, environment: env)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func unknownAndDuplicateKeysAreErrorsNamingTheKeyAndLine() {
        #expect(failure(base + "concurency: 2\n").hasPrefix("x.yaml: unknown key concurency (line 4) (did you mean concurrency?); known: "))
        #expect(failure(base + "timeouts:\n  total_second: 3\n").contains("unknown key timeouts.total_second (line 5)"))
        #expect(failure(base + "endpoint: https://other.example.org\n") == "x.yaml: key endpoint appears twice (line 4)")
        #expect(failure(base + "timeouts:\n  total_seconds: 3\n  total_seconds: 4\n")
            == "x.yaml: key timeouts.total_seconds appears twice (line 6)")
        #expect(failure(base + "settings:\n  anything_at_all: 1\n") == "accepted", "settings are the processor's own")
    }

    @Test func integersAreIntegers() {
        #expect(failure(base + "concurrency: 2.7\n") == "x.yaml: concurrency must be a whole number from 1 to 256, not '2.7'")
        #expect(failure(base, env: ["FUNDQ_X_RETRY_ATTEMPTS": "1.5"])
            == "FUNDQ_X_RETRY_ATTEMPTS (overriding x.yaml) must be a whole number from 1 to 10, not '1.5'")
        #expect(failure(base + "concurrency: 3\nmaximum_response_bytes: 2048\n") == "accepted")
    }

    @Test func anOverrideThatOverridesNothingIsAnErrorButCredentialsAndOtherProcessorsAreNot() {
        #expect(failure(base, env: ["FUNDQ_X_CONCURENCY": "3"])
            == "FUNDQ_X_CONCURENCY overrides no setting of processor x (x.yaml) (did you mean FUNDQ_X_CONCURRENCY?)")
        #expect(failure(base, env: ["FUNDQ_X_SETTINGS_VERSION": "1"]).hasPrefix("FUNDQ_X_SETTINGS_VERSION overrides no setting"))
        #expect(failure(base, env: ["FUNDQ_X_USER": "alice", "FUNDQ_X_USER_FILE": "/run/secrets/user"]) == "accepted")
        #expect(failure(base, env: ["FUNDQ_X_RECURRING_ENDPOINT": "https://r.example.org"], others: ["x-recurring"]) == "accepted")
        #expect(failure(base, env: ["FUNDQ_X_RECURRING_ENDPOINT": "https://r.example.org"]) != "accepted")
    }

    @Test func eachValueSaysWhereItCameFrom() throws {
        let c = try ProcessorConfiguration.parse(base + "timeouts:\n  total_seconds: 12\n", name: "x", source: "x.yaml",
                                                 environment: ["FUNDQ_X_CONCURRENCY": "3"])
        #expect(c.effective["concurrency"]?.value == "3" && c.effective["concurrency"]?.source == "FUNDQ_X_CONCURRENCY (overriding x.yaml)")
        #expect(c.effective["timeouts.total_seconds"]?.value == "12" && c.effective["timeouts.total_seconds"]?.source == "x.yaml")
        #expect(c.effective["retry.attempts"]?.value == "2" && c.effective["retry.attempts"]?.source == "default")
        #expect(c.effective["credentials.user"]?.value == "FUNDQ_X_USER")
    }

    @Test func everyShippedFileIsReadStrictly() throws {
        for name in ["paypal", "paypal-recurring", "globalcollect"] {
            _ = try ProcessorConfiguration.load(name: name, directory: RepositoryPaths.processors, environment: [:])
        }
    }

    @Test func aMalformedSecretsLineIsAnErrorNamingFileAndLineButNotItsText() throws {
        let dir = try TemporaryDirectory()
        let file = dir.file("secrets")
        func read(_ text: String) -> String {
            try? text.write(toFile: file, atomically: true, encoding: .utf8)
            do { return "\(try SecretSettings(environment: ["FUNDQ_SECRETS_FILE": file]).secretsFile())" } catch { return "\(error)" }
        }
        try "# comment\n\nFUNDQ_A=1\r\nFUNDQ_B= two=2 \n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try SecretSettings(environment: ["FUNDQ_SECRETS_FILE": file]).secretsFile() == ["FUNDQ_A": "1", "FUNDQ_B": " two=2 "])
        let noEquals = read("FUNDQ_A=1\nhunter2-secret\n")
        #expect(noEquals == "the secrets file \(file) (FUNDQ_SECRETS_FILE), line 2: expected NAME=value (no '=')")
        let badName = read("FUNDQ A=hunter2\n")
        #expect(badName.contains("line 1: the name before '=' must be a variable name") && !badName.contains("hunter2"))
        #expect(read("FUNDQ_A=1\n# x\nFUNDQ_A=2\n").hasSuffix("line 3: FUNDQ_A is set again (first on line 1)"))
    }

    @Test func aMistypedWordFindsItsNeighbour() {
        #expect(Spelling.closest(to: "stat", among: ["stats", "peek", "push"]) == "stats")
        #expect(Spelling.closest(to: "lgo", among: ["run", "log"]) == "log")
        #expect(Spelling.closest(to: "zzz", among: ["run", "log"]) == nil)
    }
}
