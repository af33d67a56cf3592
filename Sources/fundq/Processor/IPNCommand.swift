import ArgumentParser
import Backends
import Core
import CurlHTTP
import Foundation
import Logging
import Operations
import Processors

/// `fundq ipn`: receives PayPal's Instant Payment Notifications.
struct IPNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipn",
        abstract: "Receive PayPal IPNs on 127.0.0.1 (behind the TLS proxy), verify each with PayPal and push it to recurring, "
            + "donations or refund.",
        discussion: """
            Answers 200 once a notification is safe (pushed, or kept in the damaged store when its txn_type is unknown), \
            403 when it cannot be verified (PayPal resends) and 500 when it cannot be stored (PayPal resends). \
            Served by Hummingbird (keep-alive, Content-Length or chunked bodies, one access-log line per request). \
            Bounded: at most --max-connections at once (further ones wait to be accepted), --max-header-bytes, \
            --max-body-bytes (413), --request-timeout from a request's head to its last body byte (408), \
            --idle-timeout waiting for a request's head (closed). \
            The verification endpoint is settings.ipn_verify_endpoint of processors/paypal-recurring.yaml. Runs until SIGTERM/SIGINT.
            """)

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
    }

    var limits: IPNServerLimits {
        IPNServerLimits(maximumConnections: maxConnections, maximumHeaderBytes: maxHeaderBytes, maximumBodyBytes: maxBodyBytes,
                         requestTimeout: requestTimeout?.duration ?? .seconds(10), idleTimeout: idleTimeout?.duration ?? .seconds(15))
    }

    func run() throws {
        let stop = StopSignal()
        let config = try ProcessorConfiguration.load(name: PayPalRecurring.name, directory: processors.directory)
        guard let verifyEndpoint = config.settings["ipn_verify_endpoint"] else {
            throw ConfigurationError("\(config.source): settings.ipn_verify_endpoint is required for fundq ipn")
        }
        try HTTPClient.check(verifyEndpoint)
        // Optional: notifications for any other PayPal account are kept aside, not booked.
        let receiverEmail = config.settings["receiver_email"]
        let storageConfiguration = storage.configuration
        _ = try Storage(storageConfiguration)  // fail now, not at the first notification
        let http = config.httpConfiguration
        // Registered before listening: once connections can arrive they may
        // take every descriptor, and registering needs one (the store).
        let presence = try process.start(role: "ipn", storage: storageConfiguration)
        defer { presence.stop() }
        let server = try IPNServer(host: "127.0.0.1", port: port, limits: limits, logger: Logger(label: "fundq.ipn")) { body in
            let logger = Logger(label: "fundq.ipn")
            guard let client = try? HTTPClient(configuration: http) else { return IPNAnswer(status: 500, body: "no HTTP client\n") }
            let (reply, outcome) = PayPalIPN.handle(body, verifyEndpoint: verifyEndpoint, receiverEmail: receiverEmail, client: client,
                                                    push: { queue, message in
                let stores = try Storage(storageConfiguration)
                let envelope = MessageEnvelope(sourceName: "fundq-ipn", sourceType: "listener")
                try QueueProducer(queue: stores.queue, envelope: envelope).push(message, to: queue)
            }, keep: { body, reason in
                let stores = try Storage(storageConfiguration)
                let pid = ProcessInfo.processInfo.processIdentifier
                _ = try stores.damaged.insert(DamagedMessage(originalDate: Date(), damagedDate: Date(), retryDate: nil,
                                                             originalQueue: "ipn", gateway: "paypal", orderID: nil,
                                                             gatewayTxnID: nil, error: reason, trace: "fundq ipn pid \(pid)",
                                                             message: body))
            })
            switch outcome {
            case .pushed(let queue): logger.info("IPN pushed", metadata: ["queue": "\(queue)"])
            case .keptAsDamaged: logger.warning("IPN of unknown type kept in the damaged store (queue ipn)")
            case .invalid: logger.warning("IPN answered INVALID by PayPal: not a genuine notification; answered 403")
            case .unverified(let why): logger.error("IPN not verified, answered 403 so PayPal resends: \(why)")
            case .malformed: logger.warning("IPN body is not a form; answered 400")
            case .storeFailed(let why): logger.error("IPN verified but not stored, answered 500 so PayPal resends: \(why)")
            }
            return IPNAnswer(status: reply.status, body: reply.text)
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
}
