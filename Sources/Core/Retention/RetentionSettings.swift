public import Foundation

/// The ages ``RetentionRule``s keep rows for, from the `retention:` section
/// of `fundq.yaml` (defaults in the README). A value of `keep` (or `null`)
/// keeps the table's rows for ever.
///
/// ```yaml
/// retention:
///   pending_resolved_days: 90
///   decision_log_days: 365
///   tracking_event_days: 90
///   impressions_minute_days: keep
///   redis_idle_queue_days: 30
///   batch_size: 1000
/// ```
public struct RetentionSettings: Sendable, Equatable {
    /// Days per rule setting; a setting mapped to nil keeps rows for ever.
    public var days: [String: Double?] = [:]
    /// Days a Redis queue with nothing waiting or in flight keeps its id
    /// counter after its last use (nil: for ever).
    public var redisIdleQueueDays: Double? = 30
    /// Rows removed per statement (each its own short transaction).
    public var batchSize = 1_000

    /// The defaults.
    public init() {}

    /// The age `rule` keeps rows for, in days (nil: for ever).
    public func days(for rule: RetentionRule) -> Double? {
        guard let setting = rule.setting else { return nil }
        if let configured = days[setting] { return configured }
        return rule.defaultDays
    }

    /// Every setting `fundq.yaml` may hold under `retention:`.
    public static var knownSettings: Set<String> {
        Set(RetentionRule.all.compactMap(\.setting) + ["redis_idle_queue_days", "batch_size"])
    }

    /// Reads the `retention:` section of the YAML file at `path`; the
    /// defaults when there is no file at the default path.
    public static func load(path: String, required: Bool) throws -> RetentionSettings {
        guard FileManager.default.fileExists(atPath: path) else {
            if required { throw ConfigurationError("cannot read \(path): no such file") }
            return RetentionSettings()
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ConfigurationError("cannot read \(path)") }
        return try parse(text, source: path)
    }

    /// Parses YAML `text` (a mapping, with an optional `retention:` mapping).
    public static func parse(_ text: String, source: String) throws -> RetentionSettings {
        guard let retention = try SettingsFile.section("retention", in: text, source: source) else { return RetentionSettings() }
        var settings = RetentionSettings()
        for (key, value) in retention {
            guard knownSettings.contains(key) else {
                let known = knownSettings.sorted().joined(separator: ", ")
                throw ConfigurationError("\(source): unknown retention setting \(key) (known: \(known))")
            }
            try settings.apply(key, value, source: source)
        }
        return settings
    }

    private mutating func apply(_ key: String, _ value: Any, source: String) throws {
        if key == "batch_size" {
            guard let n = value as? Int, n >= 1, n <= 100_000 else {
                throw ConfigurationError("\(source): retention.batch_size must be a whole number from 1 to 100000")
            }
            batchSize = n
            return
        }
        let parsed = try Self.days(value, key: key, source: source)
        if key == "redis_idle_queue_days" { redisIdleQueueDays = parsed } else { days[key] = parsed }
    }

    private static func days(_ value: Any, key: String, source: String) throws -> Double? {
        if value is NSNull || (value as? String) == "keep" { return nil }
        let number = (value as? Int).map(Double.init) ?? (value as? Double)
        guard let number, number > 0, number.isFinite, !(value is Bool) else {
            throw ConfigurationError("\(source): retention.\(key) must be a positive number of days or `keep`")
        }
        return number
    }
}
