import ArgumentParser
import Backends
import Core
import Foundation

/// Which damaged messages `damaged requeue|delete` act on: one by id, or
/// every one of a queue matching filters (the count is shown first; `--yes`
/// proceeds, a terminal is asked, anything else changes nothing).
struct DamagedTarget: ParsableArguments {
    @Argument(help: "The damaged message's id.")
    var id: Int64?

    @Option(help: "Every damaged message from this queue (with --all, or narrowed by --older-than and --error-contains).")
    var queue: String?

    @Option(help: ArgumentHelp("With --queue: only messages damaged longer ago than this (30m, 6h, 2d).", valueName: "duration"))
    var olderThan: DurationArgument?

    @Option(help: ArgumentHelp("With --queue: only messages whose error contains this text (case-insensitive).", valueName: "text"))
    var errorContains: String?

    @Flag(help: "With --queue and no other filter: every damaged message of the queue.")
    var all = false

    @Flag(help: "Proceed without asking once the count is shown.")
    var yes = false

    func validate() throws {
        let filtered = olderThan != nil || errorContains != nil
        if queue == nil && (filtered || all) { throw ValidationError("--older-than, --error-contains and --all go with --queue") }
        if queue != nil && id != nil { throw ValidationError("give either an id or --queue") }
        if queue != nil && !filtered && !all {
            throw ValidationError("--queue alone would take every damaged message of the queue: add --all, or narrow it down")
        }
        if let errorContains, errorContains.isEmpty { throw ValidationError("--error-contains needs a text") }
    }

    /// The bulk selection, when --queue was given.
    var selection: DamagedSelection? {
        queue.map { DamagedSelection(queue: $0, damagedBefore: olderThan.map { Date().addingTimeInterval(-$0.seconds) },
                                     errorContains: errorContains) }
    }

    /// Shows how many messages `selection` matches, asks (or takes --yes), then applies `act` to each;
    /// returns (matched, acted on).
    func bulk(_ selection: DamagedSelection, in stores: Storage, verb: String, act: (Int64) throws -> Bool) throws -> (Int, Int) {
        let ids = try selection.ids(in: stores.database)
        var filters: [String] = []
        if let olderThan { filters.append("damaged over \(Output.age(olderThan.seconds)) ago") }
        if let errorContains { filters.append("error containing '\(errorContains)'") }
        let matching = filters.isEmpty ? "" : " (\(filters.joined(separator: ", ")))"
        Output.note("\(ids.count) damaged message\(ids.count == 1 ? "" : "s") from queue \(selection.queue) match\(matching)")
        guard !ids.isEmpty else { return (0, 0) }
        guard yes || confirm("\(verb) \(ids.count)?") else {
            Output.note("nothing changed: add --yes to \(verb) them")
            return (ids.count, 0)
        }
        var done = 0
        for id in ids {
            if try act(id) { done += 1 }
        }
        return (ids.count, done)
    }

    private func confirm(_ question: String) -> Bool {
        guard isatty(STDIN_FILENO) != 0 else { return false }
        FileHandle.standardError.write(Data("\(question) [y/N] ".utf8))
        return ["y", "yes"].contains(readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? "")
    }
}
