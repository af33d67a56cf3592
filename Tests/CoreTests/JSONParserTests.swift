import Core
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    let parser = JSONParser()

    @Test func parsesObjectsKeepingNumberLiterals() throws {
        let value = try parser.parse(#"{"gross": 10.00, "order_id": 12345678901234567890, "ok": true, "n": null, "a": [1, "x"]}"#)
        let o = try #require(value.objectValue)
        #expect(o["gross"] == .number("10.00"))
        #expect(o["order_id"] == .number("12345678901234567890"))
        #expect(o["ok"] == .bool(true))
        #expect(o["n"] == .null)
        #expect(o["a"] == .array([.number("1"), .string("x")]))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let value = try parser.parse(#"{"s": "a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#)
        #expect(value.objectValue?["s"] == .string("a\"b\\c/d\né😀"))
    }

    @Test func keepsNonASCIIText() throws {
        let value = try parser.parse(#"{"name": "Zoë Ünal 日本"}"#)
        #expect(value.objectValue?["name"] == .string("Zoë Ünal 日本"))
    }

    @Test(arguments: [
        (#"{"a": 1,}"#, 1, 9, "expected an object key"),
        (#"{"a" 1}"#, 1, 6, "expected ':'"),
        ("{\n  \"a\": tru\n}", 2, 8, "invalid literal"),
        (#"{"a": 01}"#, 1, 8, "leading zero"),
        (#"{"a": 1} x"#, 1, 10, "after the end of the document"),
        (#"{"a": "x"#, 1, 7, "unterminated string"),
        (#"{"a": 1, "a": 2}"#, 1, 10, "duplicate object key \"a\""),
        (#"{"a": "\ud800"}"#, 1, 8, "lone high surrogate"),
        (#"{"a": "\q"}"#, 1, 8, "invalid escape"),
        ("", 1, 1, "empty document"),
    ])
    func reportsErrorsWithPosition(input: String, line: Int, column: Int, reason: String) {
        do {
            _ = try parser.parse(input)
            Issue.record("parsed invalid JSON: \(input)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.column == column, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test(arguments: [
        #"{"a": 1,}"#, #"{"a" 1}"#, "{\n  \"a\": tru\n}", #"{"a": 01}"#, #"{"a": 1} x"#, #"{"a": "x"#,
        #"{"a": 1, "a": 2}"#, #"{"a": {"b": 1, "b": 2}}"#, #"{"a": "\ud800"}"#, #"{"a": "\q"}"#, "", #"{"a": [1, 2,]}"#,
    ])
    func theFastValidatorRejectsExactlyWhatTheParserRejects(input: String) {
        var parseError: JSONParseError? = nil
        var skimError: JSONParseError? = nil
        do { _ = try parser.parse(input) } catch { parseError = error }
        do { _ = try parser.objectKeys(Array(input.utf8)) } catch { skimError = error }
        #expect(parseError != nil)
        #expect(parseError == skimError)
    }

    @Test func objectsWithThousandsOfKeysAreCheckedForDuplicatesOnBothPaths() throws {
        let keys = (0..<5_000).map { #""k\#($0)":\#($0)"# }
        let unique = Array("{" + keys.joined(separator: ",") + "}").map { UInt8(ascii: $0.unicodeScalars.first!) }
        #expect(try parser.objectKeys(unique)?.count == 5_000)
        #expect(try parser.parse(unique).objectValue?.count == 5_000)
        let repeated = Array(("{" + keys.joined(separator: ",") + #","k4321":0}"#).utf8)
        #expect(throws: JSONParseError.self) { try parser.objectKeys(repeated) }
        #expect(throws: JSONParseError.self) { try parser.parse(repeated) }
    }

    @Test func theFastValidatorReturnsTopLevelKeysOnly() throws {
        #expect(try parser.objectKeys(Array(#"{"a": {"x": 1}, "b": [{"y": 2}], "c": "s\n"}"#.utf8)) == ["a", "b", "c"])
        #expect(try parser.objectKeys(Array("{}".utf8)) == [])
        #expect(try parser.objectKeys(Array("[1]".utf8)) == nil)
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        var bytes = Array(#"{"name": "ab"#.utf8)
        bytes += [0xC3, 0x28]  // 0xC3 must be followed by a continuation byte
        bytes += Array(#""}"#.utf8)
        #expect(throws: JSONParseError.self) { try parser.parse(bytes) }
        do { _ = try parser.parse(bytes) } catch {
            #expect(error.offset == 12)
            #expect(error.reason.contains("UTF-8"))
        }
        // Overlong encoding and a lone continuation byte.
        #expect(throws: JSONParseError.self) { try parser.parse(Array("\"".utf8) + [0xC0, 0xAF] + Array("\"".utf8)) }
        #expect(throws: JSONParseError.self) { try parser.parse(Array("\"".utf8) + [0x80] + Array("\"".utf8)) }
    }

    @Test func refusesDeepNestingInsteadOfOverflowingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        do {
            _ = try parser.parse(deep)
            Issue.record("accepted 100,000 levels of nesting")
        } catch {
            #expect(error.reason.contains("nesting deeper than 64"))
        }
        #expect((try? parser.parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64))) != nil)
    }

    @Test func serializesDeterministically() throws {
        let value = try parser.parse(#"{"b": [1, {"z": null}], "a": "x\n\u0001"}"#)
        #expect(value.serialized() == #"{"a":"x\n\u0001","b":[1,{"z":null}]}"#)
        #expect(try parser.parse(value.serialized()) == value)
    }

    /// Strings are escaped exactly as JSON needs, whatever surrounds the
    /// escaped characters: a quote followed by a combining accent (one
    /// character, two scalars), emoji, CRLF, every control character, DEL
    /// and non-ASCII text pass through; each serialization parses back to
    /// the same string.
    @Test func escapesStringsWhateverSurroundsTheEscapedCharacters() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init)))
        let cases: [(String, String)] = [
            ("", #""""#),
            ("plain ascii", #""plain ascii""#),
            ("\"\u{301}é", #""\"\#u{301}é""#),
            ("a\\b\"c", #""a\\b\"c""#),
            ("\r\n\t", #""\r\n\t""#),
            ("👍🏽 \u{7F} Zoë", "\"👍🏽 \u{7F} Zoë\""),
            ("\u{1}x\u{1F}", #""\u0001x\u001f""#),
        ]
        for (text, literal) in cases {
            let serialized = JSONValue.string(text).serialized()
            #expect(Array(serialized.utf8) == Array(literal.utf8), "\(literal)")
            #expect(try parser.parse(serialized) == .string(text))
        }
        let all = JSONValue.string(controls + "\"\\").serialized()
        #expect(all.hasPrefix(#""\u0000\u0001"#) && all.hasSuffix(#"\u001e\u001f\"\\""#) && all.contains(#"\b"#) == false)
        #expect(try parser.parse(all) == .string(controls + "\"\\"))
    }
}
