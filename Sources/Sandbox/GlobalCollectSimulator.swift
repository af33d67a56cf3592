import Core
import Foundation
import Processors

extension Sandbox {
    func stateOrder(paypal token: String) -> Order? { stateOrder { $0.paypal[token] } }

    func stateOrder(_ read: (State) -> Order?) -> Order? {
        stateLock { read($0) }
    }

    /// Records a money-moving call; `counts` false for an answered duplicate.
    func recordCapture(_ processor: String, id: String, action: String, amount: String, counts: Bool) {
        stateLockMutating { state in
            if counts { state.captures.append(SandboxCapture(processor: processor, id: id, action: action, amount: amount)) }
            if processor == "paypal" { state.paypal[id]?.captures += 1 } else { state.globalcollect[id]?.captures += 1 }
        }
    }

    /// GlobalCollect's WebCollect XML API: GET_ORDERSTATUS, SET_PAYMENT,
    /// DO_FINISHPAYMENT, CANCEL_PAYMENT.
    func globalCollect(_ request: HTTPServerRequest) -> HTTPServerReply {
        guard let root = try? XMLReader.parse(request.text), let requestElement = root.child("REQUEST"),
              let action = requestElement.text(at: "ACTION") else {
            return .ok("<XML><RESPONSE><RESULT>NOK</RESULT><ERROR><CODE>21000020</CODE><MESSAGE>REQUEST is not valid XML</MESSAGE></ERROR></RESPONSE></XML>",
                       contentType: "text/xml")
        }
        func respond(_ body: [XMLElement], ok: Bool = true, delay: Duration = .zero) -> HTTPServerReply {
            let meta = XMLElement(name: "META", children: [.leaf("REQUESTID", String(requestCount)), .leaf("RESPONSEDATETIME", "20261128000000")])
            let response = XMLElement(name: "RESPONSE", children: [.leaf("RESULT", ok ? "OK" : "NOK"), meta] + body)
            let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>" + XMLElement(name: "XML", children: [requestElement, response]).serialized()
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
        guard let order = stateOrder({ $0.globalcollect[orderID] }) else { return nok("410110", "UNKNOWN ORDER OR NOT PENDING") }
        if let bad = misbehaviour(order.outcome, contentType: "text/xml", truncatedOf: "<XML><RESPONSE><RESULT>OK</RESULT><STATUS><STATUSID>1000</STATUSID></STATUS></RESPONSE></XML>") {
            return bad
        }
        let delay: Duration = order.outcome == .slow ? .seconds(2) : .zero
        switch action {
        case "GET_ORDERSTATUS":
            if order.outcome == .expired { return nok("11000400", "TIME-OUT") }
            let status = XMLElement(name: "STATUS", children: [
                .leaf("STATUSID", String(order.statusID)), .leaf("STATUSDATE", "20261128000000"), .leaf("ORDERID", orderID),
                .leaf("EFFORTID", "1"), .leaf("ATTEMPTID", "1"), .leaf("AMOUNT", order.amount.replacingOccurrences(of: ".", with: "")),
                .leaf("CURRENCYCODE", order.currency), .leaf("PAYMENTPRODUCTID", "1"), .leaf("MERCHANTREFERENCE", "ref-\(orderID)"),
                .leaf("CVVRESULT", "M"), .leaf("AVSRESULT", "0"), .leaf("FRAUDRESULT", "A"), .leaf("CREDITCARDNUMBER", "************1111"),
            ])
            return respond([status], delay: delay)
        case "SET_PAYMENT", "DO_FINISHPAYMENT":
            let expected = action == "SET_PAYMENT" ? [525, 600] : [200]
            guard expected.contains(order.statusID) else {
                recordCapture("globalcollect", id: orderID, action: action, amount: "\(order.amount) \(order.currency)", counts: false)
                return nok("400120", "ORDER ALREADY FINAL OR NOT IN THE RIGHT STATE")
            }
            recordCapture("globalcollect", id: orderID, action: action, amount: "\(order.amount) \(order.currency)", counts: true)
            stateLockMutating { $0.globalcollect[orderID]?.statusID = 1000 }
            return respond([], delay: delay)
        case "CANCEL_PAYMENT":
            stateLockMutating { $0.globalcollect[orderID]?.statusID = 99999 }
            return respond([])
        default:
            return nok("21000050", "ACTION \(action) is not supported")
        }
    }
}
