/// Durations as people write them: "90", "90s", "20m", "6h", "14d".
public enum DurationText {
    /// The seconds `text` names, or nil when it is not a non-negative finite duration.
    public static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        var number = Substring(text)
        var unit = 1.0
        if let last = number.last, let factor = units[last] {
            unit = factor
            number = number.dropLast()
        }
        guard let value = Double(number), value >= 0, value.isFinite else { return nil }
        return value * unit
    }

    /// The days `text` names: a duration with a unit (`90d`, `12w`, `36h`), or
    /// a bare number read as days (the `--days N` options' meaning before units).
    public static func days(_ text: String) -> Double? {
        if let bare = Double(text) { return bare >= 0 && bare.isFinite ? bare : nil }
        return seconds(text).map { $0 / 86400 }
    }
}
