import Foundation

/// A message that must be damaged, and what its damaged record must say.
public struct Poison: Sendable, CustomStringConvertible {
    /// What is wrong with it.
    public let name: String
    /// The message.
    public let body: String
    /// Part of the reason its damaged record must give.
    public let reason: String
    /// The name.
    public var description: String { name }
}

/// A valid donation, `n` in its transaction id.
public func validDonation(_ n: Int) -> String {
    #"{"gateway":"paypal","gateway_txn_id":"ok-\#(n)","currency":"EUR","gross":"\#(n + 1).00","date":1764000000}"#
}

/// A valid pending message, `n` in its order id.
public func validPending(_ n: Int) -> String {
    #"{"gateway":"paypal","order_id":"ok-\#(n)","date":1764000000,"email":"donor\#(n)@example.org"}"#
}

/// What the adversarial run fed the consumers (issue 8), donation side.
public let donationPoisons: [Poison] = [
    Poison(name: "date in milliseconds",
           body: #"{"gateway":"paypal","gateway_txn_id":"p-ms","currency":"EUR","gross":"5","date":1764000000000}"#,
           reason: "field 'date': must be unix seconds between 2000-01-01 and one day from now "
               + "(got 1764000000000, which looks like milliseconds)"),
    Poison(name: "date 1e19", body: #"{"gateway":"paypal","gateway_txn_id":"p-1e19","currency":"EUR","gross":"5","date":"1e19"}"#,
           reason: "field 'date': must be unix seconds between 2000-01-01 and one day from now (got 1e19)"),
    Poison(name: "date NaN", body: #"{"gateway":"paypal","gateway_txn_id":"p-nan","currency":"EUR","gross":"5","date":"nan"}"#,
           reason: "field 'date': must be unix seconds as a decimal number (got \"nan\")"),
    Poison(name: "date 1e400", body: #"{"gateway":"paypal","gateway_txn_id":"p-inf","currency":"EUR","gross":"5","date":1e400}"#,
           reason: "field 'date': must be unix seconds as a decimal number (got \"1e400\")"),
    Poison(name: "date boolean", body: #"{"gateway":"paypal","gateway_txn_id":"p-dbool","currency":"EUR","gross":"5","date":true}"#,
           reason: "field 'date': must be a string or a number, not a JSON boolean"),
    Poison(name: "gross boolean", body: #"{"gateway":"paypal","gateway_txn_id":"p-gbool","currency":"EUR","gross":true}"#,
           reason: "field 'gross': must be a string or a number, not a JSON boolean"),
    Poison(name: "gross 1e400", body: #"{"gateway":"paypal","gateway_txn_id":"p-g1e400","currency":"EUR","gross":1e400}"#,
           reason: "field 'gross': must be a decimal amount"),
    Poison(name: "gross with 21 digits",
           body: #"{"gateway":"paypal","gateway_txn_id":"p-huge","currency":"EUR","gross":"123456789012345678901"}"#,
           reason: "field 'gross': must be a decimal amount"),
    Poison(name: "transaction id boolean", body: #"{"gateway":"paypal","gateway_txn_id":false,"currency":"EUR","gross":"5"}"#,
           reason: "field 'gateway_txn_id': must be a string or a number, not a JSON boolean"),
    Poison(name: "NaN enqueue time on an invalid donation",
           body: #"{"gateway":"paypal","gateway_txn_id":"p-env","currency":"EUR","source_enqueued_time":"nan"}"#,
           reason: "field 'gross': is missing"),
]

/// Pending side.
public let pendingPoisons: [Poison] = [
    Poison(name: "date in milliseconds", body: #"{"gateway":"paypal","order_id":"p-ms","date":1764000000000}"#,
           reason: "which looks like milliseconds"),
    Poison(name: "date 1e19", body: #"{"gateway":"paypal","order_id":"p-1e19","date":"1e19"}"#,
           reason: "field 'date': must be unix seconds between 2000-01-01 and one day from now (got 1e19)"),
    Poison(name: "date boolean", body: #"{"gateway":"paypal","order_id":"p-bool","date":true}"#,
           reason: "field 'date': must be a string or a number, not a JSON boolean"),
    Poison(name: "date negative", body: #"{"gateway":"paypal","order_id":"p-neg","date":-5}"#,
           reason: "field 'date': must be unix seconds between 2000-01-01"),
    Poison(name: "order id boolean", body: #"{"gateway":"paypal","order_id":true,"date":1764000000}"#,
           reason: "field 'order_id': must be a string or a number, not a JSON boolean"),
    Poison(name: "NaN enqueue time without a date", body: #"{"gateway":"paypal","order_id":"p-env","source_enqueued_time":"nan"}"#,
           reason: "field 'date': is missing"),
]


/// Three valid messages before each poison and after the last: the
/// messages in order, and how many of them are valid.
public func interleaved(valid: (Int) -> String, poisons: [Poison]) -> (messages: [String], validCount: Int) {
    var messages: [String] = []
    var validCount = 0
    for poison in poisons {
        for _ in 0..<3 { messages.append(valid(validCount)); validCount += 1 }
        messages.append(poison.body)
    }
    for _ in 0..<3 { messages.append(valid(validCount)); validCount += 1 }
    return (messages, validCount)
}
