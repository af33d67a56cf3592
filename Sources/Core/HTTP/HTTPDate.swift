public import Foundation

/// The RFC 1123 date an HTTP `Date` header carries ("Fri, 06 Jun 2014
/// 13:39:43 GMT"), written from `gmtime_r`: a `DateFormatter` made per
/// request (it loads ICU's locale data) was a fifth of a signed REST call's CPU.
public enum HTTPDate {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `date`, whole seconds (rounded down), in the IMF-fixdate form of RFC 9110 §5.6.7 (years 0–9999).
    public static func text(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(max(0, value))
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return weekdays[Int(parts.tm_wday)] + ", " + digits(parts.tm_mday, 2) + " " + months[Int(parts.tm_mon)] + " "
            + digits(parts.tm_year + 1900, 4) + " " + digits(parts.tm_hour, 2) + ":" + digits(parts.tm_min, 2) + ":"
            + digits(parts.tm_sec, 2) + " GMT"
    }
}
