import Foundation

/// PayPal's Name-Value Pair format: `application/x-www-form-urlencoded`.
public enum NVP {
    /// `fields` form-encoded, in the order given.
    public static func encode(_ fields: [(String, String)]) -> String {
        fields.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// Decodes a form-encoded body; nil when it is not one (a key without
    /// `=`, bad percent escapes, a repeated key).
    public static func decode(_ text: String) -> [String: String]? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            guard let eq = pair.firstIndex(of: "=") else { return nil }
            guard let key = unescape(pair[..<eq]), let value = unescape(pair[pair.index(after: eq)...]), !key.isEmpty,
                  fields.updateValue(value, forKey: key) == nil else { return nil }
        }
        return fields
    }

    static func unescape(_ s: Substring) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// `fields` with credentials and donor data masked, for logs and evidence.
    public static func redacted(_ fields: [String: String], secrets: [String]) -> String {
        let hidden: Set<String> = ["USER", "PWD", "SIGNATURE", "EMAIL", "FIRSTNAME", "LASTNAME", "SHIPTONAME", "SHIPTOSTREET",
                                   "SHIPTOCITY", "SHIPTOZIP", "PAYERID_EMAIL", "PHONENUM", "BUSINESS"]
        return fields.keys.sorted().map { key in
            let value = hidden.contains(key) || secrets.contains(fields[key]!) ? "***" : fields[key]!
            return "\(key)=\(value)"
        }.joined(separator: "&")
    }
}
