public import Backends
public import Core
import Foundation
public import Logging
import RedisDriver
import SQLiteDriver
import Synchronization

/// The rectifier's worker pool: one run id for everything it does, each
/// worker a ``Rectifier`` on its own thread with its own connections and
/// adapters. Each processor's `concurrency` holds for the process (its
/// slots are dealt over the workers, so at most that many workers ask it), its
/// `rate_limit_per_second` for every process sharing the slot store (Redis
/// when the queues are there, else the database), and a run's `limit` for
/// all its workers together.
public final class RectifierPool: Sendable {
    /// The run id of everything this pool does (`rectify log` shows it).
    public let runID: String
    let storage: StorageConfiguration
    let processors: [ProcessorConfiguration]
    /// Workers when not a dry run.
    public let workers: Int
    let makeProcessor: @Sendable (String) throws -> any PaymentProcessor
    let limiter: ProcessorRateLimiter
    /// The workers' connections to the embedded file take turns at writing
    /// it instead of polling SQLite's lock (16 writers polled about once per
    /// orphan, each poll a sleep and a retry).
    let sqliteWriteGate: SQLiteWriteGate

    /// A pool over the stores `storage` names, for the processors
    /// configured in `processors` (their adapters made by `makeProcessor`),
    /// with `workers` workers (default: one per processor's concurrency slot,
    /// the sum of the configured concurrencies).
    /// With `sharedRates`, call slots live in Redis or the database; without,
    /// in this process only.
    public init(storage: StorageConfiguration, processors: [ProcessorConfiguration], workers: Int? = nil,
                runID: String = Rectifier.newRunID(), sharedRates: Bool = true,
                makeProcessor: @escaping @Sendable (String) throws -> any PaymentProcessor) throws {
        self.storage = storage
        self.processors = processors
        self.workers = max(1, workers ?? processors.map(\.concurrency).reduce(0, +))
        self.runID = runID
        self.makeProcessor = makeProcessor
        let gate = SQLiteWriteGate()
        sqliteWriteGate = gate
        limiter = ProcessorRateLimiter(store: sharedRates ? try Self.sharedSlots(storage, sqliteWriteGate: gate) : LocalCallSlots(),
                                       processors: processors.map { $0.name })
    }

    /// The processors each worker asks: every processor's `concurrency`
    /// slots dealt round-robin over the workers (first slots first), so a
    /// processor is asked by at most `concurrency` workers and, with as many
    /// workers as slots, each worker asks one processor.
    static func assignment(_ processors: [ProcessorConfiguration], workers: Int) -> [[String]] {
        var assigned = Array(repeating: [String](), count: max(1, workers))
        var next = 0
        for slot in 0..<(processors.map(\.concurrency).max() ?? 0) {
            for p in processors where p.concurrency > slot {
                let worker = next % assigned.count
                if !assigned[worker].contains(p.name) { assigned[worker].append(p.name) }
                next += 1
            }
        }
        return assigned
    }

    /// Where call slots are reserved: Redis with the queues, else the
    /// database (on the embedded file, taking turns with the workers' writes).
    static func sharedSlots(_ storage: StorageConfiguration, sqliteWriteGate: SQLiteWriteGate) throws -> any CallSlotStore {
        if let url = storage.queueURL { return RedisCallSlots(connection: RedisConnection(url: try RedisURL(parsing: url))) }
        return DatabaseCallSlots(connection: try Storage.openDatabase(storage, writeGate: sqliteWriteGate))
    }

    /// One run over every worker (a dry run uses one: it claims nothing, so
    /// two would ask about the same rows); returns the counts and decisions of all.
    public func run(_ options: RectifierOptions, logLevel: Logger.Level = .info,
                    shouldStop: @escaping @Sendable () -> Bool = { false }) throws -> RectifierReport {
        let budget = RectifierBudget(limit: options.limit)
        let started = ContinuousClock.now
        let reports = Mutex<[RectifierReport]>([])
        let failures = Mutex<[String]>([])
        let group = DispatchGroup()
        let assignment = Self.assignment(processors, workers: options.dryRun ? 1 : workers)
        for (index, mine) in assignment.enumerated() where !mine.isEmpty {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                do {
                    var logger = Logger(label: "fundq.rectifier")
                    logger.logLevel = logLevel
                    let adapters = try mine.map { try makeProcessor($0) }
                    let stores = try Storage(storage, sqliteWriteGate: sqliteWriteGate)
                    let rectifier = Rectifier(storage: stores, processors: adapters, runID: runID,
                                              claimOwner: "\(runID)/\(index)", logger: logger, limiter: limiter, budget: budget)
                    let report = try rectifier.run(options, shouldStop: shouldStop)
                    reports.withLock { $0.append(report) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }.start()
        }
        group.wait()
        if let first = failures.withLock({ $0.first }) { throw RectifierRunFailure(description: first) }
        var total = RectifierReport()
        for report in reports.withLock({ $0 }) { total.add(report) }
        logPass(total, seconds: (ContinuousClock.now - started).seconds, options: options, logLevel: logLevel)
        return total
    }

    /// One info line per pass: its counts over every processor and its rate
    /// (each decision has its own line at debug, and its row in the decision log).
    func logPass(_ report: RectifierReport, seconds: Double, options: RectifierOptions, logLevel: Logger.Level) {
        var logger = Logger(label: "fundq.rectifier")
        logger.logLevel = logLevel
        var c = RectifierCounts()
        for counts in report.counts.values { c.add(counts) }
        logger.info("pass", metadata: [
            "run": "\(runID)", "dry_run": "\(options.dryRun)", "examined": "\(c.examined)", "completed": "\(c.completed)",
            "captured": "\(c.captured)", "failed": "\(c.failed)", "duplicates": "\(c.duplicates)", "left": "\(c.left)",
            "needs_review": "\(c.needsReview)", "errors": "\(c.errors)", "skipped": "\(c.skipped)",
            "seconds": "\(String(format: "%.3f", seconds))",
            "per_second": "\(seconds > 0 ? String(format: "%.1f", Double(c.examined) / seconds) : "-")",
        ])
    }
}

/// A rectifier worker stopped on an error that is not about one row (the database went away, say).
public struct RectifierRunFailure: Error, CustomStringConvertible {
    /// What stopped it.
    public let description: String
}
