public import Core
import Foundation

/// GlobalCollect's WebCollect XML API: GET_ORDERSTATUS to ask;
/// DO_FINISHPAYMENT (after 3-D Secure, STATUSID 200) or SET_PAYMENT
/// (STATUSID 525/600) to finish; CANCEL_PAYMENT. Wire facts (requests,
/// STATUSID table, error codes): docs/processors/globalcollect.md.
public final class GlobalCollect: PaymentProcessor {
    public static let name = "globalcollect"
    public static let gateway = "globalcollect"
    public static let capabilities: Set<ProcessorCapability> = [.status, .finish, .cancel]
    /// The pending row's `order_id` is GlobalCollect's ORDERID.
    public static let paymentIdentity = PaymentIdentity.orderID
    public static let moneyMovingActions = [
        MoneyMovingAction(.finish, idempotency: "SET_PAYMENT / DO_FINISHPAYMENT of an order already final answers NOK 400120: "
                          + "reported as already done, the status is read again, nothing is sent twice"),
        MoneyMovingAction(.cancel, idempotency: "CANCEL_PAYMENT of a cancelled order changes nothing; the status is read after it"),
    ]

    /// Error codes that mean our MERCHANTID (or its IP address) was refused.
    static let authenticationCodes: Set<String> = ["410120"]

    /// For an orphan, STATUSID 0–70 means the donor never finished: timeout.
    public static func orphanStatus(_ answer: ProcessorStatus) -> ProcessorStatus {
        guard answer.status == .pending, let id = answer.details["STATUSID"].flatMap(Int.init), (0...70).contains(id) else { return answer }
        var orphan = answer
        orphan.status = .timeout
        orphan.evidence += "; an orphan at 0–70 never finished"
        return orphan
    }

    public let configuration: ProcessorConfiguration
    let credentials: Credentials
    let http: ProcessorHTTP

    public init(configuration: ProcessorConfiguration, credentials: Credentials) throws {
        self.configuration = configuration
        self.credentials = credentials
        http = try ProcessorHTTP(processor: Self.name, configuration: configuration, credentials: credentials)
    }

    /// STATUSID → normalized status, as docs/processors/globalcollect.md lists it.
    public static func normalized(statusID: Int) -> NormalizedStatus {
        switch statusID {
        case 0...10, 20...70, 300, 550, 625...650: return .pending
        case 200, 525, 600: return .pendingPoke
        case 15, 100...180, 220...280, 310...350, 1100...1520, 1810...2220: return .failed
        case 400: return .revised
        case 800...975, 1000...1050: return .complete
        case 1800: return .refunded
        case 99999: return .cancelled
        default: return .unknown
        }
    }

    func request(_ action: String, version: String, params: XMLElement) -> XMLElement {
        XMLElement(name: "XML", children: [XMLElement(name: "REQUEST", children: [
            .leaf("ACTION", action),
            XMLElement(name: "META", children: [
                .leaf("MERCHANTID", credentials["merchant_id"].isEmpty
                    ? (configuration.settings["merchant_id"] ?? "") : credentials["merchant_id"]),
                .leaf("IPADDRESS", configuration.settings["ip_address"] ?? "127.0.0.1"), .leaf("VERSION", version),
            ]),
            XMLElement(name: "PARAMS", children: [params]),
        ])])
    }

    /// Sends `action` and returns `<RESPONSE>` when RESULT is OK; a NOK is
    /// returned too (as `nok`) so callers can read its error codes.
    func call(_ action: String, version: String, params: XMLElement, what: String, idempotent: Bool) throws(ProcessorError)
        -> (response: XMLElement, nok: (code: String, message: String)?, raw: String) {
        let xml = request(action, version: version, params: params)
        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?>" + xml.serialized()
        let text = try http.post(body, contentType: "text/xml; charset=utf-8", action: what, shown: xml.redacted().serialized(),
                                 idempotent: idempotent)
        let root: XMLElement
        do {
            root = try XMLReader.parse(text)
        } catch {
            throw ProcessorError(.malformedResponse("\(error)"), processor: Self.name, action: what)
        }
        guard root.name == "XML", let response = root.child("RESPONSE"), let result = response.text(at: "RESULT") else {
            throw ProcessorError(.malformedResponse("no XML/RESPONSE/RESULT in the answer"), processor: Self.name, action: what)
        }
        let raw = response.redacted().serialized()
        switch result {
        case "OK": return (response, nil, raw)
        case "NOK":
            let error = response.at("ERROR")
            return (response, (error?.text(at: "CODE") ?? "?", error?.text(at: "MESSAGE") ?? ""), raw)
        default:
            throw ProcessorError(.malformedResponse("RESULT=\(http.answerText(result).prefix(20)) is neither OK nor NOK"),
                                 processor: Self.name, action: what)
        }
    }

    /// A NOK answer as an error: refused credentials are their own kind.
    static func error(_ nok: (code: String, message: String), action: String) -> ProcessorError {
        let kind: ProcessorError.Kind = authenticationCodes.contains(nok.code)
            ? .authentication(code: nok.code, message: nok.message) : .processorError(code: nok.code, message: nok.message)
        return ProcessorError(kind, processor: Self.name, action: action)
    }

    func orderID(_ row: PendingRecord, _ what: String) throws(ProcessorError) -> String {
        guard let order = row.orderID else {
            throw ProcessorError(.configuration("pending row \(row.gateway)/\(row.gatewayTxnID ?? "?") has no order_id"),
                                 processor: Self.name, action: what)
        }
        return order
    }

    func effortID(_ row: PendingRecord) -> String { row.message["effort_id"]?.scalarText ?? "1" }

    func statusParams(_ row: PendingRecord) throws(ProcessorError) -> XMLElement {
        XMLElement(name: "ORDER", children: [.leaf("ORDERID", try orderID(row, "GET_ORDERSTATUS")), .leaf("EFFORTID", effortID(row))])
    }

    public func status(of row: PendingRecord) throws -> ProcessorStatus {
        try http.masking { try unmaskedStatus(of: row) }
    }

    func unmaskedStatus(of row: PendingRecord) throws -> ProcessorStatus {
        let what = "GET_ORDERSTATUS for order \(try orderID(row, "GET_ORDERSTATUS"))"
        let answer = try call("GET_ORDERSTATUS", version: "2.0", params: try statusParams(row), what: what, idempotent: true)
        if let nok = answer.nok {
            if nok.code == "11000400" {
                return ProcessorStatus(status: .timeout, evidence: "RESULT=NOK, ERROR CODE=11000400 (time-out)", raw: answer.raw)
            }
            if nok.code == "1000001" {
                return ProcessorStatus(status: .cancelled, evidence: "RESULT=NOK, ERROR CODE=1000001 (cancelled)", raw: answer.raw)
            }
            throw Self.error(nok, action: what)
        }
        guard let statusText = answer.response.text(at: "STATUS/STATUSID"), let statusID = Int(statusText) else {
            throw ProcessorError(.malformedResponse("RESULT=OK without a numeric STATUS/STATUSID"), processor: Self.name, action: what)
        }
        var details: [String: String] = ["STATUSID": statusText]
        for field in ["ORDERID", "EFFORTID", "ATTEMPTID", "PAYMENTPRODUCTID", "AMOUNT", "CURRENCYCODE"] {
            details[field] = answer.response.text(at: "STATUS/\(field)")
        }
        let normalized = Self.normalized(statusID: statusID)
        return ProcessorStatus(status: normalized, evidence: "STATUSID=\(statusID) (\(normalized.rawValue))", raw: answer.raw,
                               transactionID: details["ORDERID"], details: details)
    }

    func finishRequest(_ row: PendingRecord,
                       current: ProcessorStatus) throws(ProcessorError) -> (action: String, version: String, params: XMLElement) {
        let order = try orderID(row, "finish")
        let effort = current.details["EFFORTID"] ?? effortID(row)
        switch current.details["STATUSID"].flatMap(Int.init) {
        case 200:
            return ("DO_FINISHPAYMENT", "1.0", XMLElement(name: "PAYMENT", children: [
                .leaf("ORDERID", order), .leaf("EFFORTID", effort), .leaf("ATTEMPTID", current.details["ATTEMPTID"] ?? "1")]))
        case 525, 600:
            return ("SET_PAYMENT", "1.0", XMLElement(name: "PAYMENT", children: [
                .leaf("ORDERID", order), .leaf("EFFORTID", effort), .leaf("PAYMENTPRODUCTID", current.details["PAYMENTPRODUCTID"] ?? "1")]))
        default:
            throw ProcessorError(.configuration("order \(order) is at STATUSID \(current.details["STATUSID"] ?? "?"), "
                                                    + "which cannot be finished"),
                                 processor: Self.name, action: "finish")
        }
    }

    /// Finishes, then asks again: the answer to the finish call is not the
    /// payment's state. "Order already final" (400120) means someone already
    /// finished it: nothing is sent twice, the new status is read.
    public func finish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        try http.masking { try unmaskedFinish(row, current: current) }
    }

    func unmaskedFinish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        let step = try finishRequest(row, current: current)
        let what = "\(step.action) for order \(row.orderID ?? "?")"
        let answer = try call(step.action, version: step.version, params: step.params, what: what, idempotent: false)
        if let nok = answer.nok, nok.code != "400120" {
            throw Self.error(nok, action: what)
        }
        var after = try status(of: row)
        after.evidence = "\(step.action) \(answer.nok == nil ? "OK" : "NOK 400120 (already final)"), then \(after.evidence)"
        if answer.nok != nil { after.details[ProcessorStatus.alreadyDone] = "400120" }
        return after
    }

    public func cancel(_ row: PendingRecord) throws -> ProcessorStatus {
        try http.masking { try unmaskedCancel(row) }
    }

    func unmaskedCancel(_ row: PendingRecord) throws -> ProcessorStatus {
        let order = try orderID(row, "CANCEL_PAYMENT")
        let what = "CANCEL_PAYMENT for order \(order)"
        let answer = try call("CANCEL_PAYMENT", version: "1.0", params: XMLElement(name: "PAYMENT", children: [
            .leaf("ORDERID", order), .leaf("EFFORTID", effortID(row)), .leaf("ATTEMPTID", row.message["attempt_id"]?.scalarText ?? "1")]),
            what: what, idempotent: false)
        if let nok = answer.nok { throw Self.error(nok, action: what) }
        return try status(of: row)
    }

    public func preview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        try http.maskingPreview { try unmaskedPreview(action, for: row, current: current) }
    }

    /// The request `action` would send for `row`, built but not rendered.
    public func validate(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws {
        _ = try http.maskingErrors { try previewRequest(action, for: row, current: current) }
    }

    func unmaskedPreview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String {
        "POST \(configuration.endpoint)\n" + (try previewRequest(action, for: row, current: current)).redacted().serialized()
    }

    func previewRequest(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> XMLElement {
        let xml: XMLElement
        switch action {
        case .status: xml = request("GET_ORDERSTATUS", version: "2.0", params: try statusParams(row))
        case .finish:
            guard let current else {
                throw ProcessorError(.configuration("finishing needs the current status"), processor: Self.name, action: "preview")
            }
            let step = try finishRequest(row, current: current)
            xml = request(step.action, version: step.version, params: step.params)
        case .cancel:
            xml = request("CANCEL_PAYMENT", version: "1.0", params: XMLElement(name: "PAYMENT", children: [
                .leaf("ORDERID", try orderID(row, "preview")), .leaf("EFFORTID", effortID(row)), .leaf("ATTEMPTID", "1")]))
        case .createRecurringProfile:
            throw ProcessorError(.unsupported(action), processor: Self.name, action: "preview")
        }
        return xml
    }
}
