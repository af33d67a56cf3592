import Foundation
import Logging
import Synchronization

/// A sealed batch on its way to the database, with the offsets it moves.
struct PendingWrite: Sendable {
    var batch: SealedBatch
    var progress: [PartitionProgress]
    /// The loader's generation when it was sealed (bumped at every restart).
    var generation: Int
}

/// What became of a ``PendingWrite``.
enum WriteResult: Sendable {
    /// Written with its offsets, in `seconds`, the commit returning at `at`.
    case committed(PendingWrite, seconds: Double, at: ContinuousClock.Instant)
    /// Another consumer had moved the offsets: nothing written.
    case conflict(generation: Int)
    /// The database refused it for good (after retries).
    case failed(String)
}

/// Writes batches on its own thread and database connection, so that the
/// consumer keeps reading while a transaction (and its fsync) is under way.
/// At most one batch waits while another is written. The store is opened
/// on the writer thread and never leaves it.
final class BatchWriter: Sendable {
    private struct State {
        var queue: [PendingWrite] = []
        var busy = false
        var results: [WriteResult] = []
        var stopping = false
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let progress = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the thread; `open` makes its store.
    init(topic: String, logger: Logger, open: @escaping @Sendable () throws -> ImpressionStore) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            var store: ImpressionStore?
            while true {
                wake.wait()
                let next: PendingWrite? = state.withLock { s in
                    if s.queue.isEmpty { return nil }
                    s.busy = true
                    return s.queue.removeFirst()
                }
                guard let write = next else {
                    if state.withLock({ $0.stopping }) { return }
                    continue
                }
                let result = BatchWriter.write(write, topic: topic, store: &store, open: open, logger: logger)
                state.withLock { s in
                    s.busy = false
                    s.results.append(result)
                }
                progress.signal()
            }
        }
        thread.name = "fundq-impressions-writer"
        thread.start()
    }

    private static func write(_ write: PendingWrite, topic: String, store: inout ImpressionStore?,
                              open: () throws -> ImpressionStore, logger: Logger) -> WriteResult {
        var attempt = 0
        while true {
            do {
                let s = try store ?? open()
                store = s
                let began = ContinuousClock().now
                guard try s.commit(write.batch, topic: topic, progress: write.progress) else {
                    return .conflict(generation: write.generation)
                }
                let at = ContinuousClock().now
                return .committed(write, seconds: (at - began).seconds, at: at)
            } catch {
                attempt += 1
                guard attempt < 60 else { return .failed("\(error)") }
                logger.error("impressions: cannot write a batch of \(write.batch.events) events (attempt \(attempt)), retrying: \(error)")
                Thread.sleep(forTimeInterval: min(5, 0.2 * Double(attempt)))
            }
        }
    }

    /// Queues `write`; waits first while another batch is already waiting.
    func submit(_ write: PendingWrite) {
        while state.withLock({ $0.queue.count >= 1 }) { progress.wait() }
        state.withLock { $0.queue.append(write) }
        wake.signal()
    }

    /// Results so far, without waiting.
    func takeResults() -> [WriteResult] {
        state.withLock { s in
            defer { s.results.removeAll() }
            return s.results
        }
    }

    /// Waits until every queued batch is written; returns all results.
    func drain() -> [WriteResult] {
        while state.withLock({ !$0.queue.isEmpty || $0.busy }) { progress.wait() }
        return takeResults()
    }

    /// Whether a batch is waiting or being written.
    var isIdle: Bool { state.withLock { $0.queue.isEmpty && !$0.busy } }

    /// Stops the thread once the queue is empty, and waits for it.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        finished.wait()
    }
}
