import Foundation
import Impressions
import Testing

/// The scanner against events built to have a known outcome, and against
/// the poison the loader must survive.
@Suite("Impression scanner")
struct ImpressionScannerTests {
    func event(dt: String = "2026-12-01T16:15:24Z", isBot: String = "false", banner: String = "\"B1\"", campaign: String = "\"C1\"",
               status: String = #""statusCode":"6""#, rate: String = "0.01", extra: String = "") -> [UInt8] {
        let text = #"{"dt":"\#(dt)","userAgent":{"is_bot":\#(isBot)},"event":{"banner":\#(banner),"campaign":\#(campaign),"#
            + #"\#(status),"country":"FR","uselang":"fr","project":"wikipedia","device":"desktop","#
            + #""impressionEventSampleRate":\#(rate)\#(extra)}}"#
        return Array(text.utf8)
    }

    @Test func generatedEventsHaveTheOutcomeTheyWereBuiltFor() {
        var generator = SyntheticImpressions(seed: 7, poisonShare: 0.3)
        let scanner = ImpressionScanner()
        var kinds: Set<String> = []
        for _ in 0..<20_000 {
            let e = generator.event()
            let got = scanner.classify(e.bytes)
            #expect(got == e.expected, "\(String(decoding: e.bytes.prefix(300), as: UTF8.self))")
            kinds.insert("\(e.expected)".components(separatedBy: "(").prefix(2).joined())
        }
        #expect(kinds.count > 10)
    }

    @Test func countedEventsAgreeWithFoundation() throws {
        // An independent reading of the same bytes for counted events.
        var generator = SyntheticImpressions(seed: 11, poisonShare: 0)
        let scanner = ImpressionScanner()
        for _ in 0..<2_000 {
            let e = generator.event()
            guard case .counted(let got) = scanner.classify(e.bytes) else { Issue.record("not counted"); continue }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(e.bytes)) as? [String: Any])
            let ev = try #require(object["event"] as? [String: Any])
            #expect(got.banner == ev["banner"] as? String)
            #expect(got.campaign == ev["campaign"] as? String)
            #expect(got.country == ev["country"] as? String)
            #expect(got.language == ev["uselang"] as? String)
            let rate = try #require(ev["impressionEventSampleRate"] as? Double)
            #expect(got.weight == Int64((1 / rate).rounded()))
        }
    }

    @Test func weightsDatesAndZones() throws {
        let s = ImpressionScanner()
        guard case .counted(let a) = s.classify(event()) else { Issue.record("not counted"); return }
        #expect(a.weight == 100)
        #expect(a.minute == 1_796_141_700)  // 2026-12-01T16:15:00Z
        guard case .counted(let b) = s.classify(event(dt: "2026-12-01T18:15:59.999+02:00", rate: "1")) else { Issue.record("zone"); return }
        #expect(b.minute == a.minute && b.weight == 1)
        guard case .counted(let c) = s.classify(event(dt: "2028-02-29T00:00:00-0030", rate: "0.25")) else { Issue.record("leap"); return }
        #expect(c.minute == 1_835_397_000 && c.weight == 4)  // 2028-02-29T00:30:00Z
        #expect(s.classify(event(dt: "2027-02-29T00:00:00Z")) == .rejected(.invalidDate))
        #expect(s.classify(event(dt: "2026-12-01 16:15:24Z")) == .rejected(.invalidDate))
        #expect(s.classify(event(dt: "2026-13-01T16:15:24Z")) == .rejected(.invalidDate))
        #expect(s.classify(event(dt: "2026-12-01T16:15:24")) == .rejected(.invalidDate))
    }

    @Test func invalidAndSkippedEvents() {
        let s = ImpressionScanner()
        #expect(s.classify(event(isBot: "true")) == .skipped(.bot))
        #expect(s.classify(event(isBot: "1")) == .rejected(.invalidIsBot))
        #expect(s.classify(event(status: #""statusCode":"4""#)) == .skipped(.notShown))
        #expect(s.classify(event(status: #""result":"hide""#)) == .skipped(.notShown))
        #expect(s.classify(event(status: #""result":true"#)) == .rejected(.invalidStatus))
        for rate in ["0", "-1", "2", "\"0.01\"", "null", "1e999", "1e-9", "true"] {
            #expect(s.classify(event(rate: rate)) == .rejected(.invalidSampleRate), "\(rate)")
        }
        #expect(s.classify(event(extra: #","impressionEventSampleRate":0.5"#)) == .rejected(.malformedJSON))
        for banner in ["\"\"", "\"B 1\"", "\"Bé\"", "\"B-1\"", "1", "null", "\"B1\\u0000\""] {
            #expect(s.classify(event(banner: banner)) == .rejected(.invalidBanner), "\(banner)")
        }
        #expect(s.classify(event(campaign: "\"\(String(repeating: "c", count: 256))\"")) == .rejected(.invalidCampaign))
        #expect(s.classify(Array(event().dropLast())) == .rejected(.malformedJSON))
        #expect(s.classify(event() + Array(" x".utf8)) == .rejected(.malformedJSON))
        // A lone surrogate is invalid JSON text wherever it is.
        #expect(s.classify(event(extra: #","x":"\ud800""#)) == .rejected(.malformedJSON))
        #expect(s.classify(event(extra: #","x":"\ud83d\ude00""#)) == .counted(s.countedFields(event())!))
        #expect(s.classify(event(banner: #""B\ud800""#)) == .rejected(.malformedJSON))
        #expect(s.classify(Array(String(repeating: "[", count: 100).utf8)) == .rejected(.malformedJSON))
        #expect(s.classify(event(extra: #","deep":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70)))
                == .rejected(.malformedJSON))
        #expect(s.classify([0xEF, 0xBB, 0xBF] + event()) == .rejected(.malformedJSON))
        #expect(s.classify(event(extra: ",\"x\":\"\u{1}\"")) == .rejected(.malformedJSON))
        var invalidUTF8 = event(extra: #","x":"ab""#)
        invalidUTF8[invalidUTF8.count - 4] = 0xC0
        #expect(s.classify(invalidUTF8) == .rejected(.malformedJSON))
    }

    @Test func namesDifferingOnlyByCaseAreDistinctAndEscapesAreDecoded() {
        let s = ImpressionScanner()
        guard case .counted(let upper) = s.classify(event(banner: "\"Banner_A\"")),
              case .counted(let lower) = s.classify(event(banner: "\"banner_a\"")),
              case .counted(let escaped) = s.classify(event(banner: #""B\u0031""#)) else { Issue.record("not counted"); return }
        #expect(upper.banner == "Banner_A" && lower.banner == "banner_a")
        #expect(escaped.banner == "B1")
    }

    /// Strings are skipped eight bytes at a time: put the byte that stops
    /// the skip (`"`, `\\`, a control byte, a non-ASCII byte) at every
    /// offset of a word, in a skipped field and in a captured one.
    @Test func stringsWhoseSpecialByteFallsAtEveryOffsetOfAWord() {
        let s = ImpressionScanner()
        let plain = s.countedFields(event())
        #expect(plain != nil)
        for n in 0..<20 {
            let run = String(repeating: "a", count: n)
            #expect(s.countedFields(event(extra: #","x":"\#(run)""#)) == plain, "quote after \(n)")
            #expect(s.countedFields(event(extra: #","x":"\#(run)\"b""#)) == plain, "escape after \(n)")
            #expect(s.countedFields(event(extra: ",\"x\":\"\(run)é€😀\"")) == plain, "UTF-8 after \(n)")
            #expect(s.classify(event(extra: ",\"x\":\"\(run)\u{1F}\"")) == .rejected(.malformedJSON), "control after \(n)")
            #expect(s.classify(event(extra: #","x":"\#(run)\q""#)) == .rejected(.malformedJSON), "bad escape after \(n)")
            for bad: [UInt8] in [[0xC0, 0x80], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xFF]] {
                var bytes = event(extra: #","x":"\#(run)""#)
                bytes.insert(contentsOf: bad, at: bytes.count - 3)  // before the closing `"}}`
                #expect(s.classify(bytes) == .rejected(.malformedJSON), "invalid UTF-8 \(bad) after \(n)")
            }
            let name = "B" + String(repeating: "1", count: n)
            #expect(s.countedFields(event(banner: "\"\(name)\""))?.banner == name, "banner of \(n + 1) bytes")
            #expect(s.countedFields(event(banner: #""\#(name)\u0031""#))?.banner == name + "1", "escape in a banner after \(n + 1)")
            #expect(s.classify(event(banner: "\"\(name)é\"")) == .rejected(.invalidBanner), "non-ASCII in a banner after \(n + 1)")
        }
    }

    /// Every prefix of an event ends inside it (often inside a string, or
    /// right after one): none is valid, none reads past its end.
    @Test func everyPrefixOfAnEventIsMalformed() {
        let s = ImpressionScanner()
        let full = event(extra: #","x":"abcdefghijklmnopqrstuvwxyz\u00e9é","y":[1,2.5e3,true,null,{"z":"w"}]"#)
        #expect(s.countedFields(full) != nil)
        for cut in 0..<full.count {
            #expect(s.classify(Array(full[0..<cut])) == .rejected(.malformedJSON), "prefix of \(cut) bytes")
        }
    }

    @Test func oversizeLinesAcrossReadChunksAreRejectedAndNeighboursSurvive() throws {
        let dir = NSTemporaryDirectory() + "fundq-scan-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/e.jsonl"
        var body: [UInt8] = []
        for i in 0..<40 {
            body += i % 10 == 5 ? event(extra: ",\"pad\":\"\(String(repeating: "p", count: 300_000))\"") : event()
            body += i % 2 == 0 ? [0x0A] : [0x0D, 0x0A]
        }
        body += event()  // no final newline
        try Data(body).write(to: URL(fileURLWithPath: path))
        let batch = ImpressionBatch()
        let reader = try EventFileReader(path: path)
        try reader.forEachLine(oversize: { batch.addOversize($0) }) { batch.add($0); return true }
        #expect(batch.events == 41)
        #expect(batch.rejects[.oversizeEvent]?.count == 4)
        #expect(batch.rows.map(\.count) == [37 * 100])
    }
}

extension ImpressionScanner {
    /// The counted form of `bytes`, for comparisons.
    func countedFields(_ bytes: [UInt8]) -> ScannedImpression? {
        if case .counted(let f) = classify(bytes) { return f }
        return nil
    }
}
