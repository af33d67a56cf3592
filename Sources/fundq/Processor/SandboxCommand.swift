import ArgumentParser
import Foundation
import Sandbox

/// `fundq sandbox`: the processor simulators on a loopback port.
struct SandboxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Serve simulators of every registered processor's wire API on 127.0.0.1 until SIGTERM/SIGINT.",
        discussion: """
            Simulated processors: \(Simulators.all.map { $0.name }.joined(separator: ", ")). Script outcomes with POST /_sandbox/orders \
            {"processor":"NAME","id":"PAYMENT-ID","outcome":"pending-poke","amount":"10.00","currency":"EUR"} (the id in the field \
            the processor names payments by; an unknown processor or an outcome its simulator does not play is answered 400); \
            outcomes: \(SandboxOutcome.allCases.map(\.rawValue).joined(separator: ", ")). GET /_sandbox/captures lists every capture.
            """)

    @Option(help: "Port (0 picks a free one).")
    var port = 0

    func run() throws {
        let stop = StopSignal()
        let sandbox = Sandbox()
        try sandbox.start(port: port)
        Output.note("sandbox on \(sandbox.baseURL); point fundq at it with:")
        for (key, value) in sandbox.environment.sorted(by: { $0.key < $1.key }) {
            try Output.line("export \(key)=\(value)")
        }
        while !stop.isRaised { Thread.sleep(forTimeInterval: 0.1) }
        sandbox.stop()
    }
}
