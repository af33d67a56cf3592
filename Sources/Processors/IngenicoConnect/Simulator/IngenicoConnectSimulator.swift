import Core
import Crypto
import Foundation
public import Processors

// Compiled into the Sandbox module (see Package.swift), never into the adapters'.

/// Ingenico Connect's registration with the sandbox.
extension IngenicoConnect: SimulatedProcessor {
    public static var simulator: any ProcessorSimulator.Type { IngenicoConnectSimulator.self }
}

/// Ingenico Connect's Server API under `/v1/` (docs/processors/ingenicoconnect.md):
/// every request's `GCS v1HMAC` signature is checked (401 when wrong).
/// Outcomes as payment statuses: complete, slow and duplicate CAPTURED;
/// pending PENDING_CAPTURE; pending-poke PENDING_APPROVAL (approve →
/// CAPTURED); failed REJECTED; cancelled CANCELLED; abandoned CREATED and
/// expired REDIRECTED (an orphan's "never finished"); slow 2 s late.
enum IngenicoConnectSimulator: ProcessorSimulator {
    static let ledger = "ingenicoconnect"
    static let routes = [SandboxRoute("GET", "/v1/"), SandboxRoute("POST", "/v1/")]
    static let outcomes: Set<SandboxOutcome> = [.complete, .slow, .duplicate, .pending, .pendingPoke, .failed, .cancelled,
                                                 .abandoned, .expired]
    /// The merchant, API key id and secret API key the simulator accepts.
    static let merchantID = "9991"
    static let apiKeyID = "sandbox-key-id"
    static let secretAPIKey = "sandbox-secret-api-key-0000"

    static func initialState(for outcome: SandboxOutcome) -> String {
        switch outcome {
        case .pending: return "PENDING_CAPTURE"
        case .pendingPoke: return "PENDING_APPROVAL"
        case .failed: return "REJECTED"
        case .cancelled: return "CANCELLED"
        case .abandoned: return "CREATED"
        case .expired: return "REDIRECTED"
        default: return "CAPTURED"
        }
    }

    static func environment(baseURL: String) -> [String: String] {
        ["FUNDQ_INGENICOCONNECT_ENDPOINT": baseURL, "FUNDQ_INGENICOCONNECT_SETTINGS_MERCHANT_ID": merchantID,
         "FUNDQ_INGENICOCONNECT_API_KEY_ID": apiKeyID, "FUNDQ_INGENICOCONNECT_SECRET_API_KEY": secretAPIKey]
    }

    static func error(_ status: Int, _ code: String, _ message: String) -> HTTPServerReply {
        let error = JSONValue.object(["code": .string(code), "id": .string(message), "category": .string("CONNECT_PLATFORM_ERROR"),
                                      "message": .string(message), "httpStatusCode": .number(String(status))])
        let body = JSONValue.object(["errorId": .string("sandbox-\(code)"), "errors": .array([error])]).serialized()
        return .response(status: status, contentType: "application/json", body: Array(body.utf8), delay: .zero)
    }

    /// Whether `request` carries a valid signature by the accepted key.
    static func signed(_ request: HTTPServerRequest) -> Bool {
        guard let authorization = request.headers["authorization"], let date = request.headers["date"] else { return false }
        let text = "\(request.method)\n\(request.headers["content-type"] ?? "")\n\(date)\n\(request.path)\n"
        let code = HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: Array(secretAPIKey.utf8)))
        return authorization == "GCS v1HMAC:\(apiKeyID):\(Data(code).base64EncodedString())"
    }

    /// The payment as Ingenico shows it.
    static func payment(_ id: String, _ order: Sandbox.Order) -> JSONValue {
        .object(["id": .string(id), "status": .string(order.state),
                 "statusOutput": .object(["statusCode": .number(statusCode(order.state)),
                                          "isAuthorized": .bool(order.state == "PENDING_APPROVAL"),
                                          "isCancellable": .bool(order.state.hasPrefix("PENDING")), "errors": .array([])]),
                 "paymentOutput": .object(["amountOfMoney": .object(["amount": .number(minorUnits(order.amount)),
                                                                     "currencyCode": .string(order.currency)]),
                                           "references": .object(["merchantReference": .string("ref-\(id)")])]),
                 "cardPaymentMethodSpecificOutput": .object(["card": .object(["cardNumber": .string("************1111")])])])
    }

    static func statusCode(_ state: String) -> String {
        ["CREATED": "0", "REDIRECTED": "50", "PENDING_APPROVAL": "600", "PENDING_CAPTURE": "650", "CAPTURED": "900",
         "CANCELLED": "99999", "REJECTED": "100"][state] ?? "0"
    }

    /// "10.00" → "1000" (the simulator's currencies have two decimals).
    static func minorUnits(_ amount: String) -> String {
        String(Int64(((Decimal(string: amount) ?? 0) * 100 as NSDecimalNumber).doubleValue.rounded()))
    }

    static func answer(_ request: HTTPServerRequest, sandbox: Sandbox) -> HTTPServerReply {
        let parts = request.path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        guard parts.count >= 4, parts[0] == "v1", parts[2] == "payments" else { return error(404, "1001", "UNKNOWN_RESOURCE") }
        guard signed(request) else { return error(401, "9007", "ACCESS_TO_MERCHANT_NOT_ALLOWED: invalid signature or API key") }
        guard parts[1] == merchantID else { return error(403, "9002", "MISSING_OR_INVALID_MERCHANT_ID") }
        let id = parts[3]
        guard let order = sandbox.order(ledger, id) else { return error(404, "1002", "UNKNOWN_PAYMENT_ID") }
        let sample = JSONValue.object(["payment": payment(id, order)]).serialized()
        if let bad = sandbox.misbehaviour(order.outcome, contentType: "application/json", truncatedOf: sample) { return bad }
        let delay: Duration = order.outcome == .slow ? .seconds(2) : .zero
        switch (request.method, parts.count > 4 ? parts[4] : nil) {
        case ("GET", nil):
            return .ok(payment(id, order).serialized(), contentType: "application/json", delay: delay)
        case ("POST", "approve"?):
            return approve(request, id: id, order: order, sandbox: sandbox)
        case ("POST", "cancel"?):
            guard order.state != "CAPTURED" else { return error(409, "300460", "PAYMENT_NOT_CANCELLABLE") }
            sandbox.update(ledger, id) { $0.state = "CANCELLED" }
            let after = sandbox.order(ledger, id) ?? order
            return .ok(JSONValue.object(["payment": payment(id, after)]).serialized(), contentType: "application/json")
        default:
            return error(404, "1001", "UNKNOWN_RESOURCE")
        }
    }

    /// `POST …/approve {"amount"}`: only a PENDING_APPROVAL payment, only its authorized amount.
    static func approve(_ request: HTTPServerRequest, id: String, order: Sandbox.Order, sandbox: Sandbox) -> HTTPServerReply {
        let amount = "\(order.amount) \(order.currency)"
        guard order.state == "PENDING_APPROVAL" else {
            sandbox.recordCapture(ledger, id: id, action: "approve", amount: amount, counts: false)
            return error(400, "300450", "PAYMENT_NOT_APPROVABLE: status \(order.state)")
        }
        guard let body = (try? JSONParser().parse(request.body))?.objectValue,
              body["amount"]?.scalarText == minorUnits(order.amount) else {
            return error(400, "300430", "AMOUNT does not match the authorized amount")
        }
        sandbox.recordCapture(ledger, id: id, action: "approve", amount: amount, counts: true)
        sandbox.update(ledger, id) { $0.state = "CAPTURED" }
        let after = sandbox.order(ledger, id) ?? order
        return .response(status: 201, contentType: "application/json",
                         body: Array(JSONValue.object(["payment": payment(id, after)]).serialized().utf8), delay: .zero)
    }
}
