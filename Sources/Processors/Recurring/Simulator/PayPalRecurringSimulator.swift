import Core
public import Processors

// Compiled into the Sandbox module (see Package.swift), never into the adapters'.

/// PayPal recurring profiles' registration with the sandbox: the same NVP
/// simulator as Express Checkout (one API, one ledger of tokens), without
/// the outcomes only a capture has (duplicate, short-capture).
extension PayPalRecurring: SimulatedProcessor {
    public static var simulator: any ProcessorSimulator.Type { PayPalSimulator.self }

    public static var simulatedOutcomes: Set<SandboxOutcome> {
        PayPalSimulator.outcomes.subtracting([.duplicate, .shortCapture]).union(SandboxOutcome.misbehaviours)
    }
}

/// What the simulator keeps for recurring donations: the profiles created
/// (profile id → its checkout token and STATUS) and the notifications
/// issued, which its verification endpoint answers VERIFIED.
struct PayPalRecurringState: SimulatorState {
    struct Profile: Sendable {
        var token: String
        var status: String
    }

    var profiles: [String: Profile] = [:]
    /// Profiles created per token (their ids count up from 1).
    var profileCounts: [String: Int] = [:]
    var issuedIPNs: Set<[UInt8]> = []
}

extension Sandbox {
    /// Recurring profiles created for `token`.
    public func profiles(forToken token: String) -> [String] {
        withSimulatorState(PayPalRecurringState.self) { $0.profiles.filter { $0.value.token == token }.map(\.key).sorted() }
    }

    /// A notification as PayPal would POST it, remembered so that its
    /// verification answers VERIFIED (anything else answers INVALID).
    public func issueIPN(_ fields: [(String, String)]) -> [UInt8] {
        let body = Array(NVP.encode(fields).utf8)
        withSimulatorState(PayPalRecurringState.self) { _ = $0.issuedIPNs.insert(body) }
        return body
    }

    /// `cmd=_notify-validate` + the notification, as PayPal verifies it
    /// (`POST /cgi-bin/webscr`, routed by the PayPal simulator).
    func verifyIPN(_ request: HTTPServerRequest) -> HTTPServerReply {
        let prefix = Array("cmd=_notify-validate&".utf8)
        guard request.body.starts(with: prefix) else { return .ok("INVALID", contentType: "text/plain") }
        let original = Array(request.body.dropFirst(prefix.count))
        let issued = withSimulatorState(PayPalRecurringState.self) { $0.issuedIPNs.contains(original) }
        return .ok(issued ? "VERIFIED" : "INVALID", contentType: "text/plain")
    }

    /// CreateRecurringPaymentsProfile on the checkout `token` (scripted `order`).
    func createRecurringProfile(_ f: [String: String], token: String, order: Order, answer: ([(String, String)]) -> HTTPServerReply,
                                failure: (String, String) -> HTTPServerReply) -> HTTPServerReply {
        guard order.outcome != .abandoned, order.outcome != .cancelled else {
            return failure("11581", "Invalid Data: the buyer has not agreed to the billing agreement")
        }
        guard f["AMT"] == order.amount, f["CURRENCYCODE"] == order.currency, f["BILLINGPERIOD"] == "Month" else {
            return failure("11549", "Start date, amount, currency or billing period is invalid")
        }
        let profileID = withSimulatorState(PayPalRecurringState.self) { state in
            state.profileCounts[token, default: 0] += 1
            let id = "I-\(token)-\(state.profileCounts[token]!)"
            state.profiles[id] = PayPalRecurringState.Profile(token: token, status: "Active")
            return id
        }
        recordCapture(PayPalSimulator.ledger, id: token, action: "CreateRecurringPaymentsProfile",
                      amount: "\(order.amount) \(order.currency)", counts: true)
        return answer([("ACK", "Success"), ("PROFILEID", profileID), ("PROFILESTATUS", "ActiveProfile")])
    }

    /// GetRecurringPaymentsProfileDetails and ManageRecurringPaymentsProfileStatus.
    func recurring(_ f: [String: String], profileID: String, answer: ([(String, String)]) -> HTTPServerReply,
                   failure: (String, String) -> HTTPServerReply) -> HTTPServerReply {
        guard let profile = withSimulatorState(PayPalRecurringState.self, { $0.profiles[profileID] }) else {
            return failure("11552", "Invalid profile ID entered")
        }
        switch f["METHOD"] {
        case "GetRecurringPaymentsProfileDetails":
            return answer([("ACK", "Success"), ("PROFILEID", profileID), ("STATUS", profile.status), ("BILLINGPERIOD", "Month"),
                           ("NEXTBILLINGDATE", "2026-12-28T10:00:00Z")])
        case "ManageRecurringPaymentsProfileStatus":
            let next = ["Cancel": "Cancelled", "Suspend": "Suspended", "Reactivate": "Active"]
            guard let action = f["ACTION"], let status = next[action] else { return failure("11555", "Invalid action") }
            withSimulatorState(PayPalRecurringState.self) { $0.profiles[profileID]?.status = status }
            return answer([("ACK", "Success"), ("PROFILEID", profileID)])
        default:
            return failure("81002", "Unspecified Method")
        }
    }
}
