public import Foundation
import Metrics

/// The metrics fundq's own code emits, through swift-metrics (nothing is
/// recorded until a process bootstraps a metrics system, as `--metrics-listen`
/// does with the Prometheus exporter). Names are documented in the README.
public enum FundqMetrics {
    /// Messages pushed to `queue`.
    public static func pushed(_ count: Int, queue: String) {
        Counter(label: "fundq_queue_pushes_total", dimensions: [("queue", queue)]).increment(by: count)
    }

    /// One claim-handle-settle round of a consumer on `queue` that took `seconds`.
    public static func consumed(_ summary: PopSummary, queue: String, seconds: Double) {
        guard summary.claimed > 0 else { return }
        let dimensions = [("queue", queue)]
        Counter(label: "fundq_queue_pops_total", dimensions: dimensions).increment(by: summary.claimed)
        Counter(label: "fundq_queue_acks_total", dimensions: dimensions).increment(by: summary.acknowledged)
        Counter(label: "fundq_queue_damaged_total", dimensions: dimensions).increment(by: summary.damaged)
        Timer(label: "fundq_consume_batch_seconds", dimensions: dimensions).recordSeconds(seconds)
    }

    /// A rectifier decision.
    public static func decided(processor: String, action: String) {
        Counter(label: "fundq_rectifier_decisions_total", dimensions: [("processor", processor), ("action", action)]).increment()
    }

    /// Whether `processor`'s circuit breaker is open (the rectifier stopped asking it).
    public static func circuit(processor: String, open: Bool) {
        Gauge(label: "fundq_rectifier_circuit_open", dimensions: [("processor", processor)]).record(open ? 1 : 0)
    }

    /// Runs one call to a processor, recording its latency by processor, action and outcome (ok or error).
    public static func timedCall<T>(processor: String, action: String, _ call: () throws -> T) rethrows -> T {
        let start = ContinuousClock.now
        var outcome = "error"
        defer {
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            Timer(label: "fundq_processor_call_seconds", dimensions: [("processor", processor), ("action", action), ("outcome", outcome)])
                .recordSeconds(seconds)
        }
        let result = try call()
        outcome = "ok"
        return result
    }
}
