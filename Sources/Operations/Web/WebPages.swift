import Core
import Foundation
import Rectifier

/// The console's HTML: plain server-rendered pages, every value escaped,
/// personal data masked. Forms that change something carry the session's
/// CSRF token and require a reason.
enum WebPages {
    typealias E = WebText

    static func layout(_ title: String, _ body: String, notice: String? = nil) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>fundq · \(E.escape(title))</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}header{background:#234;color:#fff;padding:8px 16px}
        header a{color:#fff;margin-right:16px;text-decoration:none}main{padding:12px 16px}
        table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
        th{background:#eef}.dead{color:#b00;font-weight:bold}.notice{background:#efe;border:1px solid #8c8;padding:6px}
        .bar{background:#58a;height:12px;display:inline-block}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap;max-width:100em}
        form.inline{display:inline}input[type=text]{width:22em}
        </style></head><body><header><b>fundq</b> &nbsp; <a href="/">Status</a><a href="/damaged">Damaged</a>
        <a href="/pending">Pending</a><a href="/audit">Audit</a></header><main>
        \(notice.map { "<p class=\"notice\" id=\"notice\">\(E.escape($0))</p>" } ?? "")
        <h1>\(E.escape(title))</h1>\(body)</main></body></html>
        """
    }

    static func table(_ header: [String], _ rows: [[String]], id: String = "") -> String {
        let head = header.map { "<th>\(E.escape($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined()
        return "<table\(id.isEmpty ? "" : " id=\"\(id)\"")><tr>\(head)</tr>\(body)</table>"
    }

    static func age(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        let s = Int(seconds)
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    static func signIn(failed: Bool) -> String {
        layout("Sign in", """
            \(failed ? "<p class=\"dead\">That token is not the console's token.</p>" : "")
            <form method="post" action="/login"><p><label>Your name <input type="text" name="actor" required></label></p>
            <p><label>Console token (FUNDQ_WEB_TOKEN) <input type="password" name="token" required></label></p>
            <p><button type="submit">Sign in</button></p></form>
            """)
    }

    static func status(_ r: StatusReport) -> String {
        let queues = table(["Queue", "Waiting", "In flight", "Oldest", "Damaged"], r.queues.map { q in
            [E.escape(q.queue), "\(q.waiting)", "\(q.inFlight)", age(q.oldestAge),
             q.damaged > 0 ? "<a href=\"/damaged?queue=\(E.query(q.queue))\">\(q.damaged)</a>" : "0"]
        }, id: "queues")
        let pending = table(["Gateway", "Open", "Due now", "Needs review", "Oldest open"], r.pending.map { p in
            [E.escape(p.gateway), "\(p.open)", "\(p.dueNow)", "\(p.needsReview)", age(p.oldestOpen.map { r.time.timeIntervalSince($0) })]
        })
        let processes = table(["Role", "Host", "PID", "State", "Heartbeat", "Doing", "Counters"], r.processes.map { p in
            [E.escape(p.role), E.escape(p.host), "\(p.pid)", p.isDead(at: r.time) ? "<span class=\"dead\">DEAD</span>" : "alive",
             age(p.heartbeatAge(at: r.time)) + " ago", E.escape(p.doing),
             E.escape(p.counters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))]
        }, id: "processes")
        return layout("Status", "<h2>Queues</h2>\(queues)<h2>Pending</h2>\(pending)<h2>Rectifier: the last hour</h2>\(chart(r))"
                      + "<h2>Processes</h2>\(processes)<p>Schema version \(r.schemaVersion).</p>")
    }

    /// The last hour's rectifier outcomes as bars, per processor and action.
    static func chart(_ r: StatusReport) -> String {
        let rows = r.rectifier.flatMap { a in a.actions.sorted { $0.key < $1.key }.map { (a.processor, $0.key, $0.value) } }
        guard let most = rows.map(\.2).max(), most > 0 else { return "<p>No decisions in the last hour.</p>" }
        return table(["Processor", "Action", "Decisions", ""], rows.map { processor, action, n in
            [E.escape(processor), E.escape(action), "\(n)", "<span class=\"bar\" style=\"width:\(max(2, n * 300 / most))px\"></span>"]
        }, id: "outcomes")
    }

    static func reasonField() -> String {
        "<label>Reason <input type=\"text\" name=\"reason\" required placeholder=\"why (recorded in the audit log)\"></label>"
    }

    static func hidden(_ fields: [String: String]) -> String {
        fields.sorted { $0.key < $1.key }.map { "<input type=\"hidden\" name=\"\(E.escape($0.key))\" value=\"\(E.escape($0.value))\">" }
            .joined()
    }
}
