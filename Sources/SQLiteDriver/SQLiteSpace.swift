public import Core
import Foundation

/// Giving space back: the embedded file uses incremental auto-vacuum, and
/// the processes that delete rows return free pages to the file system in
/// small steps, each its own short write transaction with a pause after it,
/// so a producer waiting for the write lock waits about one step, not the
/// whole reclaim (`fundq bench reclaim` measures it).
extension SQLiteDatabase {
    /// Pages per reclaim step: 512 KiB at the default 4 KiB page size, a
    /// step of a few milliseconds.
    public static let reclaimStepPages = 128

    /// Page counts of the file.
    public typealias PageCounts = DatabaseStats.PageCounts

    /// The file's page counts.
    public func pageCounts() throws -> PageCounts {
        func pragma(_ name: String) throws -> Int {
            Int(try query("PRAGMA \(name)", []).first?.first?.int64 ?? 0)
        }
        return PageCounts(total: try pragma("page_count"), free: try pragma("freelist_count"), pageSize: try pragma("page_size"))
    }

    /// Turns on incremental auto-vacuum (``useIncrementalVacuum()``).
    public func prepareForMigrations() throws {
        try useIncrementalVacuum()
    }

    /// The file's size, its write-ahead log's, its pages and auto-vacuum mode.
    public func fileSpace() throws -> DatabaseStats.File? {
        func size(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        }
        let mode = Int(try query("PRAGMA auto_vacuum", []).first?.first?.int64 ?? 0)
        return DatabaseStats.File(fileBytes: size(path), walBytes: size(path + "-wal"), pages: try pageCounts(), autoVacuum: mode)
    }

    /// Gives back every free page, a step at a time (``reclaimFreePages(keeping:maximumSteps:stepPages:)``).
    public func reclaimFreeSpace() throws {
        try reclaimFreePages(keeping: 0, maximumSteps: .max)
    }

    /// Makes the file use incremental auto-vacuum: set before the first
    /// table on a new file; an existing file is converted once by `VACUUM`
    /// (it rewrites the file under the write lock, once in its life).
    func useIncrementalVacuum() throws {
        let mode = try query("PRAGMA auto_vacuum", []).first?.first?.int64 ?? 0
        guard mode != 2 else { return }
        try execute("PRAGMA auto_vacuum = INCREMENTAL", context: "enabling incremental auto-vacuum on \(path)")
        try execute("VACUUM", context: "converting \(path) to incremental auto-vacuum")
    }

    /// Returns free pages to the file system while more than `keeping` are
    /// free, in steps of at most `stepPages` pages, each its own `BEGIN
    /// IMMEDIATE … COMMIT`, at most `maximumSteps` steps per call (callers
    /// call again later). Returns the pages given back.
    ///
    /// SQLite's write lock is not fair: a producer waiting for it polls
    /// with growing sleeps and loses every race to a loop that takes the
    /// lock again at once (measured: one push waited for a whole 3,700-page
    /// reclaim). So between steps the lock is left free for three times as
    /// long as the step held it, and at least 2 ms: a waiting producer finds
    /// it free on most of its retries.
    @discardableResult
    public func reclaimFreePages(keeping: Int = 0, maximumSteps: Int = 16, stepPages: Int = reclaimStepPages) throws -> Int {
        guard !inTransaction else { return 0 }
        let clock = ContinuousClock()
        var reclaimed = 0
        var free = try pageCounts().free
        var steps = 0
        var lastStep = 0.0
        // A `for … where` here would keep counting to maximumSteps once the
        // file is reclaimed (Int.max when drained): the loop must stop.
        while steps < maximumSteps && free > keeping {
            if steps > 0 { Thread.sleep(forTimeInterval: max(0.002, 3 * lastStep)) }
            steps += 1
            let step = min(max(1, stepPages), free - keeping)
            let start = clock.now
            try transaction { try executeScript("PRAGMA incremental_vacuum(\(step))") }
            lastStep = (clock.now - start).seconds
            let left = try pageCounts().free
            guard left < free else { break }  // nothing moved: not an incremental file
            reclaimed += free - left
            free = left
            // Every few steps the pages written are copied back into the
            // file here, by the reclaimer (a passive checkpoint waits for no
            // one), rather than by the automatic checkpoint of whichever
            // commit comes next — a producer's push. In WAL mode this is also
            // when the file shrinks.
            if steps % 4 == 0 { try executeScript("PRAGMA wal_checkpoint(PASSIVE)") }
        }
        if reclaimed > 0 && steps % 4 != 0 { try executeScript("PRAGMA wal_checkpoint(PASSIVE)") }
        return reclaimed
    }
}

/// When a process that deletes rows from the embedded file gives space
/// back: after a claim found the queue empty, everything free, a bounded
/// number of steps per claim (an idle consumer polls again within a second
/// and goes on); in steady work, only once the free pages exceed a quarter
/// of the file and 8 MiB, down to that mark.
public struct SpaceReclaimPolicy: Sendable {
    /// Free pages below which a busy file is left alone.
    public var steadyThresholdPages = 2048
    /// Fraction of the file that may stay free while busy.
    public var steadyFraction = 0.25
    /// Check every this many deleting calls while busy.
    public var checkEvery = 64
    /// Reclaim steps per check while busy.
    public var stepsWhileBusy = 8
    /// Reclaim steps per claim that found the queue drained.
    public var stepsWhenDrained = 32

    /// The default policy.
    public init() {}

    /// How many free pages to keep, or nil to leave the file alone.
    public func keeping(_ pages: SQLiteDatabase.PageCounts, drained: Bool) -> Int? {
        if drained { return pages.free > 0 ? 0 : nil }
        let allowed = max(steadyThresholdPages, Int(Double(pages.total) * steadyFraction))
        return pages.free > allowed ? allowed : nil
    }
}
