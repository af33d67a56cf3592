import Foundation
import Synchronization

/// Claims a consumer's next batch on its own thread and queue connection
/// while the current batch is handled, so that the queue's round trip (and
/// the server's work on the claim) overlaps the handler's database writes.
///
/// It changes when messages are claimed, never when they are acknowledged:
/// a batch's receipts still travel with a later claim, sent only after its
/// handler returned (one batch later than without claiming ahead). A batch
/// claimed ahead is an ordinary claim under a lease: if the process dies,
/// it is redelivered when the lease expires, like the batch in hand.
/// ``QueueConsumer`` gives a batch claimed ahead back (uncounted) when its
/// handler fails, when it stops (``QueueConsumer/flush()``) and when the
/// batch holds more than the caller asked for.
///
/// Only for queues whose claims do not contend with the handler's writes
/// (Redis: a second connection to the server); an embedded SQLite queue in
/// the same file as the database would only wait for its write lock.
public final class ClaimAhead: Sendable {
    /// One claim to make.
    struct Request: Sendable {
        var queueName: String
        var acknowledging: [DeliveryReceipt]
        var limit: Int
        var lease: Duration
    }

    /// What a claim gave.
    struct Claimed: Sendable {
        var request: Request
        var outcome: Result<(acknowledged: Int, messages: [DeliveredMessage]), any Error>
        /// Just before the claim was sent: the messages' lease runs from no earlier.
        var sentAt: ContinuousClock.Instant
    }

    private struct State {
        var request: Request?
        var busy = false
        var claimed: Claimed?
        var stopping = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the thread; `open` makes its queue connection there (it never
    /// leaves that thread). The thread runs until ``stop()`` (which the
    /// ``QueueConsumer`` holding it calls when it goes away).
    public init(open: @escaping @Sendable () throws -> any MessageQueue) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            var queue: (any MessageQueue)?
            while true {
                wake.wait()
                guard let request = state.withLock({ s -> Request? in
                    guard let r = s.request else { return nil }
                    s.request = nil
                    s.busy = true
                    return r
                }) else {
                    if state.withLock({ $0.stopping }) { return }
                    continue
                }
                let sentAt = ContinuousClock.now
                let outcome = Result { () throws -> (acknowledged: Int, messages: [DeliveredMessage]) in
                    let q = try queue ?? open()
                    queue = q
                    return try ClaimAhead.claim(request, on: q)
                }
                state.withLock { s in
                    s.busy = false
                    s.claimed = Claimed(request: request, outcome: outcome, sentAt: sentAt)
                }
                done.signal()
            }
        }
        thread.name = "fundq-claim-ahead"
        thread.start()
    }

    private static func claim(_ r: Request, on queue: any MessageQueue) throws -> (acknowledged: Int, messages: [DeliveredMessage]) {
        if r.acknowledging.isEmpty { return (0, try queue.claim(from: r.queueName, limit: r.limit, lease: r.lease)) }
        let result = try queue.acknowledgeAndClaim(r.acknowledging, in: r.queueName, limit: r.limit, lease: r.lease)
        return (result.acknowledged, result.claimed)
    }

    /// Asks for the next claim without waiting (at most one outstanding).
    func start(_ request: Request) {
        state.withLock { s in
            precondition(s.request == nil && !s.busy && s.claimed == nil, "one claim ahead at a time")
            s.request = request
        }
        wake.signal()
    }

    /// Waits for the outstanding claim and takes it; nil when none was asked for.
    func take() -> Claimed? {
        while true {
            let (taken, waiting) = state.withLock { s -> (Claimed?, Bool) in
                if let c = s.claimed {
                    s.claimed = nil
                    return (c, false)
                }
                return (nil, s.request != nil || s.busy)
            }
            if let taken { return taken }
            guard waiting else { return nil }
            done.wait()
        }
    }

    /// Stops the thread (after the claim under way, if any), and waits for it.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }
}
