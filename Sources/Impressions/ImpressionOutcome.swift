/// Why an impression event was refused as invalid. Each is counted, with a
/// sample kept, in `banner_impression_rejects` (`fundq impressions rejects`).
public enum ImpressionRejectReason: String, CaseIterable, Sendable, Comparable {
    /// Not one valid JSON object (syntax, invalid UTF-8, duplicate field, trailing bytes).
    case malformedJSON = "malformed_json"
    /// Longer than the loader accepts for one event.
    case oversizeEvent = "oversize_event"
    /// `userAgent.is_bot` present but not a boolean.
    case invalidIsBot = "invalid_is_bot"
    /// `event.statusCode` or `event.result` of the wrong type.
    case invalidStatus = "invalid_status"
    /// `dt` missing or not an ISO 8601 date and time.
    case invalidDate = "invalid_dt"
    /// `event.banner` missing or not matching `^[A-Za-z0-9_]+$`.
    case invalidBanner = "invalid_banner"
    /// `event.campaign` missing or not matching `^[A-Za-z0-9_]+$`.
    case invalidCampaign = "invalid_campaign"
    /// `event.impressionEventSampleRate` missing, zero, negative, above 1, below 1e-6 or not a number.
    case invalidSampleRate = "invalid_sample_rate"
    /// `event.country` not two upper-case letters.
    case invalidCountry = "invalid_country"
    /// `event.uselang` not a language code (`[a-z0-9-]`, at most 35).
    case invalidLanguage = "invalid_language"
    /// `event.project` not a project name (`[a-z0-9_.-]`, at most 64).
    case invalidProject = "invalid_project"
    /// `event.device` not a device name (`[a-z0-9_-]`, at most 32).
    case invalidDevice = "invalid_device"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// Why a valid event was not counted (not an error: bots and hidden banners).
public enum ImpressionSkipReason: String, CaseIterable, Sendable, Comparable {
    /// `userAgent.is_bot` is true.
    case bot
    /// Neither `statusCode` "6" nor `result` "show": the banner was not shown.
    case notShown = "not_shown"

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One counted impression with its fields copied out (the slow, test-facing
/// form of what the scanner produces).
public struct ScannedImpression: Sendable, Equatable {
    /// Start of the minute, unix seconds.
    public var minute: Int64
    /// How many impressions the event stands for (1 / sample rate, rounded).
    public var weight: Int64
    /// Banner name.
    public var banner: String
    /// Campaign name.
    public var campaign: String
    /// Project (`wikipedia`, …).
    public var project: String
    /// Language (`uselang`).
    public var language: String
    /// Country code.
    public var country: String
    /// Device.
    public var device: String
}

/// What the scanner decided about one event.
public enum ImpressionOutcome: Sendable, Equatable {
    /// Counted.
    case counted(ScannedImpression)
    /// Valid but not counted.
    case skipped(ImpressionSkipReason)
    /// Invalid.
    case rejected(ImpressionRejectReason)
}
