public import Core
import Foundation

/// The donations sink: `donations` queue → `donations` table, the reference
/// consumer that proves end to end that nothing is lost or doubled.
///
/// - Each donation is stored once: unique `(gateway, gateway_txn_id)`; a
///   duplicate is dropped and counted.
/// - A message with `completion_message_id` ("GATEWAY-ORDER_ID") is merged
///   with its pending row (message values win) and the row is resolved as
///   completed. If the pending row is not there yet, the message is damaged
///   with a retry date (the requeue job brings it back), never dropped.
/// - Any donation with an `order_id` resolves its open pending row.
/// - Invalid donations (gateway, gateway_txn_id, currency,
///   gross > 0; identifiers of at most 255 characters) are damaged with the
///   field and the reason; nothing is silently cut.
/// - A batch is checked for duplicates with one query per gateway and
///   written with multi-row INSERTs, in one transaction.
public struct DonationsSink {
    /// The queue it reads.
    public static let queueName = "donations"
    /// Every label its verdicts count messages under.
    public static let outcomeLabels = ["inserted", "duplicate"]

    /// How long a completion message waits for its pending row.
    public var completionRetry: Duration = .seconds(600)

    /// When set, booked donations (new or duplicate) that carry
    /// `contribution_tracking_id` are linked to their tracking rows after
    /// the batch commits. If the push fails (or the process dies first), the
    /// batch is redelivered, its donations are duplicates, and the link
    /// events are pushed again: the tracking consumer stores them once.
    public var tracking: TrackingLink? = nil

    let pending: PendingStore
    let donations: DonationsStore

    /// A sink writing through `connection`.
    public init(connection: any SQLConnection) {
        pending = PendingStore(connection: connection)
        donations = DonationsStore(connection: connection)
    }

    /// Judges and stores a batch (one transaction).
    public func handle(_ batch: [DeliveredMessage]) throws -> [MessageVerdict] {
        var booked: [DonationMessage] = []
        let verdicts = try store(batch, booked: &booked)
        try tracking?.link(booked, connection: donations.connection)
        return verdicts
    }

    private func store(_ batch: [DeliveredMessage], booked: inout [DonationMessage]) throws -> [MessageVerdict] {
        try pending.connection.transaction {
            var verdicts = [MessageVerdict](repeating: .released, count: batch.count)
            var valid: [(index: Int, donation: DonationMessage)] = []
            for (index, message) in batch.enumerated() {
                do {
                    var donation = try DonationMessage(members: try message.members())
                    if let orderID = try donation.completedOrderID() {
                        guard let row = try pending.fetch(gateway: donation.gateway, orderID: orderID) else {
                            verdicts[index] = .damaged(
                                reason: "pending row \(donation.gateway)/\(orderID) named by completion_message_id "
                                    + "is not in the pending database yet",
                                errorType: "PendingRowMissing", retryAfter: completionRetry)
                            continue
                        }
                        var merged = row.message
                        for (key, value) in donation.members { merged[key] = value }
                        merged["order_id"] = merged["order_id"] ?? .string(orderID)
                        donation = try DonationMessage(members: merged)
                    }
                    valid.append((index, donation))
                } catch let error as DonationFieldError {
                    verdicts[index] = .damaged(reason: "not a valid donation: \(error)", errorType: "DonationInvalid", retryAfter: nil)
                } catch let error as MessageError {
                    verdicts[index] = .damaged(reason: error.description, errorType: "MessageError", retryAfter: nil)
                }
            }
            // Duplicates: already stored, or repeated within this batch.
            // Keys compare byte for byte, as the database's binary collation
            // does (Swift's == would take a composed and a decomposed "café"
            // for one id).
            var known = try storedTransactionIDs(valid.map(\.donation))
            var fresh: [(index: Int, donation: DonationMessage)] = []
            var completedOrders: [[UInt8]: (gateway: String, orderIDs: [String])] = [:]
            for (index, donation) in valid {
                let key = TransactionKey(donation.gateway, donation.gatewayTxnID)
                if known.contains(key) {
                    verdicts[index] = .handled("duplicate")
                } else {
                    known.insert(key)
                    fresh.append((index, donation))
                }
                if let orderID = donation.orderID {
                    completedOrders[Array(donation.gateway.utf8), default: (donation.gateway, [])].orderIDs.append(orderID)
                }
            }
            // The database has the last word on what is new.
            let stored = try donations.insertEach(fresh.map(\.donation))
            for ((index, _), isNew) in zip(fresh, stored) { verdicts[index] = .handled(isNew ? "inserted" : "duplicate") }
            booked = valid.map(\.donation)
            // Their pending rows are done: one statement per gateway, not per donation.
            for (_, orders) in completedOrders {
                try pending.resolve(gateway: orders.gateway, orderIDs: orders.orderIDs, as: .completed)
            }
            return verdicts
        }
    }

    /// `(gateway, gateway_txn_id)` compared byte for byte.
    struct TransactionKey: Hashable {
        let gateway: [UInt8]
        let transactionID: [UInt8]

        init(_ gateway: String, _ transactionID: String) {
            self.gateway = Array(gateway.utf8)
            self.transactionID = Array(transactionID.utf8)
        }
    }

    private func storedTransactionIDs(_ batch: [DonationMessage]) throws -> Set<TransactionKey> {
        var found = Set<TransactionKey>()
        let byGateway = Dictionary(grouping: batch, by: { Array($0.gateway.utf8) })
        for items in byGateway.values {
            let gateway = items[0].gateway
            var unique: [[UInt8]: String] = [:]
            for item in items { unique[Array(item.gatewayTxnID.utf8)] = item.gatewayTxnID }
            let ids = Array(unique.values)
            var start = 0
            while start < ids.count {
                let chunk = Array(ids[start..<min(start + 500, ids.count)])
                let placeholders = SQLValue.placeholders(chunk.count)
                let rows = try donations.connection.query(
                    "SELECT gateway_txn_id FROM donations WHERE gateway = ? AND gateway_txn_id IN (\(placeholders))",
                    [.text(gateway)] + chunk.map { .text($0) })
                for row in rows { found.insert(TransactionKey(gateway, row[0].string ?? "")) }
                start += chunk.count
            }
        }
        return found
    }
}
