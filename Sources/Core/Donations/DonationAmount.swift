/// A money amount as a canonical decimal string ("10.5" → "10.5000"),
/// checked for the `DECIMAL(20,4)` columns: at most 16 integer digits and 4
/// decimal places. No binary floating point is ever involved.
public struct DonationAmount: Sendable, Equatable, CustomStringConvertible {
    /// Integer part digits, without leading zeros ("0" for zero).
    let integerDigits: String
    /// Exactly four decimal digits.
    let fractionDigits: String
    /// Whether the amount is below zero.
    let negative: Bool

    /// Parses `text` ("10", "10.5", "-1.25"; no exponent, no thousands separators).
    public init?(_ text: String) {
        var body = Substring(text)
        negative = body.hasPrefix("-")
        if negative { body = body.dropFirst() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit) else { return nil }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard fraction.allSatisfy(\.isASCIIDigit), fraction.count <= 4, parts.count == 1 || !fraction.isEmpty else { return nil }
        let trimmed = parts[0].drop(while: { $0 == "0" })
        integerDigits = trimmed.isEmpty ? "0" : String(trimmed)
        guard integerDigits.count <= 16 else { return nil }
        fractionDigits = fraction + String(repeating: "0", count: 4 - fraction.count)
    }

    /// Whether the amount is greater than zero.
    public var isPositive: Bool { !negative && (integerDigits != "0" || fractionDigits != "0000") }

    /// The canonical text, four decimals.
    public var description: String { (negative ? "-" : "") + integerDigits + "." + fractionDigits }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
