@testable import Core
import Foundation
import Testing

/// MariaDB date parameters and the legacy tracking `ts` are written digit by
/// digit; they must read exactly as the `printf` forms they replaced.
@Suite("Date texts")
struct DateTextTests {
    static func printf(_ date: Date) -> String {
        let t = date.timeIntervalSince1970
        var seconds = time_t(t.rounded(.down))
        var micros = Int(((t - Double(seconds)) * 1_000_000).rounded())
        if micros == 1_000_000 { seconds += 1; micros = 0 }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d.%06d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, micros)
    }

    @Test func mariadbTextIsThePrintfForm() {
        var dates = [0, -1, 0.9999995, 1_764_000_000.000_001, 1_764_547_199.999_999, -62_135_596_800, 253_402_300_799, 951_782_400.5]
            .map(Date.init(timeIntervalSince1970:))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<10_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            dates.append(Date(timeIntervalSince1970: Double(Int64(state >> 20) % 253_402_300_799) + Double(state % 1_000_000) / 1e6))
        }
        for date in dates {
            #expect(SQLDialect.mariadbText(date) == Self.printf(date), "\(date.timeIntervalSince1970)")
            #expect(SQLDialect.mariadbDate(SQLDialect.mariadbText(date)).map { abs($0.timeIntervalSince(date)) < 1e-4 } == true)
        }
        #expect(SQLDialect.mariadbText(Date(timeIntervalSince1970: 1e13)) == "out-of-range date")
    }

    @Test func legacyTimestampIsCompact() throws {
        var row = TrackingRow(id: "1")
        row.eventCount = 1
        row.firstEventAt = 1_764_000_000_999_999
        #expect(row.legacyTimestamp == "20251124160000")
        row.firstEventAt = 946_684_800_000_000
        #expect(row.legacyTimestamp == "20000101000000")
    }

    @Test func httpDateIsTheDateFormatterForm() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        var dates = [0, -1, 0.999, 951_782_400.5, 1_402_061_983, 1_764_547_199.999, 253_402_300_799, -12_212_553_600]
            .map(Date.init(timeIntervalSince1970:))
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            dates.append(Date(timeIntervalSince1970: Double(Int64(state >> 20) % 253_402_300_799) + Double(state % 1_000) / 1e3))
        }
        for date in dates { #expect(HTTPDate.text(date) == formatter.string(from: date), "\(date.timeIntervalSince1970)") }
        #expect(HTTPDate.text(Date(timeIntervalSince1970: 1_402_061_983)) == "Fri, 06 Jun 2014 13:39:43 GMT")
    }
}
