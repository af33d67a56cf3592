import Foundation
import Synchronization

/// The console's signed-in sessions: a random session id in an HttpOnly,
/// SameSite=Strict cookie, and per session a random CSRF token every form
/// carries. Kept in memory: restarting the console signs everyone out.
final class WebSessions: Sendable {
    struct Session: Sendable {
        let actor: String
        let csrf: String
        let created: Date
    }

    private let token: String
    private let sessions = Mutex<[String: Session]>([:])
    /// How long a session lasts.
    static let lifetime: TimeInterval = 8 * 3600

    init(token: String) {
        self.token = token
    }

    /// Signs in `actor` when `offered` is the console token; returns the new session id.
    func signIn(actor: String, offered: String) -> String? {
        guard Self.equal(Array(offered.utf8), Array(token.utf8)) else { return nil }
        let id = Self.random()
        let now = Date()
        sessions.withLock { all in
            all = all.filter { now.timeIntervalSince($0.value.created) < Self.lifetime }
            all[id] = Session(actor: actor, csrf: Self.random(), created: now)
        }
        return id
    }

    /// The session whose id is `id`, while it lasts.
    func session(_ id: String?) -> Session? {
        guard let id else { return nil }
        return sessions.withLock { all in
            guard let s = all[id], Date().timeIntervalSince(s.created) < Self.lifetime else { return nil }
            return s
        }
    }

    /// Signs the session out.
    func signOut(_ id: String?) {
        guard let id else { return }
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// Compares in time that depends only on the lengths.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// Form and query fields, and HTML text.
enum WebText {
    /// `a=1&b=two+words` → fields (the last of a repeated name wins).
    static func fields(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }

    /// `text` safe inside HTML text and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// `text` as a query value.
    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }
}
