/// A payment processor adapter: identity, configuration, and the calls the
/// rectifier and the dry-run commands make. Adapters are classes owning
/// their HTTP connections; use one from one task or thread at a time.
public protocol PaymentProcessor: AnyObject {
    /// The processor's name in the registry and in `processors/NAME.yaml`.
    static var name: String { get }
    /// The `gateway` code its messages and pending rows carry.
    static var gateway: String { get }
    /// What the adapter can do.
    static var capabilities: Set<ProcessorCapability> { get }
    /// Which pending-row field names the payment at this processor.
    static var paymentIdentity: PaymentIdentity { get }
    /// The calls that move money, each with what makes a repeat harmless
    /// (the rectifier records its intent before each, whatever the adapter).
    static var moneyMovingActions: [MoneyMovingAction] { get }

    /// The processor's rules for a row nobody came back for (an orphan):
    /// `answer` as the rectifier must read it (e.g. an early status code on an
    /// orphan: the donor never finished, timeout). Default: unchanged.
    static func orphanStatus(_ answer: ProcessorStatus) -> ProcessorStatus

    /// An adapter with `configuration` and the credential values it names.
    init(configuration: ProcessorConfiguration, credentials: Credentials) throws

    /// The settings in use.
    var configuration: ProcessorConfiguration { get }

    /// Asks the processor what became of `row`'s payment. Read-only.
    func status(of row: PendingRecord) throws -> ProcessorStatus

    /// Finishes or captures `row`'s authorized payment (`current` is the
    /// status that said it must be). A processor's "already done" answer is
    /// reported as complete, never as a reason to pay again.
    func finish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus

    /// Cancels `row`'s payment at the processor.
    func cancel(_ row: PendingRecord) throws -> ProcessorStatus

    /// The exact request `action` would send for `row`, credentials masked,
    /// for `--dry-run`.
    func preview(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws -> String

    /// Checks that `action`'s request for `row` can be built exactly as it
    /// would be sent, throwing what ``preview(_:for:current:)`` would, but
    /// renders and masks nothing: a real run asks this before it records an
    /// intent (a dry run shows the preview). The default renders the preview
    /// and drops it.
    func validate(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws
}

extension PaymentProcessor {
    /// Processors without orphan rules read an orphan's answer as it is.
    public static func orphanStatus(_ answer: ProcessorStatus) -> ProcessorStatus { answer }

    /// Adapters without finish support.
    public func finish(_ row: PendingRecord, current: ProcessorStatus) throws -> ProcessorStatus {
        throw ProcessorError(.unsupported(.finish), processor: Self.name, action: "finish")
    }

    /// Adapters without cancel support.
    public func cancel(_ row: PendingRecord) throws -> ProcessorStatus {
        throw ProcessorError(.unsupported(.cancel), processor: Self.name, action: "cancel")
    }

    /// Adapters that build their requests only to render them: the preview, dropped.
    public func validate(_ action: ProcessorCapability, for row: PendingRecord, current: ProcessorStatus?) throws {
        _ = try preview(action, for: row, current: current)
    }
}
