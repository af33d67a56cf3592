/// Masking of secrets in text that fundq prints or logs: URLs that may carry
/// a password (whatever their shape, parsable or not) and known secret
/// values (processor credentials, database passwords).
public enum SecretMasking {
    /// `text`, a URL-ish setting that may hold credentials, with them masked:
    /// everything between the scheme (if any) and the last `@` becomes `***`;
    /// without an `@`, an authority that is not a plain `HOST[:PORT]` (say
    /// `user:password` with the `@` forgotten) becomes `***`; query values
    /// become `***`. `mysql:/fundq:SECRET@db:3306/fundq` → `mysql:/***@db:3306/fundq`.
    public static func url(_ text: String) -> String {
        let scheme = schemePrefix(text)
        if let at = text.lastIndex(of: "@") {
            let prefix = scheme.map { text[..<$0] } ?? ""
            let afterAt = text[text.index(after: at)...]
            return prefix + "***@" + maskedQuery(afterAt)
        }
        guard let start = scheme, text[..<start].contains("/") else {
            // No scheme and no `@`: "host:port", or something else entirely.
            return isHostPort(text[...]) ? text : "***"
        }
        let rest = text[start...]
        let end = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
        let authority = rest[..<end]
        return String(text[..<start]) + (isHostPort(authority) ? String(authority) : "***") + maskedQuery(rest[end...])
    }

    /// `message` with every URL-ish word in it masked as ``url(_:)`` masks
    /// one: words that start with a scheme (`redis:/…`, `mysql://…`) or hold
    /// `user:password@host`. Other words (an address, `127.0.0.1:6379`, an
    /// email address) are left as they are.
    public static func urls(in message: String) -> String {
        // Only a word with a scheme (":/") or an "@" is ever masked.
        guard mayHoldURL(message) else { return message }
        return message.utf8.allSatisfy({ $0 < 0x80 }) ? asciiURLs(in: message) : characterURLs(in: message)
    }

    /// ``urls(in:)`` character by character (any text).
    static func characterURLs(in message: String) -> String {
        var out = ""
        var word = ""
        func flush() {
            out += maskedWord(word)
            word = ""
        }
        let characters = Array(message)
        func rest(after index: Int) -> String { String(characters[(index + 1)...].prefix(64)) }
        for (index, character) in characters.enumerated() {
            var ends = character.isWhitespace || "\"`<>".contains(character)
            if !ends, "'(),;".contains(character) {
                // Within a URL these may be part of a password; a second URL joined by one starts a word of its own.
                ends = !holdsURL(Array(word.utf8)[...]) || startsWithScheme(rest(after: index).utf8)
            }
            if ends {
                flush()
                out.append(character)
            } else {
                word.append(character)
            }
        }
        flush()
        return out
    }

    /// ``urls(in:)`` for an ASCII `message`, word by word over its bytes
    /// (the same words and delimiters: in ASCII a Character is one byte);
    /// only a word with a `:/` or an `@` can be masked (see ``maskedWord(_:)``).
    static func asciiURLs(in message: String) -> String {
        let bytes = Array(message.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var wordStart = 0
        func flush(_ end: Int) {
            let word = bytes[wordStart..<end]
            if mayHoldURL(word) {
                out += maskedWord(String(decoding: word, as: UTF8.self)).utf8
            } else {
                out += word
            }
        }
        for (i, byte) in bytes.enumerated() where asciiDelimiters[Int(byte)] {
            // Within a URL, `'(),;` may be part of a password: such a word ends only at whitespace or `"`<>`.
            // (A second URL joined to the first by one of them still starts a word of its own.)
            if softDelimiters[Int(byte)], holdsURL(bytes[wordStart..<i]), !startsWithScheme(bytes[(i + 1)...].prefix(64)) { continue }
            flush(i)
            out.append(byte)
            wordStart = i + 1
        }
        flush(bytes.count)
        return String(decoding: out, as: UTF8.self)
    }

    /// The ASCII bytes that end a word in ``urls(in:)``: whitespace and `'"`<>(),;`.
    static let asciiDelimiters: [Bool] = (0..<256).map { byte in
        guard byte < 0x80 else { return false }
        let character = Character(Unicode.Scalar(UInt8(byte)))
        return character.isWhitespace || "'\"`<>(),;".contains(character)
    }

    /// The delimiters that do not end a word that starts with a scheme: `'(),;`.
    static let softDelimiters: [Bool] = (0..<256).map { byte in byte < 0x80 && "'(),;".utf8.contains(UInt8(byte)) }

    /// Whether `word` is a URL: it starts with `scheme:/`, or its part after
    /// its last `=` does (`FUNDQ_QUEUE_URL=redis://…`, `--db-url=mysql://…`).
    static func holdsURL(_ word: ArraySlice<UInt8>) -> Bool {
        if startsWithScheme(word) { return true }
        guard let equals = word.lastIndex(of: UInt8(ascii: "=")) else { return false }
        return startsWithScheme(word[(equals + 1)...])
    }

    /// Whether `word` starts with `scheme:/` (a letter, then letters, digits or `+.-`).
    static func startsWithScheme(_ word: some Collection<UInt8>) -> Bool {
        var seenLetter = false
        var previous: UInt8 = 0
        for byte in word {
            if previous == UInt8(ascii: ":") { return seenLetter && byte == UInt8(ascii: "/") }
            let letter = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
            if !seenLetter {
                guard letter else { return false }
                seenLetter = true
            } else if byte != UInt8(ascii: ":"), !letter, !(byte >= 0x30 && byte <= 0x39), !"+.-".utf8.contains(byte) {
                return false
            }
            previous = byte
        }
        return false
    }

    /// Whether `message` has an "@" or a ":/" (one pass over its bytes).
    static func mayHoldURL(_ message: String) -> Bool {
        mayHoldURL(message.utf8)
    }

    /// Whether `bytes` hold an "@" or a ":/".
    static func mayHoldURL(_ bytes: some Sequence<UInt8>) -> Bool {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: "@") || (byte == UInt8(ascii: "/") && previous == UInt8(ascii: ":")) { return true }
            previous = byte
        }
        return false
    }

    static func maskedWord(_ word: String) -> String {
        guard word.contains(":") else { return word }
        let bytes = Array(word.utf8)
        if !startsWithScheme(bytes), holdsURL(bytes[...]), let equals = word.lastIndex(of: "=") {
            // `NAME=URL`: the URL is masked as a word of its own.
            return String(word[...equals]) + maskedWord(String(word[word.index(after: equals)...]))
        }
        var core = Substring(word)
        while let last = core.last, ".:!?'(),;".contains(last) { core = core.dropLast() }
        let trailing = word[core.endIndex...]
        let hasScheme = schemePrefix(String(core)).map { core[..<$0].contains("/") } ?? false
        let colonBeforeAt = core.lastIndex(of: "@").map { core[..<$0].contains(":") } ?? false
        guard hasScheme || colonBeforeAt else { return word }
        return url(String(core)) + trailing
    }

    /// The index just past `scheme:` and any slashes after it, when `text`
    /// starts with a scheme (letters, digits, `+ . -`, starting with a letter).
    static func schemePrefix(_ text: String) -> String.Index? {
        guard let colon = text.firstIndex(of: ":"), colon > text.startIndex,
              text.first!.isASCII, text.first!.isLetter,
              text[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }) else { return nil }
        var i = text.index(after: colon)
        while i < text.endIndex, text[i] == "/" { i = text.index(after: i) }
        return i
    }

    /// Whether `s` is `HOST[:PORT]` (a name or IPv4 address, or `[IPv6]`; a
    /// port of at most 65535), or empty.
    static func isHostPort(_ s: Substring) -> Bool {
        var host = s
        if let colon = s.lastIndex(of: ":"), !s.hasSuffix("]") {
            let port = s[s.index(after: colon)...]
            // A port is 1 to 5 digits, at most 65535 (anything else there may be a password).
            guard port.isEmpty || (port.count <= 5 && port.allSatisfy({ $0.isASCII && $0.isNumber }) && Int(port)! <= 65535) else {
                return false
            }
            host = s[..<colon]
        }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            return host.dropFirst().dropLast().allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        }
        return host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) }
    }

    /// `rest` (what follows the authority) with every query value masked.
    static func maskedQuery(_ rest: Substring) -> String {
        guard let question = rest.firstIndex(of: "?") else { return String(rest) }
        let query = rest[rest.index(after: question)...]
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
            pair.firstIndex(of: "=").map { String(pair[...$0]) + "***" } ?? String(pair)
        }
        return String(rest[...question]) + pairs.joined(separator: "&")
    }
}

/// Masks known secret values wherever they appear in a text — alone, inside
/// a longer value, percent-encoded or XML-escaped — and then every URL's
/// credentials (``SecretMasking/urls(in:)``).
public struct SecretMasker: Sendable {
    /// The forms to look for, longest first.
    let forms: [String]
    /// Their UTF-8 bytes, in the same order.
    let formBytes: [[UInt8]]
    /// Whether any form has a non-ASCII byte (then Foundation's search, which
    /// also finds other normalizations of the same text, does the replacing).
    let hasNonASCIIForm: Bool
    /// For each byte value, whether some form starts with it.
    let firstBytes: [Bool]

    /// Values shorter than three characters are not looked for (they would
    /// mask half of every text).
    public init(secrets: [String]) {
        var forms: Set<String> = []
        for secret in secrets where secret.count >= 3 {
            forms.insert(secret)
            forms.insert(SecretMasker.percentEncoded(secret, spaceAsPlus: false))
            forms.insert(SecretMasker.percentEncoded(secret, spaceAsPlus: true))
            forms.insert(secret.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;"))
        }
        self.forms = forms.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
        formBytes = self.forms.map { Array($0.utf8) }
        hasNonASCIIForm = formBytes.contains { $0.contains { $0 >= 0x80 } }
        var firstBytes = [Bool](repeating: false, count: 256)
        for bytes in formBytes { if let first = bytes.first { firstBytes[Int(first)] = true } }
        self.firstBytes = firstBytes
    }

    /// A masker that masks URLs only.
    public static let urlsOnly = SecretMasker(secrets: [])

    /// `text` with every secret value replaced by `***` and URLs masked.
    public func masked(_ text: String) -> String {
        guard !forms.isEmpty else { return SecretMasking.urls(in: text) }
        if hasNonASCIIForm {
            var out = text
            for form in found(in: text) {
                out = out.replacingOccurrences(of: form, with: "***")
            }
            return SecretMasking.urls(in: out)
        }
        return SecretMasking.urls(in: replacingForms(in: text))
    }

    /// `text` with every byte any form's occurrence covers (occurrences may
    /// overlap) replaced, each run of covered bytes by one `***`. The forms
    /// are ASCII, so a run never starts or ends inside a multi-byte character.
    func replacingForms(in text: String) -> String {
        let haystack = Array(text.utf8)
        var covered: [Bool] = []
        var coveredUpTo = 0
        forEachOccurrence(in: haystack) { form, start in
            let end = start + formBytes[form].count
            guard end > coveredUpTo else { return }
            if covered.isEmpty { covered = Array(repeating: false, count: haystack.count) }
            for i in max(start, coveredUpTo)..<end { covered[i] = true }
            coveredUpTo = end
        }
        guard !covered.isEmpty else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(haystack.count)
        for (i, byte) in haystack.enumerated() {
            if !covered[i] {
                out.append(byte)
            } else if i == 0 || !covered[i - 1] {
                out += [0x2A, 0x2A, 0x2A]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The forms that occur in `text` (longest first), found in one pass over its bytes.
    func found(in text: String) -> [String] {
        var present = Array(repeating: false, count: formBytes.count)
        forEachOccurrence(in: Array(text.utf8)) { form, _ in present[form] = true }
        return forms.indices.filter { present[$0] }.map { forms[$0] }
    }

    /// Calls `body` with each occurrence of a form in `haystack`: the form's
    /// index and where it starts, in order of start (longest form first).
    private func forEachOccurrence(in haystack: [UInt8], _ body: (_ form: Int, _ start: Int) -> Void) {
        for start in haystack.indices where firstBytes[Int(haystack[start])] {
            for (form, bytes) in formBytes.enumerated() where start + bytes.count <= haystack.count
                && haystack[start..<start + bytes.count].elementsEqual(bytes) {
                body(form, start)
            }
        }
    }

    /// `s` percent-encoded: ASCII letters, digits and `unreserved` as they are.
    static func percentEncoded(_ s: String, spaceAsPlus: Bool, unreserved: String = "-._~") -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80, c.isLetter || c.isNumber || unreserved.contains(c) {
                out.append(c)
            } else if byte == 0x20, spaceAsPlus {
                out.append("+")
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
