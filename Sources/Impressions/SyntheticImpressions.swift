import Foundation

/// Deterministic impression events shaped like the banner system's, for the
/// benchmark and the tests: each comes with the outcome it was built to
/// have, so ground truth never depends on the scanner under test.
public struct SyntheticImpressions: Sendable {
    /// One generated event and what it was built to count for.
    public struct Event: Sendable {
        /// The JSON object, one line, no line end.
        public let bytes: [UInt8]
        /// What it must count for.
        public let expected: ImpressionOutcome
    }

    private var state: UInt64
    /// Start of the first minute events fall in (unix seconds).
    public let baseMinute: Int64
    /// Minutes events spread over.
    public let minutes: Int64
    /// Share of events built invalid or skipped (0…1).
    public let poisonShare: Double
    /// Events per minute when time moves forward as in a stream (nil: each
    /// event in a random minute).
    public let eventsPerMinute: Int?
    private var index = 0

    /// A generator; the same seed gives the same events.
    public init(seed: UInt64, baseMinute: Int64 = 1_764_547_200, minutes: Int64 = 60, poisonShare: Double = 0.1,
                eventsPerMinute: Int? = nil) {
        self.eventsPerMinute = eventsPerMinute
        state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        self.baseMinute = baseMinute
        self.minutes = minutes
        self.poisonShare = poisonShare
    }

    mutating func next(_ bound: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(bound))
    }

    static let banners = ["B26_1201_en6C_dsk_p1_lg_txt_cnt", "B26_1201_en6C_dsk_p2_sm_txt_cnt", "B26_1201_frFR_mob_p1",
                          "B26_1201_deDE_dsk_p1", "Banner_A", "banner_a", "B26_1201_jaJP_ipd_p1", "WLM_2026_thankyou"]
    static let campaigns = ["C26_enWW_dsk_FR", "C26_frFR_mob_FR", "C26_deDE_dsk_FR", "WLM_2026"]
    static let countries = ["US", "GB", "FR", "DE", "JP", "XX", "IN", "BR"]
    static let languages = ["en", "fr", "de", "ja", "zh-hans", "be-tarask", "pt-br"]
    static let projects = ["wikipedia", "wiktionary", "wikivoyage"]
    static let devices = ["desktop", "android", "iphone", "ipad", "unknown"]
    static let rates = [0.01, 0.1, 1, 0.5, 0.25, 0.001]

    /// The next event.
    public mutating func event() -> Event {
        index += 1
        let roll = Double(next(1_000_000)) / 1_000_000
        if roll < poisonShare { return poison() }
        return counted()
    }

    mutating func nextMinute() -> Int64 {
        guard let eventsPerMinute else { return baseMinute + Int64(next(Int(minutes))) * 60 }
        return baseMinute + Int64((index / eventsPerMinute) % Int(minutes)) * 60
    }

    mutating func iso(_ minute: Int64, second: Int) -> String {
        let date = Date(timeIntervalSince1970: Double(minute + Int64(second)))
        var t = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&t, &parts)
        let fraction = next(2) == 0 ? "" : String(format: ".%03d", next(1000))
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec) + fraction + "Z"
    }

    mutating func counted() -> Event {
        // Realistic cardinality: a banner belongs to one campaign, a country
        // mostly reads one language, most traffic is Wikipedia.
        let minute = nextMinute()
        let b = next(Self.banners.count)
        let c = next(Self.countries.count)
        let key = ImpressionKey(
            minute: minute, banner: Self.banners[b], campaign: Self.campaigns[b % Self.campaigns.count],
            project: next(10) == 0 ? Self.projects[next(Self.projects.count)] : "wikipedia",
            language: next(5) == 0 ? Self.languages[next(Self.languages.count)] : Self.languages[c % Self.languages.count],
            country: Self.countries[c], device: Self.devices[next(Self.devices.count)])
        let rate = Self.rates[next(Self.rates.count)]
        let statusField = next(3)
        let status = statusField == 0 ? #""statusCode":"6","result":"show""# : statusField == 1 ? #""statusCode":6"# : #""result":"show""#
        let text = Self.render(dt: iso(minute, second: next(60)), uuid: next(1 << 30), isBot: "false", banner: "\"\(key.banner)\"",
                               campaign: "\"\(key.campaign)\"", country: key.country, language: key.language,
                               status: status, device: key.device, project: key.project, rate: String(rate))
        let impression = ScannedImpression(minute: minute, weight: Int64((1 / rate).rounded()), banner: key.banner, campaign: key.campaign,
                                           project: key.project, language: key.language, country: key.country, device: key.device)
        return Event(bytes: Array(text.utf8), expected: .counted(impression))
    }

    static func render(dt: String, uuid: Int, isBot: String, banner: String, campaign: String, country: String,
                       language: String, status: String, device: String, project: String, rate: String) -> String {
        #"{"dt":"\#(dt)","uuid":"\#(String(uuid, radix: 16))-4b1c-9d2e-5f60718293a4","wiki":"enwiki","# +
            #""userAgent":{"browser_family":"Chrome","browser_major":"131","is_bot":\#(isBot),"is_mediawiki":false,"os_family":"Linux"},"# +
            #""event":{"banner":\#(banner),"campaign":\#(campaign),"country":"\#(country)","db":"enwiki","uselang":"\#(language)","# +
            #"\#(status),"anonymous":true,"bucket":1,"device":"\#(device)","project":"\#(project)","region":"CA","# +
            #""impressionEventSampleRate":\#(rate),"recordImpressionSampleRate":0.01,"debug":false},"# +
            #""meta":{"stream":"eventlogging_CentralNoticeImpression","domain":"en.wikipedia.org"}}"#
    }
}

extension SyntheticImpressions {
    /// A bot, a hidden banner, or an event broken in one of many ways.
    mutating func poison() -> Event {
        let minute = nextMinute()
        let dt = iso(minute, second: next(60))
        func build(dt: String = dt, isBot: String = "false", banner: String = "\"B26_poison\"", campaign: String = "\"C26_poison\"",
                   country: String = "US", language: String = "en", status: String = #""statusCode":"6""#,
                   device: String = "desktop", project: String = "wikipedia", rate: String = "0.01") -> [UInt8] {
            Array(Self.render(dt: dt, uuid: next(1 << 30), isBot: isBot, banner: banner, campaign: campaign, country: country,
                              language: language, status: status, device: device, project: project, rate: rate).utf8)
        }
        let kind = next(24)
        switch kind {
        case 0: return Event(bytes: build(isBot: "true"), expected: .skipped(.bot))
        case 1: return Event(bytes: build(status: #""statusCode":"4","result":"hide""#), expected: .skipped(.notShown))
        case 2: return Event(bytes: Array(build().dropLast(7)), expected: .rejected(.malformedJSON))
        case 3: return Event(bytes: build(dt: "2026-02-30T10:00:00Z"), expected: .rejected(.invalidDate))
        case 4: return Event(bytes: build(dt: "yesterday"), expected: .rejected(.invalidDate))
        case 5: return Event(bytes: build(banner: "\"Bänner_1\""), expected: .rejected(.invalidBanner))
        case 6: return Event(bytes: build(banner: "true"), expected: .rejected(.invalidBanner))
        case 7: return Event(bytes: build(campaign: "\"C26 with space\""), expected: .rejected(.invalidCampaign))
        case 8: return Event(bytes: build(rate: "0"), expected: .rejected(.invalidSampleRate))
        case 9: return Event(bytes: build(rate: "\"NaN\""), expected: .rejected(.invalidSampleRate))
        case 10: return Event(bytes: build(rate: "1e999"), expected: .rejected(.invalidSampleRate))
        case 11: return Event(bytes: build(rate: "-0.5"), expected: .rejected(.invalidSampleRate))
        case 12: return Event(bytes: build(isBot: "\"no\""), expected: .rejected(.invalidIsBot))
        case 13: return Event(bytes: build(country: "usa"), expected: .rejected(.invalidCountry))
        case 14: return Event(bytes: build(language: "EN US"), expected: .rejected(.invalidLanguage))
        case 15: return Event(bytes: build(status: #""statusCode":["6"]"#), expected: .rejected(.invalidStatus))
        case 16: return Event(bytes: build(device: "desk\\ttop"), expected: .rejected(.invalidDevice))
        case 17:
            let duplicate = #"{"dt":"\#(dt)","event":{"banner":"A","banner":"B"}}"#
            return Event(bytes: Array(duplicate.utf8), expected: .rejected(.malformedJSON))
        case 18: return Event(bytes: build(banner: "\"B26_\u{FF}\""), expected: .rejected(.invalidBanner))
        case 19: return Event(bytes: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], expected: .rejected(.malformedJSON))
        case 20: return Event(bytes: build(project: "wiki/pedia"), expected: .rejected(.invalidProject))
        case 21: return Event(bytes: Array("[1,2,3]".utf8), expected: .rejected(.malformedJSON))
        case 22: return Event(bytes: build(rate: "123456789012345678901234567890"), expected: .rejected(.invalidSampleRate))
        default:
            // Rarely an oversize event; otherwise a banner name with an escaped letter (valid, counted).
            if next(50) == 0 {
                return Event(bytes: build(project: String(repeating: "p", count: 70_000)), expected: .rejected(.oversizeEvent))
            }
            let impression = ScannedImpression(minute: minute, weight: 100, banner: "B26_escaped", campaign: "C26_poison",
                                               project: "wikipedia", language: "en", country: "US", device: "desktop")
            return Event(bytes: build(banner: #""B26_\u0065scaped""#), expected: .counted(impression))
        }
    }
}
