public import Backends
public import Core
import Foundation
public import Logging
import RedisDriver
import SQLiteDriver
import Synchronization

/// The rectifier's worker pool: one run id for everything it does, each
/// worker a ``Rectifier`` on its own thread with its own connections and
/// adapters. Each processor's `concurrency` holds for the process (at most
/// that many workers ask it), its
/// `rate_limit_per_second` for every process sharing the slot store (Redis
/// when the queues are there, else the database), and a run's `limit` for
/// all its workers together.
///
/// Unless told how many workers to run, the pool is elastic: a run starts
/// one worker per processor and, while the process leaves at least half the
/// CPU unused (its workers wait on slow processors), gives every processor
/// with rows left one more per step, up to its `concurrency`; see ``WorkerGrowth``.
public final class RectifierPool: Sendable {
    /// The run id of everything this pool does (`rectify log` shows it).
    public let runID: String
    let storage: StorageConfiguration
    let processors: [ProcessorConfiguration]
    /// Workers when not a dry run: the most an elastic pool starts, the number a fixed one starts.
    public let workers: Int
    /// Whether a run starts one worker per processor and adds more while the process leaves the CPU unused
    /// (no worker count given), or starts `workers` at once.
    public let elastic: Bool
    let makeProcessor: @Sendable (String) throws -> any PaymentProcessor
    let limiter: ProcessorRateLimiter
    /// The workers' connections to the embedded file take turns at writing
    /// it instead of polling SQLite's lock (16 writers polled about once per
    /// orphan, each poll a sleep and a retry).
    let sqliteWriteGate: SQLiteWriteGate
    /// Makes each elastic run's reader of the CPU its process left unused.
    let idleSampler: @Sendable () -> any IdleSampling

    /// A pool over the stores `storage` names, for the processors
    /// configured in `processors` (their adapters made by `makeProcessor`),
    /// with `workers` workers (default: elastic, up to one per processor's
    /// concurrency slot, the sum of the configured concurrencies).
    /// With `sharedRates`, call slots live in Redis or the database; without,
    /// in this process only. An elastic run reads the CPU its process left unused
    /// from `idleSampler` (default: ``ProcessIdleSampler``).
    public init(storage: StorageConfiguration, processors: [ProcessorConfiguration], workers: Int? = nil,
                runID: String = Rectifier.newRunID(), sharedRates: Bool = true,
                idleSampler: @escaping @Sendable () -> any IdleSampling = { ProcessIdleSampler() },
                makeProcessor: @escaping @Sendable (String) throws -> any PaymentProcessor) throws {
        self.idleSampler = idleSampler
        self.storage = storage
        self.processors = processors
        self.workers = max(1, workers ?? processors.map(\.concurrency).reduce(0, +))
        elastic = workers == nil
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
        // The URL as the queues open it: from a flag, the environment, a file or the secrets file, with its password.
        if let url = try storage.redisURL() { return RedisCallSlots(connection: RedisConnection(url: url)) }
        return DatabaseCallSlots(connection: try Storage.openDatabase(storage, writeGate: sqliteWriteGate))
    }

    /// One run over every worker (a dry run uses one: it claims nothing, so
    /// two would ask about the same rows); returns the counts and decisions of all.
    public func run(_ options: RectifierOptions, logLevel: Logger.Level = .info,
                    shouldStop: @escaping @Sendable () -> Bool = { false }) throws -> RectifierReport {
        let started = ContinuousClock.now
        let run = PoolRun(budget: RectifierBudget(limit: options.limit))
        let growing = elastic && !options.dryRun
        let assignment = growing ? processors.filter { $0.concurrency > 0 }.map { [$0.name] }
            : Self.assignment(processors, workers: options.dryRun ? 1 : workers)
        var index = 0
        for mine in assignment where !mine.isEmpty {
            start(mine, index: index, run: run, options: options, logLevel: logLevel, shouldStop: shouldStop)
            index += 1
        }
        if growing {
            var growth = WorkerGrowth(), sampler = idleSampler()
            while run.group.wait(timeout: .now() + .milliseconds(Self.growthTick)) == .timedOut {
                guard !shouldStop(), run.failures.withLock({ $0.isEmpty }),
                      let later = Self.laterWorkerOptions(options, elapsed: ContinuousClock.now - started) else { continue }
                let counts = run.workers.withLock { $0 }
                let status = processors.map { p in
                    WorkerGrowth.Workers(name: p.name, started: counts[p.name]?.started ?? 0, finished: counts[p.name]?.finished ?? 0,
                                         limit: p.concurrency)
                }
                for name in growth.next(idle: sampler.sample(), processors: status) {
                    start([name], index: index, run: run, options: later, logLevel: logLevel, shouldStop: shouldStop)
                    index += 1
                }
            }
        } else {
            run.group.wait()
        }
        if let first = run.failures.withLock({ $0.first }) { throw RectifierRunFailure(description: first) }
        var total = RectifierReport()
        for report in run.reports.withLock({ $0 }) { total.add(report) }
        logPass(total, seconds: (ContinuousClock.now - started).seconds, options: options, logLevel: logLevel)
        return total
    }

    /// How often an elastic run looks at the CPU its process left unused, in milliseconds.
    static let growthTick = 200

    /// The options of a worker added `elapsed` into a run: what is left of
    /// the run's time limit; nil once less than a tick is left (no worker is
    /// added then: one started near the end would only open its connections).
    static func laterWorkerOptions(_ options: RectifierOptions, elapsed: Duration) -> RectifierOptions? {
        guard let limit = options.timeLimit else { return options }
        let left = limit - elapsed
        guard left >= .milliseconds(growthTick) else { return nil }
        var later = options
        later.timeLimit = left
        return later
    }

    /// What a run's workers share: its budget, their reports and failures,
    /// how many each processor has (started, and ended), and the group the run waits on.
    final class PoolRun: Sendable {
        let budget: RectifierBudget
        let reports = Mutex<[RectifierReport]>([])
        let failures = Mutex<[String]>([])
        let workers = Mutex<[String: (started: Int, finished: Int)]>([:])
        let group = DispatchGroup()

        init(budget: RectifierBudget) {
            self.budget = budget
        }
    }

    /// Starts worker number `index` on its own thread, asking the processors named `mine`.
    func start(_ mine: [String], index: Int, run: PoolRun, options: RectifierOptions, logLevel: Logger.Level,
               shouldStop: @escaping @Sendable () -> Bool) {
        run.group.enter()
        run.workers.withLock { for name in mine { $0[name, default: (0, 0)].started += 1 } }
        Thread { [self] in
            defer {
                run.workers.withLock { for name in mine { $0[name, default: (0, 0)].finished += 1 } }
                run.group.leave()
            }
            do {
                var logger = Logger(label: "fundq.rectifier")
                logger.logLevel = logLevel
                let adapters = try mine.map { try makeProcessor($0) }
                let stores = try Storage(storage, sqliteWriteGate: sqliteWriteGate)
                let rectifier = Rectifier(storage: stores, processors: adapters, runID: runID,
                                          claimOwner: "\(runID)/\(index)", logger: logger, limiter: limiter, budget: run.budget)
                let report = try rectifier.run(options, shouldStop: shouldStop)
                run.reports.withLock { $0.append(report) }
            } catch {
                run.failures.withLock { $0.append("\(error)") }
            }
        }.start()
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
            "needs_review": "\(c.needsReview)", "errors": "\(c.errors)", "skipped": "\(c.skipped)", "workers": "\(report.workers)",
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
