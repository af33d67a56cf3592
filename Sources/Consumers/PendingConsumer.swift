public import Core
import Foundation

/// The pending consumer: `pending` queue → pending database.
///
/// Idempotent: a redelivered message merges into its own row and changes
/// nothing. A message without `gateway`, `date`, or both `order_id` and
/// `gateway_txn_id` is damaged with the reason. A message whose payment is
/// already known final (a completed donation for the same `(gateway,
/// order_id)` or `gateway_txn_id`, or a row already resolved as completed)
/// is skipped. A batch is written in one transaction.
public struct PendingConsumer {
    /// The queue it reads.
    public static let queueName = "pending"
    /// Every label its verdicts count messages under.
    public static let outcomeLabels = ["inserted", "merged", "unchanged", "skipped-final"]

    let pending: PendingStore
    let donations: DonationsStore

    /// A consumer writing through `connection`.
    public init(connection: any SQLConnection) {
        pending = PendingStore(connection: connection)
        donations = DonationsStore(connection: connection)
    }

    /// Judges and stores a batch (one transaction).
    public func handle(_ batch: [DeliveredMessage]) throws -> [MessageVerdict] {
        try pending.connection.transaction {
            try batch.map { message in
                let pendingMessage: PendingMessage
                do {
                    pendingMessage = try PendingMessage(members: try message.members())
                } catch {
                    return .damaged(reason: "not a valid pending message: \(error)", errorType: "PendingMessageInvalid", retryAfter: nil)
                }
                do {
                    if try donations.exists(gateway: pendingMessage.gateway, orderID: pendingMessage.orderID,
                                            gatewayTxnID: pendingMessage.gatewayTxnID) {
                        return .handled("skipped-final")
                    }
                    if let orderID = pendingMessage.orderID,
                       try pending.fetch(gateway: pendingMessage.gateway, orderID: orderID)?.resolution == .completed {
                        return .handled("skipped-final")
                    }
                    return .handled(try pending.store(pendingMessage).rawValue)
                } catch let error where !OutagePolicy.isOutage(error) {
                    // The database refused this row (a value it cannot hold): this message only.
                    return QueueConsumer.verdict(for: error)
                }
            }
        }
    }
}
