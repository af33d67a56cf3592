import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Processors
import Sandbox
import Testing

/// The row each processor's tests use for a scripted id: the id in the
/// field the processor names payments by.
func row(_ processor: String, _ id: String) -> PendingRecord {
    pendingRecord(processor: processor, id: id)
}

/// The `FUNDQ_NAME_` prefix of a processor's overrides.
func prefix(_ name: String) -> String {
    "FUNDQ_" + name.uppercased().replacingOccurrences(of: "-", with: "_") + "_"
}

/// The shared conformance suite: every registered processor, against its
/// registered simulator over real HTTP, each with the outcomes it plays.
@Suite("Processor conformance")
struct ConformanceTests {
    static let names = Processors.all.map { $0.name }

    static func outcomes(_ name: String) throws -> Set<SandboxOutcome> {
        try Simulators.named(name).simulatedOutcomes
    }

    @Test(arguments: names)
    func everyRegisteredProcessorHasAConfigurationASimulatorAndAContract(name: String) throws {
        let f = try SandboxFixture()
        let processor = try f.processor(name)
        let adapter = type(of: processor)
        #expect(adapter.capabilities.contains(.status))
        #expect(processor.configuration.source.hasSuffix("processors/\(name).yaml"))
        let endpoint = processor.configuration.endpoint
        #expect(endpoint == f.sandbox.baseURL || endpoint.hasPrefix(f.sandbox.baseURL + "/"),
                "the sandbox's environment points \(name) at it")
        #expect(try Self.outcomes(name).isSuperset(of: [.complete, .pendingPoke, .failed, .abandoned]))
        for action in adapter.moneyMovingActions {
            #expect(adapter.capabilities.contains(action.capability), "\(name) moves money with \(action.capability) it lacks")
            #expect(!action.idempotency.isEmpty)
        }
        let moving = Set(adapter.moneyMovingActions.map(\.capability))
        #expect(adapter.capabilities.subtracting([.status]).isSubset(of: moving), "every action but status is declared as moving money")
    }

    @Test func scriptingAnUnknownProcessorOrAnOutcomeItsSimulatorDoesNotPlayIsAnError() throws {
        let f = try SandboxFixture()
        #expect(throws: ConfigurationError.self) { try f.sandbox.script("no-such-processor", id: "X-1", outcome: .complete) }
        for name in Self.names {
            for outcome in SandboxOutcome.allCases where try !Self.outcomes(name).contains(outcome) {
                #expect(throws: ConfigurationError.self) { try f.sandbox.script(name, id: "X-2", outcome: outcome) }
            }
        }
        // Over HTTP too: 400, and nothing scripted anywhere.
        let client = try HTTPClient()
        let answer = try client.send(HTTPRequest(url: f.sandbox.baseURL + "/_sandbox/orders",
                                                 body: Array(#"{"processor":"nosuch","id":"X-3","outcome":"complete"}"#.utf8)))
        #expect(answer.status == 400)
        #expect(answer.text.contains("no processor called 'nosuch'"))
        for name in Self.names {
            #expect(throws: ProcessorError.self) { try f.processor(name).status(of: row(name, "X-3")) }
        }
    }

    @Test(arguments: names)
    func scriptedOutcomesReadAsTheirNormalizedStatusOnAnOrphan(name: String) throws {
        let f = try SandboxFixture()
        let processor = try f.processor(name)
        let adapter = type(of: processor)
        for outcome in try Self.outcomes(name).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let expected = outcome.normalized else { continue }
            try f.sandbox.script(name, id: "ID-\(outcome.rawValue)", outcome: outcome)
            let status = try processor.status(of: row(name, "ID-\(outcome.rawValue)"))
            let orphan = adapter.orphanStatus(status)
            #expect(orphan.status == expected, "\(name) \(outcome): \(orphan.evidence)")
            #expect(!status.evidence.isEmpty)
            for secret in f.sandbox.environment.values where secret.count >= 4 && !secret.hasPrefix("http") {
                #expect(!status.raw.contains(secret) && !status.evidence.contains(secret), "\(name) shows a credential")
            }
        }
    }

    @Test(arguments: [SandboxOutcome.serverError, .malformed, .html, .truncated, .reset, .huge, .noAck])
    func badAnswersAreTypedErrorsNeverAVerdict(outcome: SandboxOutcome) throws {
        let f = try SandboxFixture()
        for name in Self.names where try Self.outcomes(name).contains(outcome) {
            try f.sandbox.script(name, id: "BAD", outcome: outcome)
            let processor = try f.processor(name, [prefix(name) + "RETRY_BACKOFF_SECONDS": "0"])
            do {
                let status = try processor.status(of: row(name, "BAD"))
                Issue.record("\(name) \(outcome) gave a verdict: \(status.status)")
            } catch let error as ProcessorError {
                switch (outcome, error.kind) {
                case (.serverError, .httpStatus(503)), (.malformed, .malformedResponse), (.html, .malformedResponse),
                     (.truncated, .malformedResponse), (.noAck, .malformedResponse), (.reset, .transport),
                     (.huge, .transport(.responseTooLarge)):
                    #expect(error.isRetryable)
                default:
                    Issue.record("\(name) \(outcome): unexpected \(error)")
                }
            }
        }
    }

    @Test func aStalledProcessorTimesOutWithinTheConfiguredLimit() throws {
        let f = try SandboxFixture()
        for name in Self.names {
            try f.sandbox.script(name, id: "STALL", outcome: .stall)
            let processor = try f.processor(name, [prefix(name) + "TIMEOUTS_TOTAL_SECONDS": "0.5", prefix(name) + "RETRY_ATTEMPTS": "1"])
            #expect {
                _ = try processor.status(of: row(name, "STALL"))
            } throws: { error in
                (error as? ProcessorError)?.kind == .transport(.timedOut)
            }
        }
    }

    /// Every processor that can finish: read-only calls are retried on a
    /// 5xx, the money call is sent once.
    @Test func readOnlyCallsAreRetriedOnServerErrorsAndMoneyCallsAreNot() throws {
        let f = try SandboxFixture()
        for name in Self.names where Processors.named(name)!.capabilities.contains(.finish) {
            let processor = try f.processor(name, [prefix(name) + "RETRY_ATTEMPTS": "3", prefix(name) + "RETRY_BACKOFF_SECONDS": "0"])
            try f.sandbox.script(name, id: "P-503", outcome: .pendingPoke)
            let approved = try processor.status(of: row(name, "P-503"))
            try f.sandbox.script(name, id: "P-503", outcome: .serverError)
            let before = f.sandbox.requestCount
            #expect(throws: ProcessorError.self) { try processor.status(of: row(name, "P-503")) }
            #expect(f.sandbox.requestCount - before == 3, "\(name)")
            let beforeCapture = f.sandbox.requestCount
            #expect(throws: ProcessorError.self) { try processor.finish(row(name, "P-503"), current: approved) }
            #expect(f.sandbox.requestCount - beforeCapture == 1, "\(name) sent a money call more than once")
        }
        #expect(f.sandbox.captures.isEmpty)
    }

    /// A real run validates a money call's request (built, not rendered) where
    /// a dry run previews it: for every processor and action, on an amount
    /// it takes and on one PayPal would round, both refuse the same requests
    /// with the same error.
    @Test func validateRefusesWhatPreviewRefuses() throws {
        let f = try SandboxFixture()
        var refusedForTheAmount = 0
        for name in Self.names {
            let processor = try f.processor(name)
            try f.sandbox.script(name, id: "CHECK", outcome: .pendingPoke, amount: "25.00", currency: "USD")
            let approved = try processor.status(of: pendingRecord(processor: name, id: "CHECK", gross: "25.00", currency: "USD"))
            var builtFor25USD = Set<ProcessorCapability>()
            for (gross, currency) in [("25.00", "USD"), ("1000.50", "JPY")] {
                let r = pendingRecord(processor: name, id: "CHECK", gross: gross, currency: currency)
                for action in ProcessorCapability.allCases {
                    let previewed = Result { try processor.preview(action, for: r, current: approved) }
                    let validated = Result { try processor.validate(action, for: r, current: approved) }
                    switch (previewed, validated) {
                    case (.success, .success):
                        if currency == "USD" { builtFor25USD.insert(action) }
                    case (.failure(let p), .failure(let v)):
                        if builtFor25USD.contains(action) { refusedForTheAmount += 1 }
                        #expect("\(p)" == "\(v)", "\(name) \(action) \(gross) \(currency)")
                    default: Issue.record("\(name) \(action) \(gross) \(currency): preview \(previewed), validate \(validated)")
                    }
                }
            }
        }
        #expect(refusedForTheAmount > 0, "no request was refused for its amount alone: only unsupported actions were compared")
    }

    /// Every processor whose finish is declared idempotent at the processor:
    /// a second finish (a crashed rectifier's retry) is complete, not paid again.
    @Test func aSecondFinishIsReportedCompleteAndCapturesNothing() throws {
        let f = try SandboxFixture()
        for name in Self.names where Processors.named(name)!.moneyMovingActions.contains(where: { $0.capability == .finish }) {
            let processor = try f.processor(name)
            try f.sandbox.script(name, id: "TWICE", outcome: .pendingPoke, amount: "25.00", currency: "USD")
            let r = pendingRecord(processor: name, id: "TWICE", gross: "25.00", currency: "USD")
            let approved = try processor.status(of: r)
            #expect(approved.status == .pendingPoke)
            #expect(try !processor.preview(.finish, for: r, current: approved).isEmpty)
            let before = f.sandbox.captures.count
            #expect(try processor.finish(r, current: approved).status == .complete, "\(name)")
            let again = try processor.finish(r, current: approved)
            #expect(again.status == .complete && again.wasAlreadyDone, "\(name): \(again.evidence)")
            #expect(f.sandbox.captures.count == before + 1, "\(name) captured twice")
            #expect(f.sandbox.captures.last?.amount == "25.00 USD")
            #expect(try processor.status(of: r).status == .complete)
        }
    }

    @Test func unknownIdsAreProcessorErrorsAndRefusedCredentialsAreAuthenticationErrors() throws {
        let f = try SandboxFixture()
        for name in Self.names {
            #expect {
                _ = try f.processor(name).status(of: row(name, "NEVER-SCRIPTED"))
            } throws: { error in
                if case .processorError = (error as? ProcessorError)?.kind { return true }
                return false
            }
            try f.sandbox.script(name, id: "KNOWN", outcome: .complete)
            let configuration = try ProcessorConfiguration.load(name: name, directory: RepositoryPaths.processors)
            let wrong = configuration.credentialVariables.values.reduce(into: [:]) { $0[$1] = "wrong-credential-0000" }
            #expect {
                _ = try f.processor(name, wrong).status(of: row(name, "KNOWN"))
            } throws: { error in
                guard let e = error as? ProcessorError, case .authentication = e.kind else { return false }
                return !"\(e)".contains("wrong-credential-0000")
            }
        }
    }
}
