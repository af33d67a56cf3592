import Core
import Foundation
import Rectifier

/// What the damaged page was asked to show.
struct DamagedFilter {
    var queue = ""
    var errorContains = ""
    var olderThan = ""

    init(_ fields: [String: String]) {
        queue = fields["queue"] ?? ""
        errorContains = fields["error"] ?? ""
        olderThan = fields["older_than"] ?? ""
    }

    /// The bulk selection (nil without a queue, or with an age that is not a duration).
    var selection: DamagedSelection? {
        guard !queue.isEmpty else { return nil }
        var age: Double? = nil
        if !olderThan.isEmpty {
            guard let seconds = DurationText.seconds(olderThan) else { return nil }
            age = seconds
        }
        return DamagedSelection(queue: queue, damagedBefore: age.map { Date().addingTimeInterval(-$0) },
                                errorContains: errorContains.isEmpty ? nil : errorContains)
    }

    var fields: [String: String] { ["queue": queue, "error": errorContains, "older_than": olderThan] }
}

extension WebPages {
    static func damaged(_ records: [DamagedMessage], filter: DamagedFilter, matched: Int?, csrf: String, notice: String?) -> String {
        let form = """
            <form method="get" action="/damaged">Queue <input type="text" name="queue" value="\(E.escape(filter.queue))">
            Error contains <input type="text" name="error" value="\(E.escape(filter.errorContains))">
            Damaged longer ago than <input type="text" name="older_than" size="6" value="\(E.escape(filter.olderThan))" placeholder="6h">
            <button type="submit">Filter</button></form>
            """
        var bulk = "<p>Choose a queue to act on every message matching the filter.</p>"
        if let matched {
            bulk = """
                <form method="post" action="/damaged/bulk" id="bulk"><p id="matched">\(matched) damaged message\(matched == 1 ? "" : "s") \
                from queue \(E.escape(filter.queue)) match this filter.</p>\(hidden(filter.fields.merging(["csrf": csrf]) { a, _ in a }))
                <p>\(reasonField()) <button type="submit" name="action" value="requeue" id="requeue-all">Requeue all \(matched)</button>
                <button type="submit" name="action" value="delete" id="delete-all">Delete all \(matched)</button></p></form>
                """
        }
        let rows = records.map { r in
            ["<a href=\"/damaged/\(r.id)\">\(r.id)</a>", E.escape(r.originalQueue), E.escape(r.damagedDate.formatted(.iso8601)),
             E.escape([r.gateway, r.orderID].compactMap { $0 }.joined(separator: "/")),
             E.escape(String(PersonalData.maskedText(r.error, showPersonalData: false).prefix(160)))]
        }
        return layout("Damaged messages", form + bulk + table(["ID", "Queue", "Damaged", "Order", "Error"], rows, id: "damaged"),
                      notice: notice)
    }

    static func damagedMessage(_ r: DamagedMessage, csrf: String) -> String {
        let body = PersonalData.maskedBody(r.message, showPersonalData: false)
        let text: String
        if case .string(let s) = body { text = s } else { text = body.serialized() }
        let action = { (verb: String) in
            "<form class=\"inline\" method=\"post\" action=\"/damaged/\(r.id)/\(verb)\">\(hidden(["csrf": csrf]))\(reasonField()) "
                + "<button type=\"submit\">\(verb.capitalized)</button></form>"
        }
        return layout("Damaged message \(r.id)", table(["Field", "Value"], [
            ["Queue", E.escape(r.originalQueue)], ["Damaged", E.escape(r.damagedDate.formatted(.iso8601))],
            ["Retry", E.escape(r.retryDate.map { $0.formatted(.iso8601) } ?? "-")],
            ["Order", E.escape([r.gateway, r.orderID].compactMap { $0 }.joined(separator: "/"))],
            ["Error", E.escape(PersonalData.maskedText(r.error, showPersonalData: false))],
        ]) + "<h2>Message (personal data masked)</h2><pre>\(E.escape(text))</pre><p>\(action("requeue"))</p><p>\(action("delete"))</p>")
    }

    static func audit(_ entries: [AuditEntry]) -> String {
        layout("Audit log", table(["Time", "Actor", "Action", "Target", "Reason", "Detail"], entries.map { e in
            [E.escape(e.at.formatted(.iso8601)), E.escape(e.actor), E.escape(e.action), E.escape(e.target), E.escape(e.reason),
             E.escape(e.detail ?? "-")]
        }, id: "audit"))
    }

    static func pending(review: [(record: PendingRecord, reason: String)], counts: [PendingCounts], notice: String?) -> String {
        let now = Date()
        let summary = table(["Gateway", "Open", "Due now", "Needs review", "Oldest open"], counts.map { p in
            [E.escape(p.gateway), "\(p.open)", "\(p.dueNow)", "\(p.needsReview)", age(p.oldestOpen.map { now.timeIntervalSince($0) })]
        })
        let rows = review.map { item in
            let r = item.record
            return ["<a href=\"/pending/\(r.id)\">\(r.id)</a>", E.escape(r.gateway), E.escape(r.orderID ?? "-"),
                    age(now.timeIntervalSince(r.date)), "\(r.attempts)", E.escape(item.reason)]
        }
        return layout("Pending", summary + "<h2>Needs review</h2>"
                      + table(["ID", "Gateway", "Order", "Age", "Attempts", "Why"], rows, id: "review"), notice: notice)
    }

    static func pendingRow(_ r: PendingRecord, decisions: [RectifierDecision], csrf: String) -> String {
        let message = JSONValue.object(PersonalData.masked(r.message, showPersonalData: false)).serialized()
        let choices = PendingResolution.allCases.map { "<option>\($0.rawValue)</option>" }.joined()
        let resolve = r.resolution != nil ? "<p>Resolved as \(E.escape(r.resolution?.rawValue ?? "")).</p>" : """
            <form method="post" action="/pending/\(r.id)/resolve">\(hidden(["csrf": csrf]))Resolve as <select name="as">\(choices)</select>
            \(reasonField()) <button type="submit">Resolve</button></form>
            """
        let log = table(["Time", "Run", "Status", "Evidence", "Action", "Result"], decisions.map { d in
            [E.escape(d.time.formatted(.iso8601)), E.escape(d.runID), E.escape(d.status), E.escape(d.evidence),
             E.escape(d.action.rawValue), E.escape(d.result)]
        }, id: "decisions")
        return layout("Pending \(r.gateway)/\(r.orderID ?? "-")",
                      resolve + "<h2>Message (personal data masked)</h2><pre>\(E.escape(message))</pre>"
                          + "<h2>The rectifier's decisions</h2>" + log)
    }
}
