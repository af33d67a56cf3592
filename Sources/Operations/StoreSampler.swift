public import Backends
import Core
import Foundation
public import Prometheus
import Synchronization

/// The gauges read from the stores when `/metrics` is scraped: queue depth
/// and oldest age, damaged messages, open pending rows, every registered
/// process's heartbeat age. Label sets that disappear (a drained queue, a
/// pruned process) are unregistered, so a scrape shows only what exists.
public final class StoreSampler: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let storage: StorageConfiguration
    private let shown = Mutex<[Gauge]>([])

    /// A sampler of the stores `storage` names into `registry`.
    public init(registry: PrometheusCollectorRegistry, storage: StorageConfiguration) {
        self.registry = registry
        self.storage = storage
    }

    /// Reads the stores (on a connection of its own) and sets the gauges;
    /// `fundq_store_sample_up` says whether that worked.
    public func sample() {
        var values: [(String, [(String, String)], Double)] = []
        let up: Double
        do {
            let report = try StatusReport.gather(try Storage(storage))
            values = Self.values(report)
            up = 1
        } catch {
            up = 0
        }
        let gauges = values.map { name, labels, value in
            let gauge = registry.makeGauge(descriptor: Self.descriptor(name), labels: labels)
            gauge.set(to: value)
            return gauge
        }
        registry.makeGauge(descriptor: Self.descriptor("fundq_store_sample_up")).set(to: up)
        guard up == 1 else { return }
        let kept = Set(gauges.map(ObjectIdentifier.init))
        let gone = shown.withLock { previous in
            defer { previous = gauges }
            return previous.filter { !kept.contains(ObjectIdentifier($0)) }
        }
        for gauge in gone { registry.unregisterGauge(gauge) }
    }

    static let help: [String: String] = [
        "fundq_queue_waiting": "Messages waiting in the queue.",
        "fundq_queue_in_flight": "Messages handed out and not yet acknowledged.",
        "fundq_queue_oldest_age_seconds": "Age of the queue's oldest message (0 when empty).",
        "fundq_damaged_messages": "Messages of the queue in the damaged store.",
        "fundq_pending_open": "Unresolved pending rows.",
        "fundq_pending_due": "Unresolved pending rows the rectifier may take now.",
        "fundq_pending_needs_review": "Pending rows waiting for a person.",
        "fundq_pending_oldest_open_age_seconds": "Age of the oldest unresolved pending row.",
        "fundq_process_heartbeat_age_seconds": "Seconds since the registered process's last heartbeat.",
        "fundq_store_sample_up": "1 when this scrape could read the stores, else 0.",
    ]

    static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }

    static func values(_ r: StatusReport) -> [(String, [(String, String)], Double)] {
        var v: [(String, [(String, String)], Double)] = []
        for q in r.queues {
            let labels = [("queue", q.queue)]
            v.append(("fundq_queue_waiting", labels, Double(q.waiting)))
            v.append(("fundq_queue_in_flight", labels, Double(q.inFlight)))
            v.append(("fundq_queue_oldest_age_seconds", labels, q.oldestAge ?? 0))
            v.append(("fundq_damaged_messages", labels, Double(q.damaged)))
        }
        for p in r.pending {
            let labels = [("gateway", p.gateway)]
            v.append(("fundq_pending_open", labels, Double(p.open)))
            v.append(("fundq_pending_due", labels, Double(p.dueNow)))
            v.append(("fundq_pending_needs_review", labels, Double(p.needsReview)))
            v.append(("fundq_pending_oldest_open_age_seconds", labels, p.oldestOpen.map { r.time.timeIntervalSince($0) } ?? 0))
        }
        for p in r.processes {
            v.append(("fundq_process_heartbeat_age_seconds", [("role", p.role), ("host", p.host), ("pid", String(p.pid))],
                      p.heartbeatAge(at: r.time)))
        }
        return v
    }
}
