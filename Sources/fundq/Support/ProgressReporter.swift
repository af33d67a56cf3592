import Foundation
import Synchronization

/// Progress of long work on stderr: on a terminal one line rewritten in
/// place (done/total, rate, ETA) at most five times a second; elsewhere (a
/// log file, a pipe) one plain line every 10 s. `FUNDQ_PROGRESS_INTERVAL`
/// (seconds) sets the interval; `0` writes one line per update.
final class ProgressReporter: Sendable {
    private struct State {
        var last: ContinuousClock.Instant?
        var wrote = false
        var done = 0
    }

    /// What is being done: "consume pending".
    let what: String
    /// How much there is to do, when known.
    let total: Int?
    /// What is counted, when not items ("bytes").
    let unit: String?
    private let onTerminal: Bool
    private let interval: Double
    private let start = ContinuousClock.now
    private let state = Mutex(State())

    init(_ what: String, total: Int?, unit: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.what = what
        self.total = total
        self.unit = unit
        onTerminal = isatty(STDERR_FILENO) == 1
        interval = environment["FUNDQ_PROGRESS_INTERVAL"].flatMap(Double.init) ?? (onTerminal ? 0.2 : 10)
    }

    /// Counts one more unit done (from any thread) and reports it like ``update(_:)``.
    func step() {
        update(state.withLock { state in
            state.done += 1
            return state.done
        })
    }

    /// Reports `done` units, if the interval has passed since the last report.
    func update(_ done: Int) {
        let now = ContinuousClock.now
        let text: String? = state.withLock { state in
            if let last = state.last, (now - last).seconds < interval { return nil }
            if state.last == nil, (now - start).seconds < interval { return nil }
            state.last = now
            state.wrote = true
            return Self.line(what, done: done, total: total, unit: unit, seconds: (now - start).seconds)
        }
        guard let text else { return }
        FileHandle.standardError.write(Data((onTerminal ? "\r\u{1B}[K" + text : text + "\n").utf8))
    }

    /// Clears the terminal's progress line (the summary follows).
    func finish() {
        if onTerminal, state.withLock({ $0.wrote }) { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// "consume pending: 1200/5000 (24%), 800/s, ETA 5s" (no total: "1200 done, 800/s");
    /// with a unit, "load f: 1200/5000 bytes (24%), 800 bytes/s, ETA 5s".
    static func line(_ what: String, done: Int, total: Int?, unit: String? = nil, seconds: Double) -> String {
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let rateText = String(format: "%.0f", rate) + (unit.map { " \($0)/s" } ?? "/s")
        let units = unit.map { " \($0)" } ?? ""
        guard let total, total > 0 else { return "\(what): \(done)\(units) done, \(rateText)" }
        let percent = min(100, done * 100 / total)
        let eta = rate > 0 && done < total ? ", ETA \(Output.age(Double(total - done) / rate))" : ""
        return "\(what): \(done)/\(total)\(units) (\(percent)%), \(rateText)\(eta)"
    }
}
