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

    /// Whether `key` names a credential or donor data (names, email,
    /// address, phone — PayPal spells them many ways: `FIRSTNAME`,
    /// `PAYMENTREQUEST_0_SHIPTOSTREET2`, `L_EMAIL0`, …).
    public static func isSensitive(_ key: String) -> Bool {
        let k = key.uppercased()
        if ["USER", "PWD", "SIGNATURE", "SUBJECT", "BUSINESS", "SALUTATION", "SUFFIX"].contains(k) { return true }
        return ["NAME", "EMAIL", "STREET", "CITY", "ZIP", "PHONE", "SHIPTO", "ADDRESS", "PAYER_", "STATE"].contains { k.contains($0) }
            && !k.hasSuffix("STATUS") && k != "PAYERSTATUS"
    }

    /// `fields` with credentials and donor data masked, for logs and evidence.
    public static func redacted(_ fields: [String: String], secrets: [String]) -> String {
        fields.keys.sorted().map { key in
            let value = isSensitive(key) || secrets.contains(fields[key]!) ? "***" : fields[key]!
            return "\(key)=\(value)"
        }.joined(separator: "&")
    }
}
