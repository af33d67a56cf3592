import Dispatch
import Foundation
import Synchronization

/// Set when SIGTERM or SIGINT arrives, so that a consumer finishes the
/// message in hand and exits cleanly instead of dying mid-handler. A second
/// signal within ``secondSignalWindow`` stops the process at once (exit
/// 130), as Sidekiq and Celery do: what was in hand stays leased or claimed
/// and is handed out again when its lease expires; nothing is lost.
final class StopSignal {
    private final class Flag: Sendable {
        let raised = Atomic<Bool>(false)
        /// When the first signal came (milliseconds since 1970), 0 before.
        let firstAt = Atomic<Int64>(0)
    }

    /// How soon a second signal must follow the first to stop at once.
    static let secondSignalWindow = 5.0

    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []

    /// Starts listening for SIGTERM and SIGINT; `finishing` says what the
    /// first signal lets the command finish ("the batch in hand").
    init(finishing: String = "the work in hand") {
        // One serial queue for both signals: the first is fully handled before the second is looked at.
        let queue = DispatchQueue(label: "fundq.stop-signal")
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [flag] in StopSignal.received(flag: flag, finishing: finishing) }
            source.resume()
            sources.append(source)
        }
    }

    private static func received(flag: Flag, finishing: String) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let first = flag.firstAt.load(ordering: .relaxed)
        if flag.raised.load(ordering: .relaxed), first > 0, Double(now - first) / 1000 <= secondSignalWindow {
            FileHandle.standardError.write(Data(("fundq: second signal: stopping now; what was in hand stays leased "
                + "and is handed out again when its lease expires (nothing is lost)\n").utf8))
            _exit(130)
        }
        flag.firstAt.store(now, ordering: .relaxed)
        flag.raised.store(true, ordering: .relaxed)
        FileHandle.standardError.write(Data(("fundq: stopping: finishing \(finishing) first "
            + "(send the signal again within \(Int(secondSignalWindow)) s to stop now)\n").utf8))
    }

    deinit {
        for source in sources { source.cancel() }
    }

    /// Whether a stop was requested.
    var isRaised: Bool { flag.raised.load(ordering: .relaxed) }

    /// A check of the same flag that other threads may call (keep this
    /// `StopSignal` alive meanwhile: it owns the signal sources).
    var check: @Sendable () -> Bool {
        let flag = self.flag
        return { flag.raised.load(ordering: .relaxed) }
    }
}
