import Foundation

/// The rules deciding what an event counts for, in order: a bot is skipped,
/// an event whose banner was not shown is skipped, then every field is
/// checked; the first invalid field names the reject reason.
enum ImpressionRules {
    /// Country recorded when an event has none.
    static let unknownCountry: StaticString = "XX"
    /// Language recorded when an event has none (BCP 47 "undetermined").
    static let unknownLanguage: StaticString = "und"
    /// Project or device recorded when an event has none.
    static let unknown: StaticString = "unknown"
    /// Smallest sample rate accepted (a weight of a million).
    static let minimumSampleRate = 1e-6

    static func decide(_ raw: RawEvent) -> ScanResult {
        switch raw.isBot {
        case .absent: break
        case .bool(let isBot): if isBot { return .skipped(.bot) }
        default: return .rejected(.invalidIsBot)
        }
        guard let shown = isShown(raw) else { return .rejected(.invalidStatus) }
        guard shown else { return .skipped(.notShown) }
        guard case .string(let dt) = raw.dt, let minute = ImpressionTime.minute(dt) else { return .rejected(.invalidDate) }
        guard let banner = name(raw.banner) else { return .rejected(.invalidBanner) }
        guard let campaign = name(raw.campaign) else { return .rejected(.invalidCampaign) }
        guard let weight = weight(raw.sampleRate) else { return .rejected(.invalidSampleRate) }
        guard let country = field(raw.country, default: unknownCountry, maximum: 2, allowed: isCountryByte),
              country.count == 2 else { return .rejected(.invalidCountry) }
        guard let language = field(raw.uselang, default: unknownLanguage, maximum: 35, allowed: isLanguageByte) else {
            return .rejected(.invalidLanguage)
        }
        guard let project = field(raw.project, default: unknown, maximum: 64, allowed: isProjectByte) else {
            return .rejected(.invalidProject)
        }
        guard let device = field(raw.device, default: unknown, maximum: 32, allowed: isLanguageByte) else {
            return .rejected(.invalidDevice)
        }
        return .counted(ImpressionFields(minute: minute, weight: weight, banner: banner, campaign: campaign,
                                         project: project, language: language, country: country, device: device))
    }

    /// Shown when `statusCode` is "6" (string or number) or `result` is
    /// "show"; nil when either has a type it never has.
    static func isShown(_ raw: RawEvent) -> Bool? {
        var shown = false
        switch raw.statusCode {
        case .absent: break
        case .string(let s), .number(let s): shown = s.equals("6")
        default: return nil
        }
        switch raw.result {
        case .absent: break
        case .string(let s): shown = shown || s.equals("show")
        default: return nil
        }
        return shown
    }

    /// A banner or campaign name: `^[A-Za-z0-9_]+$`, at most 255 bytes.
    static func name(_ value: RawField) -> ByteSpan? {
        guard case .string(let s) = value, s.count > 0, s.count <= 255 else { return nil }
        for i in 0..<s.count where !isNameByte(s.base[i]) { return nil }
        return s
    }

    /// An optional text field: its default when absent, nil when invalid.
    static func field(_ value: RawField, default fallback: StaticString, maximum: Int, allowed: (UInt8) -> Bool) -> ByteSpan? {
        switch value {
        case .absent:
            return ByteSpan(fallback)
        case .string(let s):
            guard s.count > 0, s.count <= maximum else { return nil }
            for i in 0..<s.count where !allowed(s.base[i]) { return nil }
            return s
        default:
            return nil
        }
    }

    /// 1 / `impressionEventSampleRate`, rounded; nil unless the rate is a
    /// JSON number in [1e-6, 1].
    static func weight(_ value: RawField) -> Int64? {
        guard case .number(let text) = value, text.count <= 64 else { return nil }
        let rate = shortDecimal(text) ?? withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buffer -> Double in
            let p = buffer.baseAddress!
            UnsafeMutableRawPointer(p).copyMemory(from: text.base, byteCount: text.count)
            p[text.count] = 0
            return strtod(p, nil)
        }
        guard rate.isFinite, rate >= minimumSampleRate, rate <= 1 else { return nil }
        return Int64((1 / rate).rounded())
    }

    /// A JSON number of the form `D[.D]` with at most 15 digits, exactly as
    /// `strtod` reads it: the digits and the power of ten are both exact
    /// doubles, and one IEEE division rounds correctly (Clinger's fast
    /// path). nil for anything else (sign, exponent, more digits). The
    /// rates are all of this form; `strtod` was a tenth of the scan.
    static func shortDecimal(_ text: ByteSpan) -> Double? {
        var digits: Int64 = 0
        var count = 0
        var fraction = -1
        for i in 0..<text.count {
            let c = text.base[i]
            if c == UInt8(ascii: "."), fraction < 0 {
                fraction = 0
                continue
            }
            guard (c &- 0x30) < 10, count < 15 else { return nil }
            digits = digits * 10 + Int64(c &- 0x30)
            count += 1
            if fraction >= 0 { fraction += 1 }
        }
        guard count > 0 else { return nil }
        return fraction > 0 ? Double(digits) / exactPowersOfTen[fraction] : Double(digits)
    }

    /// 10^0 … 10^15, each exact as a double.
    static let exactPowersOfTen: [Double] = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15]

    @inline(__always) static func isNameByte(_ c: UInt8) -> Bool {
        (c &- 0x30) < 10 || ((c | 0x20) &- 0x61) < 26 || c == UInt8(ascii: "_")
    }

    @inline(__always) static func isCountryByte(_ c: UInt8) -> Bool { (c &- 0x41) < 26 }

    @inline(__always) static func isLanguageByte(_ c: UInt8) -> Bool {
        (c &- 0x30) < 10 || (c &- 0x61) < 26 || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
    }

    @inline(__always) static func isProjectByte(_ c: UInt8) -> Bool {
        isLanguageByte(c) || c == UInt8(ascii: ".")
    }
}

/// ISO 8601 dates in events, to the start of their minute in UTC.
enum ImpressionTime {
    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)` → unix seconds of
    /// the minute's start; nil for anything else or an impossible date.
    static func minute(_ s: ByteSpan) -> Int64? {
        let p = s.base
        guard s.count >= 20, p[4] == UInt8(ascii: "-"), p[7] == UInt8(ascii: "-"), p[10] == UInt8(ascii: "T"),
              p[13] == UInt8(ascii: ":"), p[16] == UInt8(ascii: ":"),
              let year = digits(p, 0, 4), let month = digits(p, 5, 2), let day = digits(p, 8, 2),
              let hour = digits(p, 11, 2), let minute = digits(p, 14, 2), let second = digits(p, 17, 2),
              (1970...9999).contains(year), (1...12).contains(month), day >= 1, day <= daysIn(month, year),
              hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        if p[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < s.count, (p[i] &- 0x30) < 10 { i += 1 }
            guard i > start else { return nil }
        }
        guard let offset = zoneOffset(p, from: i, count: s.count) else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60) - offset
        return seconds - ((seconds % 60) + 60) % 60
    }

    /// Seconds east of UTC of `Z`, `±HH:MM` or `±HHMM` ending the text.
    static func zoneOffset(_ p: UnsafePointer<UInt8>, from i: Int, count: Int) -> Int64? {
        let rest = count - i
        if rest == 1, p[i] == UInt8(ascii: "Z") { return 0 }
        guard rest == 6 || rest == 5, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") else { return nil }
        guard let h = digits(p, i + 1, 2), h < 24 else { return nil }
        let minuteAt = rest == 6 ? i + 4 : i + 3
        if rest == 6 { guard p[i + 3] == UInt8(ascii: ":") else { return nil } }
        guard let m = digits(p, minuteAt, 2), m < 60 else { return nil }
        let offset = Int64(h * 3600 + m * 60)
        return p[i] == UInt8(ascii: "-") ? -offset : offset
    }

    @inline(__always) static func digits(_ p: UnsafePointer<UInt8>, _ at: Int, _ n: Int) -> Int? {
        var v = 0
        for k in 0..<n {
            let d = p[at + k] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return Int64(era * 146_097 + doe - 719_468)
    }
}
