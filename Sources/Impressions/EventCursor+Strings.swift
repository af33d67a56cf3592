/// Strings: the fast path borrows the bytes; a string with escapes is
/// decoded into the scanner's scratch space.
extension EventCursor {
    /// Parses a string whose `"` is at `index`; nil when it is invalid.
    /// Inline for the common case, a string of plain ASCII found by
    /// ``skipPlainBytes()`` alone (keys and most values: a call per string,
    /// fifty strings per event, was a tenth of the scan); anything else goes
    /// on in ``parseStringRest(from:)``.
    @inline(__always)
    mutating func parseString() -> ByteSpan? {
        index += 1
        let start = index
        skipPlainBytes()
        if index < end, base[index] == UInt8(ascii: "\"") {
            index += 1
            return ByteSpan(base + start, index - 1 - start)
        }
        return parseStringRest(from: start)
    }

    /// The rest of a string begun at `start` (its first byte after the `"`),
    /// `index` at a byte ``skipPlainBytes()`` stopped at (or the end).
    @inline(never)
    mutating func parseStringRest(from start: Int) -> ByteSpan? {
        var escaped = false
        while index < end {
            skipPlainBytes()
            guard index < end else { break }
            let c = base[index]
            if c == UInt8(ascii: "\"") {
                let span = ByteSpan(base + start, index - start)
                index += 1
                return escaped ? decodeEscapes(span) : span
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard skipEscape() else { return nil }
            } else if c < 0x20 {
                return nil
            } else if c < 0x80 {
                index += 1
            } else {
                guard skipUTF8Sequence() else { return nil }
            }
        }
        return nil
    }

    /// Skips eight bytes at a time while none is `"`, `\\`, a control
    /// character or non-ASCII (SWAR: the lowest flagged byte is exact).
    @inline(__always)
    mutating func skipPlainBytes() {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let raw = UnsafeRawPointer(base)
        while index + 8 <= end {
            let w = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            let quote = w ^ (ones &* 0x22)
            let backslash = w ^ (ones &* 0x5C)
            var flagged = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
            flagged |= (w &- ones &* 0x20) & ~w
            flagged = (flagged | w) & highs
            if flagged != 0 {
                index += flagged.trailingZeroBitCount / 8
                return
            }
            index += 8
        }
    }

    /// Checks one escape at `index` (`\` then one of `"\/bfnrt` or `u` and four hex digits).
    mutating func skipEscape() -> Bool {
        guard index + 1 < end else { return false }
        switch base[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
            return true
        case UInt8(ascii: "u"):
            guard index + 5 < end, EventCursor.hex4(base + index + 2) != nil else { return false }
            index += 6
            return true
        default:
            return false
        }
    }

    static func hex4(_ p: UnsafePointer<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        for i in 0..<4 {
            let c = p[i]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Checks one well-formed UTF-8 sequence of two to four bytes at `index`.
    mutating func skipUTF8Sequence() -> Bool {
        let c = base[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return false
        }
        guard index + length <= end else { return false }
        let second = base[index + 1]
        guard second >= low && second <= high else { return false }
        for k in 2..<length where base[index + k] & 0xC0 != 0x80 { return false }
        index += length
        return true
    }

    /// Decodes a string's escapes into the scratch space (already checked
    /// by ``skipEscape()``); nil for a lone surrogate.
    mutating func decodeEscapes(_ raw: ByteSpan) -> ByteSpan? {
        let out = scratch + scratchUsed
        var n = 0
        var i = 0
        while i < raw.count {
            let c = raw.base[i]
            guard c == UInt8(ascii: "\\") else { out[n] = c; n += 1; i += 1; continue }
            let e = raw.base[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out[n] = 0x08
            case UInt8(ascii: "f"): out[n] = 0x0C
            case UInt8(ascii: "n"): out[n] = 0x0A
            case UInt8(ascii: "r"): out[n] = 0x0D
            case UInt8(ascii: "t"): out[n] = 0x09
            case UInt8(ascii: "u"):
                guard let scalar = decodeUnicodeEscape(raw, at: &i) else { return nil }
                n += EventCursor.writeUTF8(scalar, to: out + n)
                continue
            default: out[n] = e
            }
            n += 1
        }
        scratchUsed += n
        return ByteSpan(UnsafePointer(out), n)
    }

    /// The scalar of `\uXXXX` (its hex at `i - 0`… after the `\u`), joining
    /// a surrogate pair; advances `i` past what it read.
    func decodeUnicodeEscape(_ raw: ByteSpan, at i: inout Int) -> UInt32? {
        guard let unit = EventCursor.hex4(raw.base + i) else { return nil }
        i += 4
        switch unit {
        case 0xD800...0xDBFF:
            guard i + 6 <= raw.count, raw.base[i] == UInt8(ascii: "\\"), raw.base[i + 1] == UInt8(ascii: "u"),
                  let low = EventCursor.hex4(raw.base + i + 2), (0xDC00...0xDFFF).contains(low) else { return nil }
            i += 6
            return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
        case 0xDC00...0xDFFF:
            return nil
        default:
            return unit
        }
    }

    /// Writes `scalar` as UTF-8 (at most 4 bytes; `\uXXXX` takes 6, so the
    /// decoded text never outgrows the raw text); returns the byte count.
    static func writeUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            out[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            out[0] = UInt8(0xC0 | (scalar >> 6))
            out[1] = UInt8(0x80 | (scalar & 0x3F))
            return 2
        case 0x800..<0x10000:
            out[0] = UInt8(0xE0 | (scalar >> 12))
            out[1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            out[2] = UInt8(0x80 | (scalar & 0x3F))
            return 3
        default:
            out[0] = UInt8(0xF0 | (scalar >> 18))
            out[1] = UInt8(0x80 | ((scalar >> 12) & 0x3F))
            out[2] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            out[3] = UInt8(0x80 | (scalar & 0x3F))
            return 4
        }
    }
}
