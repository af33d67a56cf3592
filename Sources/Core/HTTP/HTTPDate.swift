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
        var bytes = Array((weekdays[Int(parts.tm_wday)] + ", ").utf8)
        bytes.reserveCapacity(29)
        func field(_ value: Int32, _ width: Int, then separator: String) {
            UTCDigits.append(Int(value), width: width, to: &bytes)
            bytes += separator.utf8
        }
        field(parts.tm_mday, 2, then: " " + months[Int(parts.tm_mon)] + " ")
        field(parts.tm_year + 1900, 4, then: " ")
        field(parts.tm_hour, 2, then: ":")
        field(parts.tm_min, 2, then: ":")
        field(parts.tm_sec, 2, then: " GMT")
        return String(decoding: bytes, as: UTF8.self)
    }
}
