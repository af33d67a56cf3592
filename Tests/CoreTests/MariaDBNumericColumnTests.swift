import Core
import Foundation
import FundqTestSupport
import Testing

/// Fixed-width numeric columns read back through the binary protocol: a
/// DOUBLE (the rectifier's shared call-slot schedule, `rectifier_rate`) once
/// read back as an empty value, so every process took its slot at once.
@Suite("MariaDB numeric columns")
struct MariaDBNumericColumnTests {
    @Test func doubleFloatAndIntegerColumnsReadBackTheirValues() throws {
        let f = try DatabaseFixture(.mariadb)
        let db = try f.openDatabase()
        try db.executeScript("""
            CREATE TABLE numbers (d DOUBLE NOT NULL, r FLOAT NOT NULL, i BIGINT NOT NULL, s SMALLINT NOT NULL, t TEXT NOT NULL)
            """)
        try db.execute("INSERT INTO numbers (d, r, i, s, t) VALUES (?, ?, ?, ?, ?)",
                       [.real(1_800_000_000.125), .real(2.5), .integer(-9_007_199_254_740_993), .int(-7), .text("")])
        let row = try #require(try db.query("SELECT d, r, i, s, t FROM numbers", []).first)
        #expect(row[0].double == 1_800_000_000.125)
        #expect(row[1].double == 2.5)
        #expect(row[2].int64 == -9_007_199_254_740_993)
        #expect(row[3].int64 == -7)
        #expect(row[4].string == "")
        #expect(try db.query("SELECT next_slot FROM rectifier_rate", []).isEmpty)
        try db.execute("INSERT INTO rectifier_rate (name, next_slot) VALUES (?, ?)", [.text("paypal"), .real(1_800_000_123.5)])
        let slot = try db.query("SELECT next_slot FROM rectifier_rate WHERE name = ?", [.text("paypal")]).first?.first
        #expect(slot?.double == 1_800_000_123.5)
    }
}
