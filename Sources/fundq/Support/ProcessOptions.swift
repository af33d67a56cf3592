import ArgumentParser
import Backends
import Core
import Logging
import Operations

/// Options of every long-running process: its heartbeat in the process
/// registry and its metrics, health and readiness endpoints.
struct ProcessOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve /metrics (Prometheus), /health and /ready on this address.", valueName: "host:port"))
    var metricsListen: String?

    @Option(help: "Seconds between this process's heartbeats in the registry `fundq status` reads (dead after 3 missed).")
    var heartbeatInterval: Double = 10

    func validate() throws {
        guard (0.1...600).contains(heartbeatInterval) else { throw ValidationError("--heartbeat-interval must be between 0.1 and 600") }
        if let metricsListen, OperationsServer.address(metricsListen) == nil {
            throw ValidationError("--metrics-listen \(metricsListen): expected HOST:PORT, such as 127.0.0.1:9101")
        }
    }

    /// Registers this process (when `registered`) and starts its endpoints (with --metrics-listen).
    func start(role: String, storage: StorageConfiguration, registered: Bool = true) throws -> ProcessPresence {
        let endpoints = try startEndpoints(storage: storage)
        do {
            return ProcessPresence(heartbeat: registered ? try heartbeat(role: role, storage: storage) : nil, endpoints: endpoints)
        } catch {
            endpoints?.stop()
            throw error
        }
    }

    /// Starts the endpoints when `--metrics-listen` asks for them (they serve until the process exits).
    func startEndpoints(storage: StorageConfiguration) throws -> OperationsServer? {
        guard let metricsListen else { return nil }
        let server = try ProcessEndpoints.start(address: metricsListen, storage: storage, logger: Logger(label: "fundq.metrics"))
        Output.note("fundq: metrics, health and readiness on http://\(server.host):\(server.port)/metrics, /health, /ready")
        return server
    }

    /// Registers this process as `role` in the stores `storage` names and starts its heartbeat.
    func heartbeat(role: String, storage: StorageConfiguration) throws -> Heartbeat {
        try Heartbeat(role: role, interval: heartbeatInterval, logger: Logger(label: "fundq.heartbeat")) {
            try Storage.openDatabase(storage)
        }
    }
}

/// A running process's heartbeat and endpoints, stopped together.
struct ProcessPresence {
    /// Its registry entry (nil when not registered).
    let heartbeat: Heartbeat?
    /// Its /metrics, /health and /ready server (nil without --metrics-listen).
    let endpoints: OperationsServer?

    /// Removes the registry entry and stops serving.
    func stop() {
        heartbeat?.stop()
        endpoints?.stop()
    }
}
