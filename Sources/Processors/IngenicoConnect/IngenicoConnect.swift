public import Core
import Crypto
public import Foundation

/// Ingenico Connect's Server API (JSON REST, GlobalCollect's successor):
/// `GET /v1/{merchantId}/payments/{paymentId}` to ask, `POST …/approve`
/// with the amount in minor units to capture, `POST …/cancel`; every
/// request signed `Authorization: GCS v1HMAC:{apiKeyId}:{signature}`. The
/// pending row names the payment by its `gateway_txn_id`. Wire facts
/// (fields, status table, error codes, idempotency): docs/processors/ingenicoconnect.md.
public final class IngenicoConnect: PaymentProcessor {
    public static let name = "ingenicoconnect"
    public static let gateway = "ingenicoconnect"
    public static let capabilities: Set<ProcessorCapability> = [.status, .finish, .cancel]
    /// The frontend stores Ingenico's payment id as the row's `gateway_txn_id`.
    public static let paymentIdentity = PaymentIdentity.transactionID
    public static let moneyMovingActions = [
        MoneyMovingAction(.finish, idempotency: "an approve of a payment no longer PENDING_APPROVAL is answered 4xx (300450): "
                          + "the status is read again and a captured payment is reported as already done, never approved twice"),
        MoneyMovingAction(.cancel, idempotency: "a cancel of a cancelled payment changes nothing; the answer carries the payment's status"),
    ]

    public let configuration: ProcessorConfiguration
    let credentials: Credentials
    let http: ProcessorHTTP

    public init(configuration: ProcessorConfiguration, credentials: Credentials) throws {
        self.configuration = configuration
        self.credentials = credentials
        http = try ProcessorHTTP(processor: Self.name, configuration: configuration, credentials: credentials)
        let keyID = credentials["api_key_id"], secret = credentials["secret_api_key"]
        http.signer = { request, call in
            let date = HTTPDate.text(Date())
            request.headers["Date"] = date
            let path = URLComponents(string: request.url)?.percentEncodedPath ?? call.path
            request.headers["Authorization"] = Self.authorization(method: request.method, contentType: call.contentType ?? "",
                                                                  date: date, path: path, keyID: keyID, secret: secret)
        }
    }

    /// `GCS v1HMAC:{keyID}:{signature}`.
    public static func authorization(method: String, contentType: String, date: String, path: String, keyID: String,
                                     secret: String) -> String {
        "GCS v1HMAC:\(keyID):" + signature(method: method, contentType: contentType, date: date, path: path, secret: secret)
    }

    /// base64(HMAC-SHA256(secret, "METHOD\ncontent-type\ndate\n/path\n")) (no X-GCS headers are sent).
    public static func signature(method: String, contentType: String, date: String, path: String, secret: String) -> String {
        let text = "\(method)\n\(contentType)\n\(date)\n\(path)\n"
        let code = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return Data(code).base64EncodedString()
    }

    /// `status` → normalized status, as docs/processors/ingenicoconnect.md lists it.
    public static func normalized(status: String) -> NormalizedStatus {
        switch status {
        case "CAPTURED", "PAID", "ACCOUNT_VERIFIED": return .complete
        case "PENDING_APPROVAL": return .pendingPoke
        case "PENDING_CAPTURE", "CAPTURE_REQUESTED", "AUTHORIZATION_REQUESTED", "PENDING_FRAUD_APPROVAL", "PENDING_PAYMENT",
             "CREATED", "REDIRECTED": return .pending
        case "CANCELLED": return .cancelled
        case "REJECTED", "REJECTED_CAPTURE": return .failed
        case "REFUNDED": return .refunded
        case "CHARGEBACKED", "REVERSED": return .reversed
        default: return .unknown
        }
    }

    /// For an orphan, CREATED and REDIRECTED mean the donor never finished: timeout.
    public static func orphanStatus(_ answer: ProcessorStatus) -> ProcessorStatus {
        guard answer.status == .pending, ["CREATED", "REDIRECTED"].contains(answer.details["status"] ?? "") else { return answer }
        var orphan = answer
        orphan.status = .timeout
        orphan.evidence += "; an orphan still \(answer.details["status"]!) never finished"
        return orphan
    }

    func paymentID(_ row: PendingRecord, _ what: String) throws(ProcessorError) -> String {
        guard let id = Self.paymentIdentity.value(in: row) else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(row.orderID ?? "?") has no gateway_txn_id (the payment id)"),
                                 processor: Self.name, action: what)
        }
        return id
    }

    /// `/v1/{merchantId}/payments/{paymentId}` plus `suffix`, each part percent-encoded.
    func path(_ paymentID: String, _ suffix: String = "") -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let merchant = configuration.settings["merchant_id"] ?? ""
        return "/v1/\(merchant.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")/payments/"
            + (paymentID.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + suffix
    }

    /// The documented statuses besides success whose JSON error body is read.
    static let errorStatuses: Set<Int> = [400, 402, 404, 409, 410]

    /// Sends `call`; returns the JSON object of a success, or the first of
    /// the `errors` of a documented error answer (as `error`).
    func json(_ call: ProcessorCall) throws(ProcessorError)
        -> (object: [String: JSONValue], error: (status: Int, code: String, message: String)?) {
        let answer = try http.send(call)
        guard let object = (try? JSONParser().parse(answer.text))?.objectValue else {
            throw ProcessorError(.malformedResponse("not a JSON object: \(http.answerText(answer.text).prefix(80))"),
                                 processor: Self.name, action: call.action)
        }
        guard call.readable.contains(answer.status) else { return (object, nil) }
        guard case .array(let errors)? = object["errors"], let first = errors.first?.objectValue else {
            throw ProcessorError(.httpError(status: answer.status, body: http.answerText(answer.text)), processor: Self.name,
                                 action: call.action)
        }
        return (object, (answer.status, first["code"]?.scalarText ?? "?", first["message"]?.scalarText ?? ""))
    }

    /// A `payment` object → status, with `status` and `statusOutput.statusCode` as evidence.
    func status(of payment: [String: JSONValue], raw: String, action: String) throws(ProcessorError) -> ProcessorStatus {
        guard let status = payment["status"]?.scalarText else {
            throw ProcessorError(.malformedResponse("no status in the payment"), processor: Self.name, action: action)
        }
        let code = payment["statusOutput"]?.objectValue?["statusCode"]?.scalarText
        let money = payment["paymentOutput"]?.objectValue?["amountOfMoney"]?.objectValue
        var details = ["status": status]
        details["statusCode"] = code
        details["amount"] = money?["amount"]?.scalarText
        details["currencyCode"] = money?["currencyCode"]?.scalarText
        let normalized = Self.normalized(status: status)
        return ProcessorStatus(status: normalized, evidence: "status=\(status), statusCode=\(code ?? "(missing)") (\(normalized.rawValue))",
                               raw: raw, transactionID: payment["id"]?.scalarText, details: details)
    }

    func statusCall(_ id: String) -> ProcessorCall {
        ProcessorCall(method: "GET", path: path(id), action: "GET payment \(id)", shown: "GET " + path(id), idempotent: true,
                      readable: Self.errorStatuses)
    }

    public func status(of row: PendingRecord) throws -> ProcessorStatus {
        try http.masking { try unmaskedStatus(of: row) }
    }

    func unmaskedStatus(of row: PendingRecord) throws -> ProcessorStatus {
        let call = statusCall(try paymentID(row, "GET payment"))
        let answer = try json(call)
        if let error = answer.error {
            throw ProcessorError(.processorError(code: error.code, message: "HTTP \(error.status): \(error.message)"),
                                 processor: Self.name, action: call.action)
        }
        return try status(of: answer.object, raw: JSONValue.object(answer.object).serialized(), action: call.action)
    }

    /// ISO 4217 currencies with no minor unit, and with three.
    static let zeroDecimalCurrencies: Set<String> = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
                                                     "VND", "VUV", "XAF", "XOF", "XPF"]
    static let threeDecimalCurrencies: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]

    /// `amount` in the currency's minor units, or nil when that would round it.
    public static func minorUnits(_ amount: DonationAmount, currency: String) -> Int64? {
        let text = amount.description  // four decimals
        let decimals = zeroDecimalCurrencies.contains(currency) ? 0 : threeDecimalCurrencies.contains(currency) ? 3 : 2
        guard text.suffix(4 - decimals).allSatisfy({ $0 == "0" }) else { return nil }
        return Int64(String(text.dropLast(4 - decimals)).replacingOccurrences(of: ".", with: ""))
    }

    /// The approve call: the amount from our record of what the donor chose, refused when it would be rounded or
    /// differs from what Ingenico authorized.
    func approveCall(_ row: PendingRecord, current: ProcessorStatus) throws(ProcessorError) -> (call: ProcessorCall, amount: Int64) {
        let id = try paymentID(row, "approve")
        guard let grossText = row.message["gross"]?.scalarText, let gross = DonationAmount(grossText), gross.isPositive,
              let currency = row.message["currency"]?.scalarText, let minor = Self.minorUnits(gross, currency: currency) else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(id) has no gross and currency Ingenico can take unrounded"),
                                 processor: Self.name, action: "approve")
        }
        if let authorized = current.details["amount"], authorized != String(minor) || current.details["currencyCode"] != currency {
            throw ProcessorError(.configuration("payment \(id) is authorized for \(authorized) \(current.details["currencyCode"] ?? "?") "
                                                + "(minor units), our record says \(minor) \(currency)"),
                                 processor: Self.name, action: "approve")
        }
        let body = JSONValue.object(["amount": .number(String(minor))]).serialized()
        let call = ProcessorCall(method: "POST", path: path(id, "/approve"), body: body, contentType: "application/json",
                                 action: "approve payment \(id)", shown: "POST \(path(id, "/approve")) \(body)", idempotent: false,
                                 accepted: [200, 201], readable: Self.errorStatuses)
        return (call, minor)
    }

    /// Approves (captures) the payment. A 4xx (300450: no longer
    /// approvable) is answered by asking the status again: captured means
    /// someone already approved it — reported as done, nothing sent twice.
    public func finish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        try http.masking { try unmaskedFinish(row, current: current) }
    }

    func unmaskedFinish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        let approve = try approveCall(row, current: current).call
        let answer = try json(approve)
        if let error = answer.error {
            var after = try unmaskedStatus(of: row)
            guard after.status == .complete else {
                let message = "HTTP \(error.status): \(error.message); then \(after.evidence)"
                throw ProcessorError(.processorError(code: error.code, message: message),
                                     processor: Self.name, action: approve.action)
            }
            after.evidence = "approve answered \(error.status) \(error.code) (already approved), then \(after.evidence)"
            after.details[ProcessorStatus.alreadyDone] = error.code
            return after
        }
        guard let payment = answer.object["payment"]?.objectValue else {
            throw ProcessorError(.malformedResponse("no payment in the approve answer"), processor: Self.name, action: approve.action)
        }
        var done = try status(of: payment, raw: JSONValue.object(answer.object).serialized(), action: approve.action)
        done.evidence = "approve accepted, " + done.evidence
        return done
    }

    public func cancel(_ row: PendingRecord) throws -> ProcessorStatus {
        try http.masking { try unmaskedCancel(row) }
    }

    func unmaskedCancel(_ row: PendingRecord) throws -> ProcessorStatus {
        let id = try paymentID(row, "cancel")
        let call = ProcessorCall(method: "POST", path: path(id, "/cancel"), contentType: "application/json", action: "cancel payment \(id)",
                                 shown: "POST " + path(id, "/cancel"), idempotent: false, readable: Self.errorStatuses)
        let answer = try json(call)
        if let error = answer.error {
            throw ProcessorError(.processorError(code: error.code, message: "HTTP \(error.status): \(error.message)"),
                                 processor: Self.name, action: call.action)
        }
        guard let payment = answer.object["payment"]?.objectValue else {
            throw ProcessorError(.malformedResponse("no payment in the cancel answer"), processor: Self.name, action: call.action)
        }
        return try status(of: payment, raw: JSONValue.object(answer.object).serialized(), action: call.action)
    }

    public func preview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        try http.maskingPreview { try unmaskedPreview(action, for: row, current: current) }
    }

    /// The call `action` would make for `row`, built but not rendered.
    public func validate(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws {
        _ = try http.maskingErrors { try previewCall(action, for: row, current: current) }
    }

    func unmaskedPreview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        let call = try previewCall(action, for: row, current: current)
        let auth = "Authorization: GCS v1HMAC:\(credentials["api_key_id"]):***"
        return "\(call.method) \(configuration.endpoint)\(call.path)\n\(auth)" + (call.body.isEmpty ? "" : "\n\(call.body)")
    }

    func previewCall(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> ProcessorCall {
        let call: ProcessorCall
        switch action {
        case .status: call = statusCall(try paymentID(row, "preview"))
        case .finish:
            guard let current else {
                throw ProcessorError(.configuration("approving needs the current status"), processor: Self.name, action: "preview")
            }
            call = try approveCall(row, current: current).call
        case .cancel:
            let id = try paymentID(row, "preview")
            call = ProcessorCall(method: "POST", path: path(id, "/cancel"), contentType: "application/json", action: "cancel",
                                 shown: "", idempotent: false)
        case .createRecurringProfile:
            throw ProcessorError(.unsupported(action), processor: Self.name, action: "preview")
        }
        return call
    }
}
