public import Backends
import Core
import Foundation
public import Logging
import Metrics
import Prometheus

/// The endpoints every long-running process serves with `--metrics-listen`:
/// its own metrics (swift-metrics, bootstrapped here with the Prometheus
/// exporter), the gauges sampled from the stores, health and readiness.
public enum ProcessEndpoints {
    /// Bootstraps the metrics system and serves `address` (`HOST:PORT`) until the process exits.
    /// Call once per process.
    public static func start(address: String, storage: StorageConfiguration, logger: Logger) throws -> OperationsServer {
        guard let (host, port) = OperationsServer.address(address) else {
            throw ConfigurationError("--metrics-listen \(address): expected HOST:PORT, such as 127.0.0.1:9101")
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let sampler = StoreSampler(registry: registry, storage: storage)
        return try OperationsServer(host: host, port: port, logger: logger, render: {
            sampler.sample()
            return registry.emitToBuffer()
        }, ready: { readiness(storage) })
    }

    /// Whether the queues' backend and the database answer, each on a new connection.
    public static func readiness(_ storage: StorageConfiguration) -> [(backend: String, problem: String?)] {
        let stores: Storage
        do {
            stores = try Storage(storage)
        } catch {
            return [("stores", "\(error)")]
        }
        var results: [(backend: String, problem: String?)] = []
        do {
            _ = try stores.queue.stats("fundq-ready-probe")
            results.append(("queues \(stores.queue.location)", nil))
        } catch {
            results.append(("queues \(stores.queue.location)", "\(error)"))
        }
        do {
            _ = try stores.database.query("SELECT 1", [])
            results.append(("database \(stores.database.location)", nil))
        } catch {
            results.append(("database \(stores.database.location)", "\(error)"))
        }
        return results
    }
}
