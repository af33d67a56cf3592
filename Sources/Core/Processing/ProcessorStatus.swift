/// The normalized set of payment states every adapter maps its processor's
/// answers onto (docs/processors/README.md; each processor's table in docs/processors/NAME.md).
public enum NormalizedStatus: String, Sendable, CaseIterable, Codable {
    /// Money collected.
    case complete
    /// The donor may still be busy, or the processor still working.
    case pending
    /// Money authorized: we must act (finish/capture).
    case pendingPoke = "pending-poke"
    /// The processor refused or failed it.
    case failed
    /// Cancelled.
    case cancelled
    /// The donor never finished; nothing to collect.
    case timeout
    /// The order was revised.
    case revised
    /// Refunded.
    case refunded
    /// Reversed (charge-back).
    case reversed
    /// Money held by the processor.
    case onHold = "on-hold"
    /// An answer fundq cannot interpret.
    case unknown
}

/// What a processor said about one payment, normalized, with the evidence.
public struct ProcessorStatus: Sendable, Equatable {
    /// The normalized state.
    public var status: NormalizedStatus
    /// The fields the decision rests on, for people and the decision log
    /// ("CHECKOUTSTATUS=PaymentActionNotInitiated, PAYERID present").
    public var evidence: String
    /// The processor's answer, with credentials and donor data masked.
    public var raw: String
    /// The processor's transaction id, when it gave one.
    public var transactionID: String?
    /// The processor's fee, when it gave one.
    public var fee: String?
    /// Processor-specific values a later action needs (PAYERID, EFFORTID, …).
    public var details: [String: String]

    /// The `details` key an adapter sets when a finish call found the payment
    /// already finished by someone else (each adapter maps its own code):
    /// nothing was captured by this call.
    public static let alreadyDone = "already_done"

    /// Whether a finish call found the payment already finished.
    public var wasAlreadyDone: Bool { details[Self.alreadyDone] != nil }

    /// The `details` key an adapter sets to the recurring profile (or
    /// subscription) a `createRecurringProfile` call created or found; the
    /// rectifier records it in the row's `subscr_id` before anything else.
    public static let recurringProfile = "recurring_profile_id"

    /// The recurring profile a `createRecurringProfile` call created or found.
    public var recurringProfileID: String? { details[Self.recurringProfile].flatMap { $0.isEmpty ? nil : $0 } }

    /// A status.
    public init(status: NormalizedStatus, evidence: String, raw: String, transactionID: String? = nil, fee: String? = nil,
                details: [String: String] = [:]) {
        self.status = status
        self.evidence = evidence
        self.raw = raw
        self.transactionID = transactionID
        self.fee = fee
        self.details = details
    }
}

/// The actions an adapter may support beyond asking for a status.
public enum ProcessorCapability: String, Sendable, CaseIterable, Comparable {
    /// Ask what became of a payment (read-only).
    case status
    /// Finish or capture an authorized payment.
    case finish
    /// Cancel a payment.
    case cancel
    /// Create a recurring payments profile for an approved checkout.
    case createRecurringProfile = "create-recurring-profile"

    public static func < (a: ProcessorCapability, b: ProcessorCapability) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
