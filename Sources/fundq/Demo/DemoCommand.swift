import ArgumentParser
import Core
import Foundation
import Logging

/// `fundq demo`: the first thing to run. On the embedded default it plays a
/// frontend pushing donations (a few malformed), consumes them with
/// popAtomic, and shows that every message is accounted for.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Push and consume a few hundred donations on the configured stores and account for every one.")

    @OptionGroup var storage: StorageOptions

    @Option(help: "How many donations the frontend submits.")
    var donations = 300

    /// Refuses a donation the back office could not book.
    struct InvalidDonation: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    func run() throws {
        let stores = try storage.open()
        let queueName = "demo-donations"
        try stores.queue.removeAll(queueName)
        let producer = QueueProducer(queue: stores.queue, envelope: MessageEnvelope(sourceName: "fundq-demo", sourceType: "demo"))
        var logger = Logger(label: "fundq.demo")
        logger.logLevel = .error
        let consumer = QueueConsumer(queue: stores.queue, damaged: stores.damaged, logger: logger)
        let damagedBefore = try stores.damaged.count(queue: queueName)

        Output.note("fundq demo on \(stores.queue.location)")
        var pushed = 0
        var refused: [String] = []
        for i in 0..<donations {
            let body: String
            switch i % 50 {
            case 7: body = "{\"gateway\": \"paypal\", \"gross\": 5,"  // truncated by a broken client
            case 19: body = "[\"not\", \"an\", \"object\"]"
            case 33: body = #"{"gateway":"paypal","gateway_txn_id":"T\#(i)","currency":"USD","gross":"0"}"#  // books nothing
            default:
                let gateway = ["globalcollect", "paypal", "paypal-recurring"][i % 3]
                body = #"{"gateway":"\#(gateway)","gateway_txn_id":"T\#(i)","order_id":"\#(10_000 + i)","currency":"EUR","gross":"\#(5 + i % 20).00","date":\#(Int(Date().timeIntervalSince1970))}"#
            }
            do {
                try producer.push(body, to: queueName)
                pushed += 1
            } catch let error as MessageError {
                refused.append(error.description)
            }
        }
        Output.note("frontend: \(donations) submitted, \(pushed) pushed, \(refused.count) refused at push")
        if let first = refused.first { Output.note("  e.g. \(first)") }

        var books = 0
        var total = PopSummary()
        while true {
            let summary = try consumer.popAtomic(from: queueName, maximum: 50) { message in
                let m = try message.members()
                guard let gross = m["gross"]?.scalarText.flatMap({ Decimal(string: $0) }), gross > 0 else {
                    throw InvalidDonation(reason: "gross must be greater than 0 (got \(m["gross"]?.scalarText ?? "nothing"))")
                }
                books += 1
            }
            if summary.claimed == 0 { break }
            total.add(summary)
        }
        let damagedNow = try stores.damaged.count(queue: queueName) - damagedBefore
        Output.note("consumer: \(total.claimed) popped, \(total.acknowledged) booked, \(total.damaged) moved to the damaged store")
        let remaining = try stores.queue.stats(queueName)
        let balanced = donations == refused.count + books + damagedNow && remaining.waiting + remaining.inFlight == 0
        Output.note("accounting: \(donations) submitted = \(refused.count) refused + \(books) booked + \(damagedNow) damaged; \(remaining.waiting + remaining.inFlight) left in the queue: \(balanced ? "balanced" : "NOT BALANCED")")
        Output.note("see them with: fundq damaged list --queue \(queueName)")
        if !balanced { throw ExitCode(1) }
    }
}
