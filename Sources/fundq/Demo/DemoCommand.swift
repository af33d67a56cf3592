import ArgumentParser
import Consumers
import Core
import Foundation
import Logging
import Processors
import Rectifier
import Sandbox

/// `fundq demo`: the first thing to run. On the embedded default it starts
/// the processor sandbox in-process, plays a frontend taking a few hundred
/// donations across every processor, and runs the back office — pending
/// consumer, rectifier dry run, rectifier, donations sink — printing what
/// happened with counts that add up.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Play a frontend and run the whole back office against the sandbox, accounting for every donation.")

    @OptionGroup var storage: StorageOptions
    @OptionGroup var processors: ProcessorOptions

    @Option(help: "How many donors the frontend sees.")
    var donations = 300

    /// What happened to one donor at the frontend.
    enum Story: CaseIterable {
        case returned        // paid, came back: the frontend books it
        case approvedLeft    // approved at the processor, never came back: the rectifier collects
        case abandoned       // never approved: the rectifier resolves timeout
        case failing         // the processor refused: resolved failed
        case processorDown   // the processor answers 5xx: left for later
        case brokenForm      // the frontend sent garbage: damaged store
    }

    func story(_ i: Int) -> Story {
        switch i % 20 {
        case 0..<8: return .returned
        case 8..<12: return .approvedLeft
        case 12..<15: return .abandoned
        case 15..<17: return .failing
        case 17: return .processorDown
        default: return i % 20 == 18 ? .returned : .brokenForm
        }
    }

    func run() throws {
        let stores = try storage.open()
        let sandbox = Sandbox()
        try sandbox.start()
        defer { sandbox.stop() }
        var quiet = Logger(label: "fundq.demo")
        quiet.logLevel = .critical
        var environment = ProcessInfo.processInfo.environment.merging(sandbox.environment) { $1 }
        for type in Processors.all {  // the sandbox is not a real processor: no pacing, no second try of a 5xx
            let prefix = "FUNDQ_" + type.name.uppercased().replacingOccurrences(of: "-", with: "_")
            environment[prefix + "_RATE_LIMIT_PER_SECOND"] = "1000"
            environment[prefix + "_RETRY_ATTEMPTS"] = "1"
        }
        let adapters = try Processors.all.map { try Processors.make($0.name, directory: processors.directory, environment: environment) }
        let run = UUID().uuidString.prefix(6).lowercased()
        let producer = QueueProducer(queue: stores.queue, envelope: MessageEnvelope(sourceName: "fundq-demo-frontend", sourceType: "demo"))
        var tracking = try DemoTracking(stores: stores, configuration: storage.configuration)

        let where_ = stores.queue.location == stores.database.location
            ? stores.queue.location : "\(stores.queue.location) and \(stores.database.location)"
        Output.note("fundq demo: sandbox processors on \(sandbox.baseURL), stores on \(where_)")
        // 1. The frontend: every donor starts a payment (a pending message); some come back and pay.
        var tally: [Story: Int] = [:]
        let started = Int(Date().timeIntervalSince1970) - 3600  // an hour ago: old enough for the rectifier
        for i in 0..<donations {
            let story = story(i)
            tally[story, default: 0] += 1
            let processor = Processors.all[i % Processors.all.count]
            let order = "demo-\(run)-\(i)"
            let outcome: SandboxOutcome = [.returned: .complete, .approvedLeft: .pendingPoke, .abandoned: .abandoned,
                                           .failing: .failed, .processorDown: .serverError, .brokenForm: .complete][story]!
            try sandbox.script(processor.name, id: order, outcome: outcome, amount: "\(5 + i % 20).00", currency: "EUR")
            let trackingID = try tracking.donorArrives(i, at: started, gateway: processor.gateway, stillRetrying: story == .processorDown)
            if story == .brokenForm {
                try stores.queue.append([Array(#"{"gateway":"\#(processor.gateway)","order_id":"\#(order)","gross":"#.utf8)],
                                        to: PendingConsumer.queueName)
                continue
            }
            // The payment is named in the field its processor names payments by (order id, token, payment id).
            let named = processor.paymentIdentity.jsonMembers(order)
            try producer.push(#"{"gateway":"\#(processor.gateway)","order_id":"\#(order)","date":\#(started),"#
                                + #""gross":"\#(5 + i % 20).00","currency":"EUR","contribution_tracking_id":"\#(trackingID)","#
                                + #""email":"donor\#(i)@example.org"\#(named)}"#,
                              to: PendingConsumer.queueName)
            if story == .returned {
                let transaction = processor.paymentIdentity == .transactionID ? order : "FRONT-\(order)"
                try producer.push(#"{"gateway":"\#(processor.gateway)","gateway_txn_id":"\#(transaction)","order_id":"\#(order)","#
                                    + #""currency":"EUR","gross":"\#(5 + i % 20).00","#
                                    + #""completion_message_id":"\#(processor.gateway)-\#(order)"}"#,
                                  to: DonationsSink.queueName)
            }
        }
        Output.note("frontend: \(donations) donors: \(tally[.returned, default: 0]) paid and came back, "
            + "\(tally[.approvedLeft, default: 0]) approved but never came back, \(tally[.abandoned, default: 0]) abandoned, "
            + "\(tally[.failing, default: 0]) refused, \(tally[.processorDown, default: 0]) hit a processor outage, "
            + "\(tally[.brokenForm, default: 0]) sent a broken form")

        // 2. The pending consumer fills the pending database.
        let consumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged, policy: ConsumerPolicy(acknowledgement: .withNextClaim),
                                     logger: quiet)
        let pendingRun = try ConsumerRunner(consumer: consumer, queueName: PendingConsumer.queueName, limits: RunLimits(batchSize: 100),
                                            logger: quiet)
            .run(handler: PendingConsumer(connection: stores.database).handle)
        Output.note(pendingRun.line(for: "pending consumer"))

        // 3. The donations sink books the donors who came back (their pending rows resolve).
        var sink = DonationsSink(connection: stores.database)
        sink.tracking = TrackingLink(queue: stores.queue)
        var sinkRun = try ConsumerRunner(consumer: consumer, queueName: DonationsSink.queueName, limits: RunLimits(batchSize: 100),
                                         logger: quiet)
            .run(handler: sink.handle)
        Output.note(sinkRun.line(for: "donations sink"))

        // 4. The rectifier's dry run, then the run.
        let dry = try Rectifier(storage: stores, processors: adapters, logger: quiet).run(RectifierOptions(dryRun: true))
        let wouldDo = Dictionary(grouping: dry.decisions, by: \.action).mapValues(\.count)
        Output.note("rectifier dry run: \(dry.decisions.count) orphans; would " + wouldDo.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ") + "; \(sandbox.captures.count) captures so far")
        let report = try Rectifier(storage: stores, processors: adapters, logger: quiet).run(RectifierOptions())
        let t = report.total
        Output.note("rectifier: \(t.examined) orphans: \(t.completed) completed (\(t.captured) collected by the rectifier), "
            + "\(t.failed) failed or abandoned, \(t.left) left for a later attempt, \(t.needsReview) for review")

        // 5. The sink books what the rectifier completed.
        let secondSink = try ConsumerRunner(consumer: consumer, queueName: DonationsSink.queueName, limits: RunLimits(batchSize: 100),
                                            logger: quiet)
            .run(handler: sink.handle)
        sinkRun.pops.add(secondSink.pops)
        _ = try ConsumerRunner(consumer: consumer, queueName: "recurring", limits: RunLimits(batchSize: 100), logger: quiet)
            .run { $0.map { _ in .handled("signup") } }

        // 6. Accounting.
        let booked = try stores.database.query("SELECT COUNT(*) FROM donations WHERE order_id LIKE ?", [.text("demo-\(run)-%")])
            .first?.first?.int64 ?? 0
        let rows = try PendingStore(connection: stores.database).list(includeResolved: true, limit: 100_000)
            .filter { $0.orderID?.hasPrefix("demo-\(run)-") == true }
        let resolvedBad = rows.filter { [.failed, .timeout, .cancelled].contains($0.resolution) }.count
        let ours = Set(rows.map(\.id))
        let review = try PendingStore(connection: stores.database).needingReview(limit: 100_000)
            .filter { ours.contains($0.record.id) }.count
        let open = rows.filter { $0.resolution == nil }.count - review
        let signups = rows.filter { $0.resolution == .completed && $0.message["subscr_id"] != nil }.count
        let damaged = pendingRun.pops.damaged
        let sum = Int(booked) + signups + resolvedBad + open + review + damaged
        Output.note(DemoCommand.accounting(booked: Int(booked), signups: signups, resolvedBad: resolvedBad, open: open, review: review,
                                           damaged: damaged, donors: donations))
        Output.note("captures at the processors: \(sandbox.captures.count), "
            + "each payment at most once: \(Set(sandbox.captures.map(\.id)).count == sandbox.captures.count)")
        let tracked = try tracking.settle(stores: stores, booked: Int(booked), logger: quiet)
        Output.note("look closer: fundq rectify log, fundq pending list --all, fundq damaged list, fundq tracking list")
        if sum != donations || review > 0 || !tracked { throw ExitCode(1) }
    }

    /// The closing line: every count, rows sent to a person separately; "every
    /// donor accounted for" only when the counts add up and none waits for review.
    static func accounting(booked: Int, signups: Int, resolvedBad: Int, open: Int, review: Int, damaged: Int, donors: Int) -> String {
        let sum = booked + signups + resolvedBad + open + review + damaged
        let verdict = sum != donors ? "NOT BALANCED"
            : review > 0 ? "\(review) not accounted for until a person reviews them (fundq pending list --needs-review)"
            : "every donor accounted for"
        return "back office: \(booked) donations booked + \(signups) recurring signups + \(resolvedBad) resolved failed/abandoned + "
            + "\(open) still open + \(review) sent to review + \(damaged) in the damaged store = \(sum) of \(donors) donors: \(verdict)"
    }
}
