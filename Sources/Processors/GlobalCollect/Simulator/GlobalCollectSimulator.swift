import Core
import Foundation
public import Processors

// Compiled into the Sandbox module (see Package.swift), never into the adapters'.

/// GlobalCollect's registration with the sandbox.
extension GlobalCollect: SimulatedProcessor {
    public static var simulator: any ProcessorSimulator.Type { GlobalCollectSimulator.self }
}

extension Sandbox {
    /// The GlobalCollect MERCHANTID the simulator accepts.
    public static let merchantID = "9000"
}

/// GlobalCollect's WebCollect XML API on `POST /wdl`
/// (docs/processors/globalcollect.md). Outcomes as STATUSIDs: complete and
/// duplicate 1000; pending 300; pending-poke 600 (SET_PAYMENT); finish 200
/// (DO_FINISHPAYMENT); failed 130; cancelled 99999; abandoned 20 (an
/// orphan's 0–70); expired NOK 11000400; slow 1000, 2 s late.
enum GlobalCollectSimulator: ProcessorSimulator {
    static let ledger = "globalcollect"
    static let routes = [SandboxRoute("POST", "/wdl")]
    static let outcomes: Set<SandboxOutcome> = [.complete, .slow, .duplicate, .pending, .pendingPoke, .finish, .failed, .cancelled,
                                                 .abandoned, .expired]

    static func initialState(for outcome: SandboxOutcome) -> String {
        switch outcome {
        case .complete, .slow, .duplicate: return "1000"
        case .pending: return "300"
        case .pendingPoke: return "600"
        case .finish: return "200"
        case .failed: return "130"
        case .cancelled: return "99999"
        case .abandoned: return "20"
        default: return "0"
        }
    }

    static func environment(baseURL: String) -> [String: String] {
        ["FUNDQ_GLOBALCOLLECT_ENDPOINT": baseURL + "/wdl", "FUNDQ_GLOBALCOLLECT_MERCHANT_ID": Sandbox.merchantID]
    }

    static func answer(_ request: HTTPServerRequest, sandbox: Sandbox) -> HTTPServerReply {
        sandbox.globalCollect(request)
    }
}

extension Sandbox {
    /// GlobalCollect's WebCollect XML API: GET_ORDERSTATUS, SET_PAYMENT,
    /// DO_FINISHPAYMENT, CANCEL_PAYMENT.
    func globalCollect(_ request: HTTPServerRequest) -> HTTPServerReply {
        guard let root = try? XMLReader.parse(request.text), let requestElement = root.child("REQUEST"),
              let action = requestElement.text(at: "ACTION") else {
            return .ok("<XML><RESPONSE><RESULT>NOK</RESULT><ERROR><CODE>21000020</CODE><MESSAGE>REQUEST is not valid XML</MESSAGE>"
                       + "</ERROR></RESPONSE></XML>",
                       contentType: "text/xml")
        }
        func respond(_ body: [XMLElement], ok: Bool = true, delay: Duration = .zero) -> HTTPServerReply {
            let meta = XMLElement(name: "META", children: [.leaf("REQUESTID", String(requestCount)),
                                                           .leaf("RESPONSEDATETIME", "20261128000000")])
            let response = XMLElement(name: "RESPONSE", children: [.leaf("RESULT", ok ? "OK" : "NOK"), meta] + body)
            let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
                + XMLElement(name: "XML", children: [requestElement, response]).serialized()
            return .ok(xml, contentType: "text/xml", delay: delay)
        }
        func nok(_ code: String, _ message: String) -> HTTPServerReply {
            respond([XMLElement(name: "ERROR", children: [.leaf("CODE", code), .leaf("MESSAGE", message)])], ok: false)
        }
        guard requestElement.text(at: "META/MERCHANTID") == Sandbox.merchantID else { return nok("410120", "MERCHANTID is not valid") }
        let params = requestElement.child("PARAMS")
        guard let orderID = params?.text(at: "ORDER/ORDERID") ?? params?.text(at: "PAYMENT/ORDERID") else {
            return nok("20001000", "ORDERID is missing")
        }
        guard let order = order(GlobalCollectSimulator.ledger, orderID), let statusID = Int(order.state) else {
            return nok("410110", "UNKNOWN ORDER OR NOT PENDING")
        }
        let amount = "\(order.amount) \(order.currency)"
        let sample = "<XML><RESPONSE><RESULT>OK</RESULT><STATUS><STATUSID>1000</STATUSID></STATUS></RESPONSE></XML>"
        if let bad = misbehaviour(order.outcome, contentType: "text/xml", truncatedOf: sample) {
            return bad
        }
        let delay: Duration = order.outcome == .slow ? .seconds(2) : .zero
        switch action {
        case "GET_ORDERSTATUS":
            if order.outcome == .expired { return nok("11000400", "TIME-OUT") }
            let status = XMLElement(name: "STATUS", children: [
                .leaf("STATUSID", String(statusID)), .leaf("STATUSDATE", "20261128000000"), .leaf("ORDERID", orderID),
                .leaf("EFFORTID", "1"), .leaf("ATTEMPTID", "1"), .leaf("AMOUNT", order.amount.replacingOccurrences(of: ".", with: "")),
                .leaf("CURRENCYCODE", order.currency), .leaf("PAYMENTPRODUCTID", "1"), .leaf("MERCHANTREFERENCE", "ref-\(orderID)"),
                .leaf("CVVRESULT", "M"), .leaf("AVSRESULT", "0"), .leaf("FRAUDRESULT", "A"), .leaf("CREDITCARDNUMBER", "************1111"),
            ])
            return respond([status], delay: delay)
        case "SET_PAYMENT", "DO_FINISHPAYMENT":
            let expected = action == "SET_PAYMENT" ? [525, 600] : [200]
            guard expected.contains(statusID) else {
                recordCapture(GlobalCollectSimulator.ledger, id: orderID, action: action, amount: amount, counts: false)
                return nok("400120", "ORDER ALREADY FINAL OR NOT IN THE RIGHT STATE")
            }
            recordCapture(GlobalCollectSimulator.ledger, id: orderID, action: action, amount: amount, counts: true)
            update(GlobalCollectSimulator.ledger, orderID) { $0.state = "1000" }
            return respond([], delay: delay)
        case "CANCEL_PAYMENT":
            update(GlobalCollectSimulator.ledger, orderID) { $0.state = "99999" }
            return respond([])
        default:
            return nok("21000050", "ACTION \(action) is not supported")
        }
    }
}
