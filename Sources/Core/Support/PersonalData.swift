/// Donor personal data and card data: one masking policy for every view
/// (`pending show`, `damaged show`/`list`, `queue peek`) and for processor
/// answers.
///
/// - Personal fields (names, email, address, phone, IP, free-text notes)
///   are `***` unless the operator asks for them (`--show-personal-data`).
/// - Card security codes (`cvv`, …) are never shown, not even then: a CVV
///   may not be kept after authorization, let alone displayed (PCI DSS).
/// - Card numbers are never shown in full, not even then: at most their
///   last four digits (`****1111`). A card number is a field named like one
///   (`card_num`, …) or, in any other text, a run of 13 to 19 digits, which
///   may be grouped by single spaces or dashes, **whether or not it passes
///   the Luhn check** (a mistyped card number is still a card number; an
///   identifier that long in free text is rare, and identifier fields —
///   `id`, `*_id` — and JSON numbers are not scanned). A longer run is a
///   card number only when grouped (a 20-digit identifier stays as it is).
/// - Email-like substrings of free text are `***@***` unless asked for.
public enum PersonalData {
    /// Message fields that identify or locate a donor.
    public static let fields: Set<String> = [
        "email", "first_name", "last_name", "street_address", "supplemental_address_1", "supplemental_address_2", "city",
        "state_province", "postal_code", "phone", "user_ip", "payer_email", "address_street", "address_city", "address_zip",
        "address_name", "address_state", "name", "full_name", "middle_name", "nickname", "note", "memo", "comment",
        "expiration", "card_exp", "expiry_date",
        // As processors' JSON answers name them (firstName, surname, cardholderName, street, zip, …);
        // names are compared without case, `_` or `-` (``kind(ofField:)``).
        "surname", "surname_prefix", "cardholder_name", "street", "house_number", "zip", "additional_info",
        "phone_number", "mobile_phone_number", "work_phone_number", "fax_number", "email_address", "date_of_birth",
    ]

    /// Fields never shown, not even with `--show-personal-data`: card security codes.
    public static let neverShownFields: Set<String> = [
        "cvv", "cvv2", "cvc", "cvc2", "cid", "card_cvv", "card_cvc", "security_code", "card_security_code",
    ]

    /// Fields holding a card number: only their last four digits are ever shown.
    public static let cardNumberFields: Set<String> = [
        "card_num", "card_number", "cc_num", "cc_number", "credit_card_number", "creditcardnumber", "pan", "acct",
    ]

    /// `members` masked by the policy above, recursively.
    public static func masked(_ members: [String: JSONValue], showPersonalData: Bool) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (key, value) in members { out[key] = masked(value, key: key, showPersonalData: showPersonalData) }
        return out
    }

    /// `value`, found under `key` (nil at the top or in an array), masked by the policy.
    public static func masked(_ value: JSONValue, key: String? = nil, showPersonalData: Bool) -> JSONValue {
        let name = key?.lowercased() ?? ""
        switch value {
        case .object(let members): return .object(masked(members, showPersonalData: showPersonalData))
        case .array(let items): return .array(items.map { masked($0, key: key, showPersonalData: showPersonalData) })
        case .null: return value
        default: break
        }
        switch kind(ofField: name) {
        case .neverShown?: return .string("***")
        case .cardNumber?: return .string(lastFour(value.scalarText ?? ""))
        case .personal? where !showPersonalData: return .string("***")
        default: break
        }
        guard case .string(let text) = value else { return value }
        let identifier = name == "id" || name.hasSuffix("_id")
        var out = identifier ? text : maskedCardNumbers(in: text)
        if !showPersonalData { out = maskedEmails(in: out) }
        return out == text ? value : .string(out)
    }

    /// A message body for a view: the masked JSON value when it parses,
    /// else the text with card numbers (and, unless asked for, emails) masked.
    /// A form-encoded body (a processor's notification kept as damaged) is masked
    /// field by field, its values percent-decoded first.
    public static func maskedBody(_ body: [UInt8], showPersonalData: Bool) -> JSONValue {
        if let parsed = try? JSONParser().parse(body) { return masked(parsed, showPersonalData: showPersonalData) }
        let text = String(decoding: body, as: UTF8.self)
        if let form = maskedFormBody(text, showPersonalData: showPersonalData) { return .string(form) }
        return .string(maskedText(text, showPersonalData: showPersonalData))
    }

    /// What a field's name says its value is.
    enum FieldKind {
        case neverShown, cardNumber, personal
    }

    static let normalizedNeverShown = Set(neverShownFields.map(normalized))
    static let normalizedCardNumbers = Set(cardNumberFields.map(normalized))
    static let normalizedPersonal = Set(fields.map(normalized))

    /// `name` without case, `_` or `-`: `first_name`, `firstName` and `FIRST-NAME` are one field.
    static func normalized(_ name: String) -> String {
        String(name.lowercased().unicodeScalars.filter { $0 != "_" && $0 != "-" })
    }

    /// The kind of field `name` is, or nil for any other field.
    static func kind(ofField name: String) -> FieldKind? {
        let key = normalized(name)
        if normalizedNeverShown.contains(key) { return .neverShown }
        if normalizedCardNumbers.contains(key) { return .cardNumber }
        return normalizedPersonal.contains(key) ? .personal : nil
    }

    /// `text` masked field by field when it is a form-encoded body
    /// (`name=value&…`, names of ASCII letters, digits and `_.-[]`), else nil.
    static func maskedFormBody(_ text: String, showPersonalData: Bool) -> String? {
        var trimmed = Substring(text)
        while let c = trimmed.first, c.isWhitespace { trimmed.removeFirst() }
        while let c = trimmed.last, c.isWhitespace { trimmed.removeLast() }
        guard trimmed.contains("="), !trimmed.contains(where: \.isWhitespace) else { return nil }
        func isNameByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "_.-[]".utf8.contains(b)
        }
        var out: [String] = []
        for pair in trimmed.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.allSatisfy(isNameByte) else { return nil }
            let value = ServiceURL.percentDecoded(Substring(String(parts[1].map { $0 == "+" ? " " : $0 })))
            let shown = masked(.string(value), key: String(parts[0]), showPersonalData: showPersonalData)
            guard case .string(let maskedValue) = shown, maskedValue != value else { out.append(String(pair)); continue }
            out.append(parts[0] + "=" + SecretMasker.percentEncoded(maskedValue, spaceAsPlus: false, unreserved: "-._*"))
        }
        return out.joined(separator: "&")
    }

    /// Free text (a processor's answer, an error, a body that is not JSON)
    /// with card numbers and, unless `showPersonalData`, email addresses masked.
    /// JSON members in the text (`"cvv":"737"`, an echoed message) are masked
    /// by their names, as ``masked(_:showPersonalData:)`` masks them.
    public static func maskedText(_ text: String, showPersonalData: Bool = false) -> String {
        let cards = maskedCardNumbers(in: maskedJSONMembers(in: text, showPersonalData: showPersonalData))
        return showPersonalData ? cards : maskedEmails(in: cards)
    }

    /// `text` with the values of `"NAME": value` pairs masked when NAME is a
    /// card number, CVV or (unless `showPersonalData`) personal field.
    static func maskedJSONMembers(in text: String, showPersonalData: Bool) -> String {
        guard text.utf8.contains(UInt8(ascii: "\"")) && text.utf8.contains(UInt8(ascii: ":")) else { return text }
        let chars = Array(text)
        var out = ""
        var i = 0
        while i < chars.count {
            guard chars[i] == "\"", let keyEnd = stringEnd(chars, from: i) else { out.append(chars[i]); i += 1; continue }
            let key = String(chars[(i + 1)..<(keyEnd - 1)]).lowercased()
            out += String(chars[i..<keyEnd])
            i = keyEnd
            var j = i
            while j < chars.count, chars[j] == " " { j += 1 }
            guard j < chars.count, chars[j] == ":" else { continue }
            j += 1
            while j < chars.count, chars[j] == " " { j += 1 }
            guard j < chars.count, chars[j] != "{", chars[j] != "[" else { continue }
            var valueEnd = j
            if chars[j] == "\"" {
                guard let end = stringEnd(chars, from: j) else { continue }
                valueEnd = end
            } else {
                while valueEnd < chars.count, !",}] \n".contains(chars[valueEnd]) { valueEnd += 1 }
            }
            let replacement: String
            switch kind(ofField: key) {
            case .neverShown?: replacement = "\"***\""
            case .cardNumber?: replacement = "\"" + lastFour(String(chars[j..<valueEnd])) + "\""
            case .personal? where !showPersonalData: replacement = "\"***\""
            default: continue
            }
            out += String(chars[i..<j]) + replacement
            i = valueEnd
        }
        return out
    }

    /// The index just past the string literal opening at `start`, or nil when it is not closed.
    static func stringEnd(_ chars: [Character], from start: Int) -> Int? {
        var i = start + 1
        while i < chars.count {
            if chars[i] == "\\" { i += 2; continue }
            if chars[i] == "\"" { return i + 1 }
            i += 1
        }
        return nil
    }

    /// "****1111": the last four digits of `text`, or "***" when it has fewer.
    static func lastFour(_ text: String) -> String {
        let digits = text.filter { $0.isASCII && $0.isNumber }
        return digits.count >= 12 ? "****" + String(digits.suffix(4)) : "***"
    }

    /// `text` with card-number-like runs of digits replaced by `****` and their last four digits.
    public static func maskedCardNumbers(in text: String) -> String {
        let bytes = Array(text.utf8)
        func isDigit(_ i: Int) -> Bool { i >= 0 && i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        var out: [UInt8] = []
        var copied = 0
        var i = 0
        while i < bytes.count {
            guard isDigit(i), !isDigit(i - 1) else { i += 1; continue }
            // A run: digits, with single spaces or dashes between digits.
            var end = i
            var digits = 0
            var grouped = false
            while end < bytes.count {
                if isDigit(end) { digits += 1; end += 1; continue }
                if bytes[end] == 0x20 || bytes[end] == 0x2d, isDigit(end + 1) { grouped = true; end += 1; continue }
                break
            }
            if (13...19).contains(digits) || (digits > 19 && grouped) {
                out += bytes[copied..<i]
                out += Array(lastFour(String(decoding: bytes[i..<end], as: UTF8.self)).utf8)
                copied = end
            }
            i = end
        }
        guard copied > 0 else { return text }
        out += bytes[copied...]
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` with email-like substrings (`local@domain.tld`) replaced by `***@***`.
    public static func maskedEmails(in text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "@")) else { return text }
        let chars = Array(text)
        func isLocal(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || "._%+-".contains(c)) }
        func isDomain(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || ".-".contains(c)) }
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            guard chars[i] == "@" else { out.append(chars[i]); i += 1; continue }
            var start = out.count
            while start > 0, isLocal(out[start - 1]) { start -= 1 }
            var end = i + 1
            while end < chars.count, isDomain(chars[end]) { end += 1 }
            var domain = String(chars[(i + 1)..<end])
            while domain.hasSuffix(".") || domain.hasSuffix("-") { domain.removeLast(); end -= 1 }
            let tld = domain.split(separator: ".").last ?? ""
            if start < out.count, domain.contains("."), tld.count >= 2, tld.allSatisfy(\.isLetter) {
                out.removeSubrange(start...)
                out += Array("***@***")
                i = end
            } else {
                out.append(chars[i]); i += 1
            }
        }
        return String(out)
    }
}
