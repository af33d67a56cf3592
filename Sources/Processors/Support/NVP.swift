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

    /// Percent-decodes `s` to bytes, then reads them as UTF-8 or, failing
    /// that, as windows-1252 (the charset many PayPal accounts send IPNs in).
    static func unescape(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        let utf8 = Array(s.utf8)
        var i = 0
        while i < utf8.count {
            switch utf8[i] {
            case UInt8(ascii: "+"): bytes.append(0x20); i += 1
            case UInt8(ascii: "%"):
                guard i + 2 < utf8.count, let v = UInt8(String(decoding: utf8[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) else {
                    return nil
                }
                bytes.append(v)
                i += 3
            default: bytes.append(utf8[i]); i += 1
            }
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(data: Data(bytes), encoding: .windowsCP1252)
    }

    /// Whether `key` names a credential, card data or donor data (names,
    /// email, address, phone, the free-text note the donor typed — PayPal
    /// spells them many ways: `FIRSTNAME`, `PAYMENTREQUEST_0_SHIPTOSTREET2`,
    /// `L_EMAIL0`, `NOTE`, `PAYMENTREQUEST_0_NOTETEXT`, …).
    public static func isSensitive(_ key: String) -> Bool {
        let k = key.uppercased()
        let exact = ["USER", "PWD", "SIGNATURE", "SUBJECT", "BUSINESS", "SALUTATION", "SUFFIX", "ACCT", "CVV2", "EXPDATE"]
        if exact.contains(k) { return true }
        let parts = ["NAME", "EMAIL", "STREET", "CITY", "ZIP", "PHONE", "SHIPTO", "ADDRESS", "PAYER_", "STATE", "NOTE", "MEMO"]
        let bytes = Array(k.utf8)
        return parts.contains { contains(bytes, $0) } && !k.hasSuffix("STATUS") && k != "PAYERSTATUS"
    }

    /// Whether `part` occurs in `bytes`, compared byte by byte (Foundation's `contains` on a String goes
    /// through NSString; for short field names that costs more than the rest of the check).
    static func contains(_ bytes: [UInt8], _ part: String) -> Bool {
        let needle = Array(part.utf8)
        guard !needle.isEmpty, bytes.count >= needle.count else { return needle.isEmpty }
        for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
            if bytes[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }

    /// `fields` with credentials and donor data masked by name, for logs and
    /// evidence (adapters then mask credential values inside any field, card
    /// numbers and emails in the whole text: `ProcessorHTTP.answerText`).
    public static func redacted(_ fields: [String: String], secrets: [String]) -> String {
        fields.keys.sorted().map { key in
            let value = isSensitive(key) || secrets.contains(fields[key]!) ? "***" : fields[key]!
            return "\(key)=\(value)"
        }.joined(separator: "&")
    }
}
