import ArgumentParser
import Backends
import Core
import Foundation
import Logging
import Operations

/// `fundq web`: the operator's console.
struct WebCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web",
        abstract: "Serve the operator's console: status, damaged messages, pending rows needing review, the audit log; audited actions.",
        discussion: """
            Sign in with the console token (FUNDQ_WEB_TOKEN, or FUNDQ_WEB_TOKEN_FILE, or the secrets file; at least 16 \
            characters) and your name. Every action (requeue or delete damaged messages, one or all matching a filter; \
            resolve a pending row) needs a reason and is recorded in the audit log as web:NAME. Forms carry a CSRF token; \
            requests from another origin are refused. Listens on loopback only unless --allow-remote. Runs until SIGTERM/SIGINT.
            """)

    @OptionGroup var storage: StorageOptions

    @Option(help: ArgumentHelp("Address to serve.", valueName: "host:port"))
    var listen = "127.0.0.1:8090"

    @Flag(help: "Allow a non-loopback --listen address (put TLS in front of it).")
    var allowRemote = false

    func validate() throws {
        guard let (host, _) = OperationsServer.address(listen) else { throw ValidationError("--listen \(listen): expected HOST:PORT") }
        if !allowRemote && !WebConsole.isLoopback(host) {
            throw ValidationError("--listen \(listen) is not a loopback address: the console refuses it without --allow-remote")
        }
    }

    func run() throws {
        let stop = StopSignal()
        let configuration = storage.configuration
        guard let token = try configuration.secrets.value("FUNDQ_WEB_TOKEN"), token.count >= 16 else {
            throw ConfigurationError(
                "the console needs FUNDQ_WEB_TOKEN (or FUNDQ_WEB_TOKEN_FILE, or the secrets file), at least 16 characters")
        }
        _ = try Storage(configuration)  // fail now on a wrong store, not at the first page
        guard let (host, port) = OperationsServer.address(listen) else { return }
        let console = try WebConsole(host: host, port: port, token: token, storage: configuration, logger: Logger(label: "fundq.web"))
        Output.note("fundq web: console on http://\(host):\(console.port)/")
        while !stop.isRaised { Thread.sleep(forTimeInterval: 0.1) }
        console.stop()
    }
}
