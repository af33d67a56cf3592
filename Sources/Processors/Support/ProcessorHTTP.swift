import Core
import Foundation
import Logging

/// The HTTP side every adapter shares: one kept-alive libcurl connection,
/// pacing to the configured rate limit, retries of read-only calls on
/// transport failures and 5xx (never of calls that move money: a timeout
/// there is ambiguous, so the caller asks for the status again instead), and
/// request logging with credentials and donor data masked; and the masking
/// of everything an adapter returns or throws (``masking(_:)``).
final class ProcessorHTTP {
    let processor: String
    let configuration: ProcessorConfiguration
    let client: HTTPClient
    var logger: Logger
    /// Masks the configured credential values (and URL credentials).
    let secrets: SecretMasker
    private var lastRequest: ContinuousClock.Instant?
    private let clock = ContinuousClock()

    init(processor: String, configuration: ProcessorConfiguration, credentials: Credentials) throws {
        self.processor = processor
        self.configuration = configuration
        secrets = credentials.masker
        client = try HTTPClient(configuration: configuration.httpConfiguration)
        logger = Logger(label: "fundq.processor.\(processor)")
        try HTTPClient.check(configuration.endpoint)
    }

    /// Waits until the rate limit allows another request.
    private func pace() {
        let interval = Duration.milliseconds(Int64(1000 / configuration.rateLimitPerSecond))
        if let last = lastRequest {
            let wait = (last + interval) - clock.now
            if wait > .zero { Thread.sleep(forTimeInterval: wait.seconds) }
        }
        lastRequest = clock.now
    }

    /// POSTs `body` and returns the 200 answer's text. `shown` is the request
    /// as it may be logged.
    func post(_ body: String, contentType: String, action: String, shown: String, idempotent: Bool) throws(ProcessorError) -> String {
        let attempts = idempotent ? max(1, configuration.retryAttempts) : 1
        var attempt = 0
        while true {
            attempt += 1
            pace()
            logger.debug("request", metadata: ["action": "\(secrets.masked(action))", "body": "\(secrets.masked(shown))"])
            let failure: ProcessorError
            do {
                let response = try client.send(HTTPRequest(url: configuration.endpoint, headers: ["Content-Type": contentType], body: Array(body.utf8)))
                if response.status == 200 { return response.text }
                let status = ProcessorError(.httpStatus(response.status), processor: processor, action: action)
                if response.status < 500 { throw status }
                failure = status
            } catch let error as HTTPError {
                failure = ProcessorError(.transport(error.kind), processor: processor, action: action)
            } catch let error as ProcessorError {
                throw error
            } catch {
                throw ProcessorError(.transport(.transport("\(error)")), processor: processor, action: action)
            }
            guard attempt < attempts else { throw failure }
            let shownFailure = failure.masked(answerText, action: secrets.masked)
            logger.warning("retrying after a failed read-only call",
                           metadata: ["action": "\(secrets.masked(action))", "error": "\(shownFailure)"])
            Thread.sleep(forTimeInterval: configuration.retryBackoff.seconds)
        }
    }

    /// Text from or about a processor's answer as it may be shown or logged:
    /// credential values (even inside a longer field), URL credentials,
    /// card numbers and email addresses masked.
    func answerText(_ text: String) -> String {
        PersonalData.maskedText(secrets.masked(text))
    }

    /// Runs an adapter call; the status it returns (evidence, raw answer)
    /// and any ProcessorError it throws are masked by ``answerText(_:)``.
    func masking(_ call: () throws -> ProcessorStatus) throws -> ProcessorStatus {
        do {
            var status = try call()
            status.evidence = answerText(status.evidence)
            status.raw = answerText(status.raw)
            return status
        } catch let error as ProcessorError {
            throw error.masked(answerText, action: secrets.masked)
        }
    }

    /// Runs an adapter's preview: the request it returns has the credential
    /// values masked (NVP and XML masking already hide them by name), and
    /// any ProcessorError it throws is masked like a call's.
    func maskingPreview(_ call: () throws -> String) throws -> String {
        do {
            return secrets.masked(try call())
        } catch let error as ProcessorError {
            throw error.masked(answerText, action: secrets.masked)
        }
    }
}
