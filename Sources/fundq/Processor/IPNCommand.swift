import ArgumentParser
import Backends
import Core
import CurlHTTP
import Foundation
import Logging
import Operations
import Processors

/// `fundq ipn`: receives a processor's notifications: the processor's
/// ``NotificationHandler`` verifies each and says where it goes.
struct IPNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipn",
        abstract: "Receive a processor's notifications (IPNs, webhooks) on 127.0.0.1 (behind the TLS proxy), verify each with the "
            + "processor and push it to its queue (recurring, donations or refund).",
        discussion: """
            Serves the processor named by --processor, by default the one registered processor that declares \
            notifications (fundq processor list). \
            Answers 200 once a notification is safe (pushed, or kept in the damaged store when it cannot be booked), \
            403 when it cannot be verified (the processor resends) and 500 when it cannot be stored (the processor resends). \
            Served by Hummingbird (keep-alive, Content-Length or chunked bodies, one access-log line per request). \
            Bounded: at most --max-connections at once (further ones wait to be accepted), --max-header-bytes, \
            --max-body-bytes (413), --request-timeout from a request's head to its last body byte (408), \
            --idle-timeout waiting for a request's head (closed). \
            Its settings are the processor's, in processors/NAME.yaml (docs/processors/NAME.md names them). \
            Runs until SIGTERM/SIGINT.
            """)

    @Option(help: ArgumentHelp("The processor whose notifications to receive (default: the only one that declares them).",
                               valueName: "name"))
    var processor: String?

    @OptionGroup var storage: StorageOptions
    @OptionGroup var processors: ProcessorOptions

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8089

    @Option(help: "Connections served at once; further ones wait (in the listen backlog) until one closes.")
    var maxConnections = 128

    @Option(help: "Largest request line plus header fields in bytes; larger requests are refused and closed.")
    var maxHeaderBytes = 16_384

    @Option(help: "Largest notification body in bytes; a larger Content-Length is answered 413 without reading the body.")
    var maxBodyBytes = 262_144

    @Option(help: ArgumentHelp("Longest time from a request's head to its last body byte (default 10s); slower requests are answered 408.",
                               valueName: "duration"))
    var requestTimeout: DurationArgument?

    @Option(help: ArgumentHelp("Longest wait for a request's head (the first, or the next kept-alive one) before closing (default 15s).",
                               valueName: "duration"))
    var idleTimeout: DurationArgument?

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard (1...100_000).contains(maxConnections) else { throw ValidationError("--max-connections must be between 1 and 100000") }
        guard (1_024...1_048_576).contains(maxHeaderBytes) else {
            throw ValidationError("--max-header-bytes must be between 1024 and 1048576")
        }
        guard (1_024...67_108_864).contains(maxBodyBytes) else {
            throw ValidationError("--max-body-bytes must be between 1024 and 67108864")
        }
        guard (requestTimeout?.seconds ?? 10) >= 0.1, (idleTimeout?.seconds ?? 15) >= 0.1 else {
            throw ValidationError("--request-timeout and --idle-timeout must be at least 0.1s")
        }
        do {  // last: the limits are checked whatever the registry holds
            _ = try Processors.notifying(named: processor)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    var limits: HTTPServerLimits {
        HTTPServerLimits(maximumConnections: maxConnections, maximumHeaderBytes: maxHeaderBytes, maximumBodyBytes: maxBodyBytes,
                         requestTimeout: requestTimeout?.duration ?? .seconds(10), idleTimeout: idleTimeout?.duration ?? .seconds(15))
    }

    func run() throws {
        let stop = StopSignal()
        let type = try Processors.notifying(named: processor)
        let handler = try type.notificationHandler(configuration: try ProcessorConfiguration.load(name: type.name,
                                                                                                 directory: processors.directory))
        let storageConfiguration = storage.configuration
        _ = try Storage(storageConfiguration)  // fail now, not at the first notification
        // Registered before listening: once connections can arrive they may
        // take every descriptor, and registering needs one (the store).
        let presence = try process.start(role: "ipn", storage: storageConfiguration)
        defer { presence.stop() }
        let server = try NotificationServer(host: "127.0.0.1", port: port, limits: limits, logger: Logger(label: "fundq.ipn")) {
            Self.receive($0, with: handler, storage: storageConfiguration)
        }
        Output.note("fundq ipn listening on http://127.0.0.1:\(server.port)/")
        presence.heartbeat?.doing("listening on 127.0.0.1:\(server.port)")
        var files = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < rlim_t(maxConnections + 32) {
            Logger(label: "fundq.ipn").warning("""
                ulimit -n is \(files.rlim_cur), below --max-connections \(maxConnections) plus 32: \
                accepting will pause when descriptors run out
                """)
        }
        while !stop.isRaised { Thread.sleep(forTimeInterval: 0.1) }
        server.stop()
    }

    /// Hands one notification to `handler` with the configured stores, and logs what became of it.
    static func receive(_ notification: InboundNotification, with handler: any NotificationHandler,
                        storage: StorageConfiguration) -> NotificationReply {
        let store = NotificationStore(push: { queue, message in
            let stores = try Storage(storage)
            let envelope = MessageEnvelope(sourceName: "fundq-ipn", sourceType: "listener")
            try QueueProducer(queue: stores.queue, envelope: envelope).push(message, to: queue)
        }, keep: { body, reason in
            let stores = try Storage(storage)
            let pid = ProcessInfo.processInfo.processIdentifier
            _ = try stores.damaged.insert(DamagedMessage(originalDate: Date(), damagedDate: Date(), retryDate: nil,
                                                         originalQueue: handler.damagedQueue, gateway: handler.damagedGateway,
                                                         orderID: nil, gatewayTxnID: nil, error: reason,
                                                         trace: "fundq ipn pid \(pid)", message: body))
        })
        let reply = handler.handle(notification, store: store)
        let logger = Logger(label: "fundq.ipn")
        switch reply.outcome {
        case .pushed(let queue): logger.info("\(reply.logLine)", metadata: ["queue": "\(queue)"])
        case .keptAsDamaged, .invalid, .malformed: logger.warning("\(reply.logLine)")
        case .unverified, .storeFailed: logger.error("\(reply.logLine)")
        }
        return reply
    }
}
