/// A strict RFC 8259 parser with precise error positions.
///
/// Strict on purpose: money messages must mean exactly one thing, so the
/// parser rejects invalid UTF-8, duplicate object keys, lone surrogates,
/// trailing garbage and nesting deeper than ``maximumDepth`` (which would
/// otherwise be a way to crash a daemon with a stack overflow).
public struct JSONParser: Sendable {
    /// Deepest nesting of arrays and objects accepted.
    public var maximumDepth: Int

    /// A parser accepting nesting up to `maximumDepth` levels.
    public init(maximumDepth: Int = 64) {
        self.maximumDepth = maximumDepth
    }

    /// Parses one JSON document from `bytes`.
    public func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> JSONValue in
            var cursor = Cursor(bytes: buffer, maximumDepth: maximumDepth)
            return try cursor.parseDocument()
        }
    }

    /// Parses one JSON document from `text`.
    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Validates one document as strictly as ``parse(_:)-swift.method`` but
    /// builds no values: returns the top-level object's keys, or `nil` when
    /// the document is valid JSON but not an object. This is the hot path
    /// of `push`, which only needs to know the message is a valid object
    /// and which envelope fields it already has.
    public func objectKeys(_ bytes: [UInt8]) throws(JSONParseError) -> Set<String>? {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONParseError) -> Set<String>? in
            var cursor = Cursor(bytes: buffer, maximumDepth: maximumDepth)
            cursor.materialize = false
            cursor.skipWhitespace()
            if cursor.index == buffer.count { throw cursor.error("empty document") }
            let isObject = buffer[cursor.index] == UInt8(ascii: "{")
            let value = try cursor.parseValue()
            cursor.skipWhitespace()
            if cursor.index != buffer.count {
                throw cursor.error("unexpected \(cursor.describeCurrent()) after the end of the document")
            }
            _ = value
            return isObject ? Set(cursor.topLevelKeys) : nil
        }
    }
}

private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    let maximumDepth: Int
    var index = 0
    var depth = 0
    /// When false, values below the top level are validated but not built
    /// (strings and numbers come back empty, arrays empty, objects with
    /// their keys and null values).
    var materialize = true
    /// Without `materialize`: the keys of the top-level object.
    var topLevelKeys: [String] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    func error(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        let at = min(offset ?? index, bytes.count)
        var line = 1
        var lineStart = 0
        for i in 0..<at where bytes[i] == UInt8(ascii: "\n") {
            line += 1
            lineStart = i + 1
        }
        return JSONParseError(offset: at, line: line, column: at - lineStart + 1, reason: reason)
    }

    func describeCurrent() -> String {
        guard index < bytes.count else { return "end of input" }
        let b = bytes[index]
        if b >= 0x20 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16))"
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0a, 0x0d: index += 1
            default: return
            }
        }
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        if index == bytes.count { throw error("empty document") }
        let value = try parseValue()
        skipWhitespace()
        if index != bytes.count {
            throw error("unexpected \(describeCurrent()) after the end of the document")
        }
        return value
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString(build: materialize))
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected \(describeCurrent()), expected a value")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = index
        let utf8 = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for b in utf8 {
            guard index < bytes.count, bytes[index] == b else {
                throw error("invalid literal, expected '\(literal)'", at: start)
            }
            index += 1
        }
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maximumDepth { throw error("nesting deeper than \(maximumDepth) levels") }
    }

    /// Validates an object without building it: keys are checked for
    /// duplicates with a linear scan (messages have a few dozen keys, and
    /// hashing every key costs more than comparing them).
    mutating func skimObject() throws(JSONParseError) -> JSONValue {
        try enter()
        index += 1
        var keys: [String] = []
        var manyKeys: Set<String>? = nil  // past 64 keys, hash instead of scanning
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .null
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeCurrent()), expected an object key in double quotes")
            }
            let keyStart = index
            let key = try parseString(build: true)
            let duplicate: Bool
            if var set = manyKeys {
                manyKeys = nil  // keep the set uniquely referenced while inserting
                duplicate = !set.insert(key).inserted
                manyKeys = set
            } else {
                duplicate = keys.contains(key)
                if keys.count == 64 { manyKeys = Set(keys + [key]) }
            }
            if duplicate {
                throw error("duplicate object key \"\(key)\"", at: keyStart)
            }
            keys.append(key)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeCurrent()), expected ':' after object key")
            }
            index += 1
            skipWhitespace()
            _ = try parseValue()
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or '}'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; break }
            throw error("unexpected \(describeCurrent()), expected ',' or '}'")
        }
        if depth == 1 { topLevelKeys = keys }
        depth -= 1
        return .null
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        if !materialize { return try skimObject() }
        try enter()
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeCurrent()), expected an object key in double quotes")
            }
            let keyStart = index
            let key = try parseString(build: true)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeCurrent()), expected ':' after object key")
            }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            if members.updateValue(materialize ? value : .null, forKey: key) != nil {
                throw error("duplicate object key \"\(key)\"", at: keyStart)
            }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or '}'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; break }
            throw error("unexpected \(describeCurrent()), expected ',' or '}'")
        }
        depth -= 1
        return .object(members)
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            let item = try parseValue()
            if materialize { items.append(item) }
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input, expected ',' or ']'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; break }
            throw error("unexpected \(describeCurrent()), expected ',' or ']'")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseNumber() throws(JSONParseError) -> String {
        let start = index
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("invalid number: expected a digit") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error("invalid number: leading zero") }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("invalid number: expected a digit after '.'")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw error("invalid number: expected a digit in the exponent")
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return materialize ? String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) : ""
    }

    mutating func hexQuad() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("unexpected end of input in a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[index]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape: expected a hexadecimal digit")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    /// Parses a string starting at the opening quote; validates UTF-8 as it goes.
    mutating func parseString(build: Bool) throws(JSONParseError) -> String {
        if !build { try skipString(); return "" }
        index += 1
        let start = index
        var scalars: String.UnicodeScalarView? = nil  // only built when escapes appear
        var plainEnd = start
        while true {
            guard index < bytes.count else { throw error("unterminated string", at: start - 1) }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                let result: String
                if var view = scalars {
                    view.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[plainEnd..<index]),
                                                   as: UTF8.self).unicodeScalars)
                    result = String(view)
                } else {
                    result = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                }
                index += 1
                return result
            }
            if b == UInt8(ascii: "\\") {
                if scalars == nil { scalars = String.UnicodeScalarView() }
                scalars!.append(contentsOf: String(decoding: UnsafeBufferPointer(rebasing: bytes[plainEnd..<index]),
                                                   as: UTF8.self).unicodeScalars)
                let escapeStart = index
                index += 1
                guard index < bytes.count else { throw error("unterminated escape sequence") }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): scalars!.append("\"")
                case UInt8(ascii: "\\"): scalars!.append("\\")
                case UInt8(ascii: "/"): scalars!.append("/")
                case UInt8(ascii: "b"): scalars!.append("\u{08}")
                case UInt8(ascii: "f"): scalars!.append("\u{0C}")
                case UInt8(ascii: "n"): scalars!.append("\n")
                case UInt8(ascii: "r"): scalars!.append("\r")
                case UInt8(ascii: "t"): scalars!.append("\t")
                case UInt8(ascii: "u"):
                    let high = try hexQuad()
                    var value = high
                    if (0xD800...0xDBFF).contains(high) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("lone high surrogate in \\u escape", at: escapeStart)
                        }
                        index += 2
                        let low = try hexQuad()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw error("high surrogate not followed by a low surrogate", at: escapeStart)
                        }
                        value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(high) {
                        throw error("lone low surrogate in \\u escape", at: escapeStart)
                    }
                    scalars!.append(Unicode.Scalar(value)!)
                default:
                    throw error("invalid escape sequence '\\\(Character(Unicode.Scalar(e)))'", at: escapeStart)
                }
                plainEnd = index
                continue
            }
            if b < 0x20 { throw error("control character 0x\(String(b, radix: 16)) in string must be escaped") }
            if b < 0x80 { index += 1; continue }
            try skipMultiByteScalar()
        }
    }

    /// Validates a string starting at the opening quote without building it.
    mutating func skipString() throws(JSONParseError) {
        let start = index
        index += 1
        while true {
            guard index < bytes.count else { throw error("unterminated string", at: start) }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") { index += 1; return }
            if b == UInt8(ascii: "\\") {
                // Escapes are rare: validate them with the building path.
                index = start
                _ = try parseString(build: true)
                return
            }
            if b < 0x20 { throw error("control character 0x\(String(b, radix: 16)) in string must be escaped") }
            if b < 0x80 { index += 1; continue }
            try skipMultiByteScalar()
        }
    }

    /// Validates one multi-byte UTF-8 sequence (Unicode table 3-7) at `index`.
    mutating func skipMultiByteScalar() throws(JSONParseError) {
        let b0 = bytes[index]
        let count: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: count = 2
        case 0xE0: count = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: count = 3
        case 0xED: count = 3; upperBound = 0x9F
        case 0xF0: count = 4; lowerBound = 0x90
        case 0xF1...0xF3: count = 4
        case 0xF4: count = 4; upperBound = 0x8F
        default: throw error("invalid UTF-8 byte 0x\(String(b0, radix: 16))")
        }
        guard index + count <= bytes.count else { throw error("truncated UTF-8 sequence") }
        let b1 = bytes[index + 1]
        guard b1 >= lowerBound && b1 <= upperBound else { throw error("invalid UTF-8 sequence") }
        for k in 2..<max(2, count) where k < count {
            let bk = bytes[index + k]
            guard bk >= 0x80 && bk <= 0xBF else { throw error("invalid UTF-8 sequence") }
        }
        index += count
    }
}
