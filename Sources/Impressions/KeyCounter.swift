import Foundation

/// Counts per packed key in an open-addressing table whose keys live in one
/// byte arena: adding an event whose key is already present allocates
/// nothing. Not `Sendable`; owned by one ``ImpressionBatch``.
final class KeyCounter {
    private struct Slot {
        var hash: UInt64
        var offset: Int
        var length: Int
        var count: Int64
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private(set) var count = 0
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCapacity: Int
    private var arenaUsed = 0
    private let scratch: UnsafeMutablePointer<UInt8>
    /// Per-process seed, so that nobody can choose banner names that collide.
    private let seed: UInt64

    /// Longest packed key: minute, six lengths, the longest fields.
    static let maximumKeyBytes = 8 + 6 + 255 * 6

    init(capacity: Int = 1024) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, offset: -1, length: 0, count: 0), count: capacity)
        arenaCapacity = 1 << 16
        arena = .allocate(capacity: arenaCapacity)
        scratch = .allocate(capacity: KeyCounter.maximumKeyBytes)
        seed = UInt64.random(in: 1...UInt64.max)
    }

    deinit {
        slots.deallocate()
        arena.deallocate()
        scratch.deallocate()
    }

    /// Adds `weight` to the count of `fields`' key.
    func add(_ f: ImpressionFields) {
        var n = 8
        var minute = f.minute.littleEndian
        withUnsafeBytes(of: &minute) { UnsafeMutableRawPointer(scratch).copyMemory(from: $0.baseAddress!, byteCount: 8) }
        func put(_ span: ByteSpan) {
            scratch[n] = UInt8(span.count)
            KeyCounter.copy(span.base, to: scratch + n + 1, count: span.count)
            n += 1 + span.count
        }
        put(f.banner)
        put(f.campaign)
        put(f.project)
        put(f.language)
        put(f.country)
        put(f.device)
        increment(scratch, n, by: f.weight)
    }

    private func increment(_ key: UnsafePointer<UInt8>, _ length: Int, by weight: Int64) {
        let hash = KeyCounter.hash(key, length, seed: seed)
        var i = Int(truncatingIfNeeded: hash) & (capacity - 1)
        while true {
            let slot = slots[i]
            if slot.offset < 0 { break }
            if slot.hash == hash, slot.length == length, KeyCounter.same(arena + slot.offset, key, length) {
                slots[i].count += weight
                return
            }
            i = (i + 1) & (capacity - 1)
        }
        let offset = store(key, length)
        slots[i] = Slot(hash: hash, offset: offset, length: length, count: weight)
        count += 1
        if count * 2 > capacity { grow() }
    }

    /// Copies a field of a key (a few bytes: inline, eight at a time,
    /// instead of a call to `memmove` per field).
    @inline(__always)
    static func copy(_ from: UnsafePointer<UInt8>, to: UnsafeMutablePointer<UInt8>, count: Int) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(to + i).storeBytes(of: UnsafeRawPointer(from + i).loadUnaligned(as: UInt64.self), as: UInt64.self)
            i += 8
        }
        while i < count {
            to[i] = from[i]
            i += 1
        }
    }

    /// Whether two keys of `length` bytes are equal, eight bytes at a time
    /// inline (a call to `memcmp` per event was a twentieth of the reading thread).
    @inline(__always)
    static func same(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var i = 0
        while i + 8 <= length {
            if UnsafeRawPointer(a + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + i).loadUnaligned(as: UInt64.self) {
                return false
            }
            i += 8
        }
        while i < length {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    private func store(_ key: UnsafePointer<UInt8>, _ length: Int) -> Int {
        if arenaUsed + length > arenaCapacity {
            let bigger = max(arenaCapacity * 2, arenaUsed + length)
            let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: bigger)
            moved.update(from: arena, count: arenaUsed)
            arena.deallocate()
            arena = moved
            arenaCapacity = bigger
        }
        (arena + arenaUsed).update(from: key, count: length)
        arenaUsed += length
        return arenaUsed - length
    }

    private func grow() {
        let old = slots
        let oldCapacity = capacity
        capacity *= 2
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: Slot(hash: 0, offset: -1, length: 0, count: 0), count: capacity)
        for j in 0..<oldCapacity where old[j].offset >= 0 {
            var i = Int(truncatingIfNeeded: old[j].hash) & (capacity - 1)
            while slots[i].offset >= 0 { i = (i + 1) & (capacity - 1) }
            slots[i] = old[j]
        }
        old.deallocate()
    }

    /// Every key with its count.
    func forEach(_ body: (ImpressionKey, Int64) -> Void) {
        for j in 0..<capacity where slots[j].offset >= 0 {
            body(KeyCounter.unpack(arena + slots[j].offset), slots[j].count)
        }
    }

    /// The keys and counts copied out as they are stored (two copies, no
    /// key unpacked), to be unpacked and sorted on another thread.
    func packed() -> PackedCounts {
        var entries: [PackedCounts.Entry] = []
        entries.reserveCapacity(count)
        for j in 0..<capacity where slots[j].offset >= 0 {
            entries.append(PackedCounts.Entry(offset: slots[j].offset, length: slots[j].length, count: slots[j].count))
        }
        return PackedCounts(arena: Array(UnsafeBufferPointer(start: arena, count: arenaUsed)), entries: entries)
    }

    /// Forgets every key.
    func removeAll() {
        slots.update(repeating: Slot(hash: 0, offset: -1, length: 0, count: 0), count: capacity)
        arenaUsed = 0
        count = 0
    }

    static func unpack(_ p: UnsafePointer<UInt8>) -> ImpressionKey {
        let minute = PackedCounts.minute(p)
        var at = 8
        func field() -> String {
            let n = Int(p[at])
            defer { at += 1 + n }
            return String(decoding: UnsafeBufferPointer(start: p + at + 1, count: n), as: UTF8.self)
        }
        return ImpressionKey(minute: minute, banner: field(), campaign: field(), project: field(),
                             language: field(), country: field(), device: field())
    }

    /// A fast seeded hash over 8-byte words, finished with murmur's mixer.
    static func hash(_ p: UnsafePointer<UInt8>, _ length: Int, seed: UInt64) -> UInt64 {
        var h = seed ^ UInt64(length)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= length {
            let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < length {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h = h &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}

/// A ``KeyCounter``'s contents as values: the packed keys' bytes and each
/// key's offset and count.
struct PackedCounts: Sendable {
    struct Entry: Sendable {
        var offset: Int
        var length: Int
        var count: Int64
    }

    var arena: [UInt8]
    var entries: [Entry]

    /// Every key with its count, in the order of their packed bytes: one
    /// order every writer follows (so that concurrent writers take row locks
    /// in the same order), compared as bytes instead of six String
    /// comparisons per step (half the writer's CPU time before).
    func rows() -> [(key: ImpressionKey, count: Int64)] {
        arena.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, !entries.isEmpty else { return [] }
            return sortedEntries().map { (key: KeyCounter.unpack(base + $0.offset), count: $0.count) }
        }
    }

    /// The entries in the order of ``rows()``.
    func sortedEntries() -> [Entry] {
        arena.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, !entries.isEmpty else { return [] }
            return entries.sorted { PackedCounts.precedes($0, $1, in: base) }
        }
    }

    /// The minute of the packed key at `key`.
    static func minute(_ key: UnsafePointer<UInt8>) -> Int64 {
        Int64(littleEndian: UnsafeRawPointer(key).loadUnaligned(as: Int64.self))
    }

    /// Field `index` (0 banner, 1 campaign, 2 project, 3 language, 4 country, 5 device) of the packed key at `key`.
    static func field(_ key: UnsafePointer<UInt8>, _ index: Int) -> UnsafeBufferPointer<UInt8> {
        var at = 8
        for _ in 0..<index { at += 1 + Int(key[at]) }
        return UnsafeBufferPointer(start: key + at + 1, count: Int(key[at]))
    }

    /// Whether `a`'s packed bytes sort before `b`'s (as `memcmp`, then the
    /// shorter first), eight bytes at a time inline: a call to `memcmp` per
    /// comparison was most of the sort's time.
    @inline(__always)
    static func precedes(_ a: Entry, _ b: Entry, in base: UnsafePointer<UInt8>) -> Bool {
        let n = min(a.length, b.length)
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= n {
            let x = raw.loadUnaligned(fromByteOffset: a.offset + i, as: UInt64.self)
            let y = raw.loadUnaligned(fromByteOffset: b.offset + i, as: UInt64.self)
            // Read big-endian, the first byte is the most significant: integer order is byte order.
            if x != y { return x.bigEndian < y.bigEndian }
            i += 8
        }
        while i < n {
            let x = base[a.offset + i], y = base[b.offset + i]
            if x != y { return x < y }
            i += 1
        }
        return a.length < b.length
    }
}
