import Foundation

/// Fixed-width UTC date texts written digit by digit: `String(format:)`
/// goes through Foundation's varargs formatter, and was a fifth of the
/// tracking consumer's CPU time (three dates per row and event).
enum UTCDigits {
    /// The separators of a layout; nil writes none.
    struct Layout {
        var date: UInt8?
        var middle: UInt8?
        var time: UInt8?

        /// "2026-12-01 18:50:22" (MariaDB's DATETIME).
        static let sql = Layout(date: UInt8(ascii: "-"), middle: UInt8(ascii: " "), time: UInt8(ascii: ":"))
        /// "20261201185022" (the legacy `contribution_tracking.ts`).
        static let compact = Layout(date: nil, middle: nil, time: nil)
    }

    /// `seconds` since 1970 in `layout`, then `.ffffff` when `micros` is given.
    static func text(seconds: time_t, layout: Layout, micros: Int? = nil) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(26)
        func field(_ value: Int32, _ width: Int, _ separator: UInt8?) {
            append(Int(value), width: width, to: &bytes)
            if let separator { bytes.append(separator) }
        }
        field(parts.tm_year + 1900, 4, layout.date)
        field(parts.tm_mon + 1, 2, layout.date)
        field(parts.tm_mday, 2, layout.middle)
        field(parts.tm_hour, 2, layout.time)
        field(parts.tm_min, 2, layout.time)
        field(parts.tm_sec, 2, nil)
        if let micros {
            bytes.append(UInt8(ascii: "."))
            append(micros, width: 6, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value` (not negative) zero-padded to `width` digits, as `%0*d` does.
    static func append(_ value: Int, width: Int, to bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = max(0, value)
        if rest >= divisor * 10 {  // wider than `width`, as printf writes it
            append(rest / (divisor * 10), width: 1, to: &bytes)
            rest %= divisor * 10
        }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}
