import Dispatch
import Foundation
import Synchronization

/// Set when SIGTERM or SIGINT arrives, so that a consumer finishes the
/// message in hand and exits cleanly instead of dying mid-handler.
final class StopSignal {
    private final class Flag: Sendable {
        let raised = Atomic<Bool>(false)
    }

    private let flag = Flag()
    private var sources: [any DispatchSourceSignal] = []

    /// Starts listening for SIGTERM and SIGINT.
    init() {
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [flag] in flag.raised.store(true, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
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
