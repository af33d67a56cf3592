/// An XML element. Part of a small strict XML reader for the WebCollect API's answers: elements,
/// text and the five predefined entities (plus numeric ones), an optional
/// declaration, attributes read and ignored. Anything else — a truncated
/// document, a mismatched tag, trailing garbage, an HTML error page — is
/// refused with the reason, so a bad answer can never be read as a state.
public struct XMLElement: Equatable, Sendable {
    /// The tag name.
    public var name: String
    /// Child elements, in order.
    public var children: [XMLElement] = []
    /// Text content (entities decoded).
    public var text: String = ""

    /// An element.
    public init(name: String, children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.children = children
        self.text = text
    }

    /// The first child called `name`.
    public func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }

    /// The element at a slash-separated path below this one ("RESPONSE/RESULT").
    public func at(_ path: String) -> XMLElement? {
        var node: XMLElement? = self
        for part in path.split(separator: "/") { node = node?.child(String(part)) }
        return node
    }

    /// Trimmed text at `path`, nil when the element is missing.
    public func text(at path: String) -> String? {
        at(path).map { $0.text.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Elements never shown as they are: credentials, card and account
    /// data, and anything NVP.isSensitive calls donor data.
    static let sensitiveNames: Set<String> = ["MERCHANTID", "EXPIRYDATE", "CREDITCARDNUMBER", "CVV", "IBAN", "ACCOUNTNUMBER", "ACCOUNTNAME"]

    /// This element with sensitive values replaced by "***".
    public func redacted() -> XMLElement {
        var copy = self
        if XMLElement.sensitiveNames.contains(name) || (children.isEmpty && NVP.isSensitive(name) && !text.isEmpty) { copy.text = "***" }
        copy.children = children.map { $0.redacted() }
        return copy
    }

    /// The element as XML text.
    public func serialized() -> String {
        if children.isEmpty { return "<\(name)>\(XMLElement.escape(text))</\(name)>" }
        return "<\(name)>" + children.map { $0.serialized() }.joined() + "</\(name)>"
    }

    static func escape(_ s: String) -> String {
        // Most texts have nothing to escape: no trip through Foundation for them.
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }) else { return s }
        return s.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Builds `<name>` with children from `(name, value)` pairs.
    public static func leaf(_ name: String, _ text: String) -> XMLElement { XMLElement(name: name, text: text) }
}

/// Why a document is not acceptable XML.
public struct XMLSyntaxError: Error, CustomStringConvertible {
    /// Byte offset of the problem.
    public let offset: Int
    /// What is wrong.
    public let reason: String
    /// "invalid XML at byte 12: …".
    public var description: String { "invalid XML at byte \(offset): \(reason)" }
}

/// Parses WebCollect XML strictly.
public enum XMLReader {
    /// The root element of `text`, or why it is not acceptable.
    public static func parse(_ text: String) throws(XMLSyntaxError) -> XMLElement {
        let bytes = Array(text.utf8)
        var i = 0
        func fail(_ reason: String) -> XMLSyntaxError { XMLSyntaxError(offset: i, reason: reason) }
        func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 } }
        func starts(_ s: String) -> Bool {
            let u = Array(s.utf8)
            return i + u.count <= bytes.count && Array(bytes[i..<i + u.count]) == u
        }
        func skipPast(_ s: String) throws(XMLSyntaxError) {
            let u = Array(s.utf8)
            while i + u.count <= bytes.count {
                if Array(bytes[i..<i + u.count]) == u { i += u.count; return }
                i += 1
            }
            throw fail("unterminated \(s)")
        }
        func name() throws(XMLSyntaxError) -> String {
            let start = i
            while i < bytes.count,
                  !([0x20, 0x09, 0x0a, 0x0d, UInt8(ascii: ">"), UInt8(ascii: "/"), UInt8(ascii: "=")].contains(bytes[i])) {
                i += 1
            }
            guard i > start else { throw fail("expected a tag name") }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        func decodeEntities(_ raw: String) throws(XMLSyntaxError) -> String {
            guard raw.contains("&") else { return raw }
            var out = ""
            var rest = Substring(raw)
            while let amp = rest.firstIndex(of: "&") {
                out += rest[..<amp]
                guard let semi = rest[amp...].firstIndex(of: ";") else { throw fail("unterminated entity") }
                let entity = rest[rest.index(after: amp)..<semi]
                switch entity {
                case "lt": out += "<"
                case "gt": out += ">"
                case "amp": out += "&"
                case "quot": out += "\""
                case "apos": out += "'"
                default:
                    let digits = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16)
                        : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                    guard let code = digits, let scalar = Unicode.Scalar(code) else { throw fail("unknown entity &\(entity);") }
                    out.unicodeScalars.append(scalar)
                }
                rest = rest[rest.index(after: semi)...]
            }
            return out + rest
        }
        func element(depth: Int) throws(XMLSyntaxError) -> XMLElement {
            guard depth < 32 else { throw fail("nesting too deep") }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { throw fail("expected '<'") }
            i += 1
            var node = XMLElement(name: try name())
            // Attributes are read past and ignored.
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated start tag <\(node.name)>") }
                if bytes[i] == UInt8(ascii: "/") {
                    i += 1
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw fail("expected '>'") }
                    i += 1
                    return node
                }
                if bytes[i] == UInt8(ascii: ">") { i += 1; break }
                _ = try name()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { throw fail("expected '=' in an attribute") }
                i += 1
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
                    throw fail("expected a quoted attribute value")
                }
                let quote = bytes[i]
                i += 1
                while i < bytes.count, bytes[i] != quote { i += 1 }
                guard i < bytes.count else { throw fail("unterminated attribute value") }
                i += 1
            }
            var text: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("document ends inside <\(node.name)>") }
                if starts("</") {
                    i += 2
                    let closing = try name()
                    guard closing == node.name else { throw fail("</\(closing)> closes <\(node.name)>") }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw fail("expected '>'") }
                    i += 1
                    node.text = try decodeEntities(String(decoding: text, as: UTF8.self))
                    return node
                }
                if starts("<!--") { try skipPast("-->"); continue }
                if starts("<![CDATA[") {
                    i += 9
                    let start = i
                    try skipPast("]]>")
                    text += bytes[start..<(i - 3)]
                    continue
                }
                if bytes[i] == UInt8(ascii: "<") {
                    node.children.append(try element(depth: depth + 1))
                    continue
                }
                text.append(bytes[i])
                i += 1
            }
        }
        skipSpace()
        if starts("<?xml") { try skipPast("?>") }
        skipSpace()
        while starts("<!--") { try skipPast("-->"); skipSpace() }
        guard i < bytes.count else { throw fail("empty document") }
        if starts("<!DOCTYPE") || starts("<!doctype") { throw fail("a DOCTYPE (an HTML page?) where an XML answer was expected") }
        let root = try element(depth: 0)
        skipSpace()
        guard i == bytes.count else { throw fail("trailing content after the document") }
        return root
    }
}
