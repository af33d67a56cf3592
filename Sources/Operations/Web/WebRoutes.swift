import Backends
import Core
import Foundation
import Hummingbird
import Rectifier

/// The console's routes. Store work runs off the event loop (``Blocking``),
/// each request on connections of its own.
struct WebRoutes: Sendable {
    let sessions: WebSessions
    let storage: StorageConfiguration
    typealias Context = BasicRequestContext

    func add(to router: Router<Context>) {
        router.get("login") { _, _ in Self.page(WebPages.signIn(failed: false)) }
        router.post("login") { request, _ in try await signIn(request) }
        router.get("/") { request, _ in
            try await page(request) { _ in WebPages.status(try StatusReport.gather(try Storage(storage))) }
        }
        router.get("damaged") { request, _ in try await damagedList(request) }
        router.get("damaged/:id") { request, context in
            let id = try context.parameters.require("id", as: Int64.self)
            return try await page(request) { session in
                guard let record = try Storage(storage).damaged.fetch(id: id) else {
                    throw ConfigurationError("no damaged message with id \(id)")
                }
                return WebPages.damagedMessage(record, csrf: session.csrf)
            }
        }
        router.post("damaged/bulk") { request, _ in try await act(request) { actions, fields in try bulk(actions, fields) } }
        router.post("damaged/:id/:verb") { request, context in
            let id = try context.parameters.require("id", as: Int64.self)
            let verb = context.parameters.get("verb") ?? ""
            return try await act(request) { actions, _ in
                let done = verb == "requeue" ? try actions.requeueDamaged(id: id)
                    : verb == "delete" ? try actions.deleteDamaged(id: id) : false
                guard done else { throw ConfigurationError("no damaged message with id \(id) (or no action '\(verb)')") }
                return ("/damaged", "damaged message \(id): \(verb)d")
            }
        }
        router.get("pending") { request, _ in
            try await page(request) { _ in
                let stores = try Storage(storage)
                return WebPages.pending(review: try PendingStore(connection: stores.database).needingReview(limit: 200),
                                        counts: try StoreCounts(connection: stores.database).pending(), notice: Self.notice(request))
            }
        }
        router.get("pending/:id") { request, context in
            let id = try context.parameters.require("id", as: Int64.self)
            return try await page(request) { session in
                let stores = try Storage(storage)
                guard let row = try PendingStore(connection: stores.database).fetch(id: id) else {
                    throw ConfigurationError("no pending row \(id)")
                }
                let decisions = try row.orderID.map { try DecisionLog(connection: stores.database).list(orderID: $0, limit: 50) } ?? []
                return WebPages.pendingRow(row, decisions: decisions.filter { $0.pendingID == id }, csrf: session.csrf)
            }
        }
        router.post("pending/:id/resolve") { request, context in
            let id = try context.parameters.require("id", as: Int64.self)
            return try await act(request) { actions, fields in
                guard let resolution = PendingResolution(rawValue: fields["as"] ?? "") else {
                    throw ConfigurationError("no such resolution")
                }
                guard let row = try PendingStore(connection: actions.storage.database).fetch(id: id), let order = row.orderID else {
                    throw ConfigurationError("no pending row \(id)")
                }
                try actions.resolvePending(gateway: row.gateway, orderID: order, as: resolution)
                return ("/pending", "pending \(row.gateway)/\(order) resolved as \(resolution.rawValue)")
            }
        }
        router.get("audit") { request, _ in
            try await page(request) { _ in WebPages.audit(try AuditLog(connection: try Storage(storage).database).list(limit: 200)) }
        }
    }

    private func damagedList(_ request: Request) async throws -> Response {
        let filter = DamagedFilter(WebText.fields(request.uri.query ?? ""))
        return try await page(request) { session in
            let stores = try Storage(storage)
            var records = try stores.damaged.list(queue: filter.queue.isEmpty ? nil : filter.queue, limit: 500)
            var matched: Int? = nil
            if let selection = filter.selection {
                let ids = Set(try selection.ids(in: stores.database))
                records = records.filter { ids.contains($0.id) }
                matched = ids.count
            } else if !filter.errorContains.isEmpty {
                records = records.filter { $0.error.lowercased().contains(filter.errorContains.lowercased()) }
            }
            return WebPages.damaged(records, filter: filter, matched: matched, csrf: session.csrf, notice: Self.notice(request))
        }
    }

    private func bulk(_ actions: ManualActions, _ fields: [String: String]) throws -> (String, String) {
        let filter = DamagedFilter(fields)
        guard let selection = filter.selection else { throw ConfigurationError("a bulk action needs a queue (and a valid age)") }
        let verb = fields["action"] ?? ""
        guard verb == "requeue" || verb == "delete" else { throw ConfigurationError("no action '\(verb)'") }
        var done = 0
        for id in try selection.ids(in: actions.storage.database) {
            if try verb == "requeue" ? actions.requeueDamaged(id: id) : actions.deleteDamaged(id: id) { done += 1 }
        }
        let back = "/damaged?" + filter.fields.map { "\($0.key)=\(WebText.query($0.value))" }.sorted().joined(separator: "&")
        return (back, "\(done) damaged message\(done == 1 ? "" : "s") from queue \(selection.queue): \(verb)d")
    }
}
