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
/// Up to ``maximumWaiting`` batches wait while others are written (so at
/// most twice that many are sealed and not yet committed), and the
/// writer takes every batch waiting into its next transaction: when commits
/// get slow (a disk whose flushes take 100 ms instead of 20), batches are
/// written several to a commit instead of the reader stopping for each.
/// The store is opened on the writer thread and never leaves it.
final class BatchWriter: Sendable {
    /// Batches that may wait for the writer before ``submit(_:)`` waits.
    static let maximumWaiting = 8

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
                let group: WriteGroup? = state.withLock { s in
                    let taken = BatchWriter.nextGroup(s.queue)
                    s.queue.removeFirst(taken?.writes.count ?? 0)
                    s.busy = taken != nil
                    return taken
                }
                guard let group else {
                    if state.withLock({ $0.stopping }) { return }
                    continue
                }
                // The queue has room again: a reader waiting to submit goes on while this group is written.
                progress.signal()
                let results = BatchWriter.write(group, topic: topic, store: &store, open: open, logger: logger)
                state.withLock { s in
                    s.busy = false
                    s.results += results
                }
                progress.signal()
            }
        }
        thread.name = "fundq-impressions-writer"
        thread.start()
    }

    /// Batches written in one transaction, and their offsets joined (``PartitionProgress/joined(_:)``).
    struct WriteGroup {
        var writes: [PendingWrite]
        var progress: [PartitionProgress]
    }

    /// The batches the next transaction takes (nil: none waits): the first
    /// waiting and those after it of the same generation whose offsets
    /// follow on from it (a batch of a later generation was read after a
    /// restart, and is written on its own commit).
    static func nextGroup(_ queue: [PendingWrite]) -> WriteGroup? {
        guard let first = queue.first else { return nil }
        var group = WriteGroup(writes: [first], progress: first.progress)
        for next in queue.dropFirst() {
            guard next.generation == first.generation, let joined = PartitionProgress.joined([group.progress, next.progress]) else { break }
            group.writes.append(next)
            group.progress = joined
        }
        return group
    }

    /// Writes `group` in one transaction; one result per batch.
    private static func write(_ taken: WriteGroup, topic: String, store: inout ImpressionStore?,
                              open: () throws -> ImpressionStore, logger: Logger) -> [WriteResult] {
        let group = taken.writes, progress = taken.progress
        var attempt = 0
        while true {
            do {
                let s = try store ?? open()
                store = s
                let began = ContinuousClock().now
                guard try s.commit(group.map(\.batch), topic: topic, progress: progress) else {
                    return group.map { .conflict(generation: $0.generation) }
                }
                let at = ContinuousClock().now
                // The transaction's seconds are counted once, with its first batch.
                return group.enumerated().map { .committed($1, seconds: $0 == 0 ? (at - began).seconds : 0, at: at) }
            } catch {
                attempt += 1
                guard attempt < 60 else { return group.map { _ in .failed("\(error)") } }
                let what = "\(group.count) batches of \(group.reduce(0) { $0 + $1.batch.events }) events"
                logger.error("impressions: cannot write \(what) (attempt \(attempt)), retrying: \(error)")
                Thread.sleep(forTimeInterval: min(5, 0.2 * Double(attempt)))
            }
        }
    }

    /// Queues `write`; waits first while ``maximumWaiting`` batches already wait.
    func submit(_ write: PendingWrite) {
        while state.withLock({ $0.queue.count >= Self.maximumWaiting }) { progress.wait() }
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
