import Core
import CurlHTTP
import Foundation
import Logging

/// One call an adapter makes: form or XML posts to the configured endpoint
/// (the defaults) as well as REST calls (a method, a path per payment,
/// headers, the success statuses the API uses).
struct ProcessorCall {
    /// `GET` or `POST`.
    var method = "POST"
    /// Appended to the configured endpoint ("" for single-URL APIs).
    var path = ""
    /// Extra request headers (the signer adds its own).
    var headers: [String: String] = [:]
    /// The body ("" for none).
    var body = ""
    /// The body's type; nil sends none.
    var contentType: String?
    /// What is being done ("GET_ORDERSTATUS for order 7"), for errors and logs.
    var action: String
    /// The request as it may be logged (credentials masked by name).
    var shown: String
    /// Whether repeating it is harmless (read-only): only these are retried.
    var idempotent: Bool
    /// The statuses that mean success.
    var accepted: Set<Int> = [200]
    /// Further statuses whose body the adapter reads itself (an API's
    /// documented error answers), returned instead of thrown.
    var readable: Set<Int> = []
}

/// An answer to a ``ProcessorCall``.
struct ProcessorAnswer {
    /// The HTTP status.
    let status: Int
    /// The body.
    let text: String
}

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
    /// Adds what a processor's request signing needs (a date, an
    /// `Authorization` header) to each request just before it is sent.
    var signer: ((inout HTTPRequest, ProcessorCall) -> Void)?
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

    /// POSTs `body` to the configured endpoint and returns the 200 answer's
    /// text. `shown` is the request as it may be logged.
    func post(_ body: String, contentType: String, action: String, shown: String, idempotent: Bool) throws(ProcessorError) -> String {
        try send(ProcessorCall(body: body, contentType: contentType, action: action, shown: shown, idempotent: idempotent)).text
    }

    /// Sends `call` (signed by ``signer`` when there is one) and returns the
    /// answer when its status is one the call accepts or reads. 401 and 403
    /// are ``ProcessorError/Kind/authentication(code:message:)``; any other
    /// 4xx is ``ProcessorError/Kind/httpError(status:body:)`` with the body
    /// kept (masked) as evidence; 5xx and transport failures are retried when
    /// the call is idempotent, never when it moves money.
    func send(_ call: ProcessorCall) throws(ProcessorError) -> ProcessorAnswer {
        let attempts = call.idempotent ? max(1, configuration.retryAttempts) : 1
        var attempt = 0
        while true {
            attempt += 1
            pace()
            logger.debug("request", metadata: ["action": "\(secrets.masked(call.action))", "request": "\(secrets.masked(call.shown))"])
            let failure: ProcessorError
            do {
                let response = try client.send(request(for: call))
                if call.accepted.contains(response.status) || call.readable.contains(response.status) {
                    return ProcessorAnswer(status: response.status, text: response.text)
                }
                let error = self.error(status: response.status, body: response.text, action: call.action)
                if response.status < 500 { throw error }
                failure = error
            } catch let error as HTTPError {
                failure = ProcessorError(.transport(error.kind), processor: processor, action: call.action)
            } catch let error as ProcessorError {
                throw error
            } catch {
                throw ProcessorError(.transport(.transport("\(error)")), processor: processor, action: call.action)
            }
            guard attempt < attempts else { throw failure }
            let shownFailure = failure.masked(answerText, action: secrets.masked)
            logger.warning("retrying after a failed read-only call",
                           metadata: ["action": "\(secrets.masked(call.action))", "error": "\(shownFailure)"])
            Thread.sleep(forTimeInterval: configuration.retryBackoff.seconds)
        }
    }

    /// The HTTP request for `call`: the endpoint plus its path, its headers,
    /// then the signer's (a fresh date and signature on every attempt).
    func request(for call: ProcessorCall) -> HTTPRequest {
        var headers = call.headers
        if let type = call.contentType { headers["Content-Type"] = type }
        var request = HTTPRequest(method: call.method, url: configuration.endpoint + call.path, headers: headers,
                                  body: Array(call.body.utf8))
        signer?(&request, call)
        return request
    }

    /// The error for an answer with an unaccepted `status`; the body is
    /// masked before it is cut, so no half credential survives the cut.
    func error(status: Int, body: String, action: String) -> ProcessorError {
        let shown = String(answerText(body).prefix(400))
        switch status {
        case 401, 403: return ProcessorError(.authentication(code: "HTTP \(status)", message: shown), processor: processor, action: action)
        case 400..<500: return ProcessorError(.httpError(status: status, body: shown), processor: processor, action: action)
        default: return ProcessorError(.httpStatus(status), processor: processor, action: action)
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
        var status = try maskingErrors(call)
        status.evidence = answerText(status.evidence)
        status.raw = answerText(status.raw)
        return status
    }

    /// Runs an adapter's preview: the request it returns has the credential
    /// values masked (NVP and XML masking already hide them by name), and
    /// any ProcessorError it throws is masked like a call's.
    func maskingPreview(_ call: () throws -> String) throws -> String {
        secrets.masked(try maskingErrors(call))
    }

    /// Runs `body` (an adapter's request builder, for `validate`): what it
    /// builds is not shown, so only a ProcessorError it throws is masked,
    /// as a call's and a preview's are.
    func maskingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ProcessorError {
            throw error.masked(answerText, action: secrets.masked)
        }
    }
}
