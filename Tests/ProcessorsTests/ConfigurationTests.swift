import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Testing

@Suite("Processor configuration")
struct ConfigurationTests {
    let yaml = """
        endpoint: https://example.org/api
        credentials:
          user: FUNDQ_X_USER
        settings:
          version: "204"
        timeouts:
          total_seconds: 12
        rectifier:
          attempt_schedule_minutes: [5, 10]
        """

    @Test func readsTheFileAndAppliesEnvironmentOverrides() throws {
        let c = try ProcessorConfiguration.parse(yaml, name: "x", source: "x.yaml",
                                                 environment: ["FUNDQ_X_ENDPOINT": "https://other.example.org", "FUNDQ_X_CONCURRENCY": "9"])
        #expect(c.endpoint == "https://other.example.org")
        #expect(c.concurrency == 9)
        #expect(c.totalTimeout == .seconds(12))
        #expect(c.connectTimeout == .seconds(5))
        #expect(c.attemptSchedule == [.seconds(300), .seconds(600)])
        #expect(c.settings == ["version": "204"])
        #expect(c.credentialVariables == ["user": "FUNDQ_X_USER"])
    }

    @Test func badValuesSayWhichKeyAndWhere() {
        func failure(_ text: String, env: [String: String] = [:]) -> String {
            do {
                _ = try ProcessorConfiguration.parse(text, name: "x", source: "x.yaml", environment: env)
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(failure("credentials:\n  user: FUNDQ_X_USER") == "x.yaml: endpoint is required")
        #expect(failure(yaml, env: ["FUNDQ_X_TIMEOUTS_TOTAL_SECONDS": "soon"])
            == "FUNDQ_X_TIMEOUTS_TOTAL_SECONDS (overriding x.yaml) must be a number from 0.01 to 600.0, not 'soon'")
        #expect(failure("endpoint: https://e\ncredentials:\n  password: hunter2")
            .contains("credentials.password must name an environment variable"))
        #expect(failure("- a\n- b") == "x.yaml must be a YAML mapping")
    }

    @Test func credentialsComeFromTheEnvironmentOrTheSecretsFileAndNeverShow() throws {
        let c = try ProcessorConfiguration.parse(yaml, name: "x", source: "x.yaml", environment: [:])
        let fromEnv = try Credentials(for: c, environment: ["FUNDQ_X_USER": "alice"])
        #expect(fromEnv["user"] == "alice")
        #expect(!"\(fromEnv)".contains("alice"))
        let dir = try TemporaryDirectory()
        try "# secrets\nFUNDQ_X_USER=bob\n".write(toFile: dir.file("secrets"), atomically: true, encoding: .utf8)
        #expect(try Credentials(for: c, environment: ["FUNDQ_SECRETS_FILE": dir.file("secrets")])["user"] == "bob")
        #expect(throws: ConfigurationError.self) { try Credentials(for: c, environment: [:]) }
    }

    @Test func everyShippedFileParsesAndHoldsNoSecrets() throws {
        for name in ["paypal", "globalcollect"] {
            let c = try ProcessorConfiguration.load(name: name, directory: RepositoryPaths.processors, environment: [:])
            #expect(c.endpoint.hasPrefix("https://"))
            #expect(!c.credentialVariables.isEmpty)
            #expect(c.credentialVariables.values.allSatisfy { $0.hasPrefix("FUNDQ_") })
        }
    }

    @Test func theHTTPClientRefusesPlainHTTPBeyondLoopbackAndReportsRefusedConnections() throws {
        let client = try HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(2)))
        #expect { try client.send(HTTPRequest(url: "http://example.org/x?PWD=secret")) } throws: { error in
            let e = error as? HTTPError
            return e?.kind == .insecureURL && e?.description.contains("secret") == false
        }
        // Credentials in the URL itself are not shown either.
        #expect { try client.send(HTTPRequest(url: "http://api:Hunter2;secret@example.org/x")) } throws: { error in
            let e = error as? HTTPError
            return e?.kind == .insecureURL && e?.description.contains("secret") == false && e?.description.contains("Hunter2") == false
        }
        let port = try FreePort.find()
        #expect { try client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/")) } throws: { error in
            if case .connectionFailed = (error as? HTTPError)?.kind { return true }
            return false
        }
        #expect { try client.send(HTTPRequest(url: "ftp://127.0.0.1/")) } throws: { error in
            if case .invalidURL = (error as? HTTPError)?.kind { return true }
            return false
        }
    }
}
