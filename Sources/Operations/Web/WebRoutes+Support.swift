import Backends
import Core
import Foundation
import Hummingbird

extension WebRoutes {
    static let sessionCookie = "fundq_session"

    static func page(_ html: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
        fields[.init("X-Frame-Options")!] = "DENY"
        fields[.init("Referrer-Policy")!] = "same-origin"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.location] = location
        return Response(status: .seeOther, headers: fields)
    }

    static func refused(_ why: String) -> Response {
        Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: why + "\n")))
    }

    static func notice(_ request: Request) -> String? {
        WebText.fields(request.uri.query ?? "")["notice"]
    }

    static func cookie(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == sessionCookie { return String(parts[1]) }
            }
        }
        return nil
    }

    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 65_536)
        return WebText.fields(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    /// A page for a signed-in session (else the sign-in page); store errors become a page saying what failed.
    func page(_ request: Request, _ render: @escaping @Sendable (WebSessions.Session) throws -> String) async throws -> Response {
        guard let session = sessions.session(Self.cookie(request)) else { return Self.redirect("/login") }
        do {
            return Self.page(try await Blocking.run { try render(session) })
        } catch {
            let why = WebText.escape(SecretMasking.urls(in: "\(error)"))
            return Self.page(WebPages.layout("Not available", "<p>\(why)</p>"), status: .notFound)
        }
    }

    func signIn(_ request: Request) async throws -> Response {
        let fields = try await Self.form(request)
        let actor = (fields["actor"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !actor.isEmpty, let id = sessions.signIn(actor: actor, offered: fields["token"] ?? "") else {
            return Self.page(WebPages.signIn(failed: true), status: .forbidden)
        }
        return Self.redirect("/", headers: [.setCookie: "\(Self.sessionCookie)=\(id); Path=/; HttpOnly; SameSite=Strict"])
    }

    /// An action: refused (403) without a session, from another site, or without the session's CSRF token;
    /// done with the form's reason by the session's actor; then back to the page `work` names, with a notice.
    func act(_ request: Request, _ work: @escaping @Sendable (ManualActions, [String: String]) throws -> (String, String)) async throws
        -> Response {
        guard let session = sessions.session(Self.cookie(request)) else {
            return Self.refused("sign in first: actions need the console token")
        }
        if request.headers[.init("Sec-Fetch-Site")!] == "cross-site" { return Self.refused("cross-site request refused") }
        if let origin = request.headers[.origin], let host = request.head.authority ?? request.headers[.init("Host")!],
           origin != "http://\(host)" && origin != "https://\(host)" {
            return Self.refused("request from another origin (\(origin)) refused")
        }
        let fields = try await Self.form(request)
        guard WebSessions.equal(Array((fields["csrf"] ?? "").utf8), Array(session.csrf.utf8)) else {
            return Self.refused("missing or wrong CSRF token: reload the page and try again")
        }
        let storage = self.storage
        do {
            let (back, done) = try await Blocking.run {
                let actions = try ManualActions(storage: try Storage(storage), actor: "web:\(session.actor)",
                                                reason: fields["reason"] ?? "")
                return try work(actions, fields)
            }
            return Self.redirect(back + (back.contains("?") ? "&" : "?") + "notice=" + WebText.query(done))
        } catch {
            return Self.redirect("/?notice=" + WebText.query("not done: " + SecretMasking.urls(in: "\(error)")))
        }
    }
}

/// Runs blocking store work on a dispatch queue, off Hummingbird's event loops.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
