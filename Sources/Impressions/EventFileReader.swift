internal import CZlib
import Foundation

/// Reads a JSON-lines file, plain or gzip (zlib reads both), one event per
/// line. Owns the zlib handle; not `Sendable`.
public final class EventFileReader {
    /// The file.
    public let path: String
    /// Its size on disk (compressed size for gzip).
    public let size: Int64
    private let handle: gzFile?
    private let descriptor: Int32
    /// Whether the file is gzip-compressed.
    public let isCompressed: Bool
    private let chunk: UnsafeMutableRawPointer
    private let chunkSize = 1 << 20
    private let maximumEventBytes: Int

    /// Opens `path`; events longer than `maximumEventBytes` are reported as
    /// oversize (their first bytes, as the sample).
    public init(path: String, maximumEventBytes: Int = 64 * 1024) throws {
        self.path = path
        self.maximumEventBytes = maximumEventBytes
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.int64Value else {
            throw ImpressionsError("cannot read \(path): no such file")
        }
        self.size = size
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ImpressionsError("cannot open \(path): \(String(cString: strerror(errno)))") }
        var magic: (UInt8, UInt8) = (0, 0)
        isCompressed = pread(descriptor, &magic, 2, 0) == 2 && magic == (0x1F, 0x8B)
        if isCompressed {
            guard let handle = fundq_gzdopen(dup(descriptor)) else {
                close(descriptor)
                throw ImpressionsError("cannot open \(path) with zlib")
            }
            gzbuffer(handle, 256 * 1024)
            self.handle = handle
        } else {
            handle = nil
        }
        chunk = .allocate(byteCount: chunkSize, alignment: 16)
    }

    deinit {
        if let handle { gzclose(handle) }
        close(descriptor)
        chunk.deallocate()
    }

    /// Bytes of the file on disk consumed so far (for progress).
    public var position: Int64 {
        if let handle { return Int64(gzoffset(handle)) }
        return Int64(lseek(descriptor, 0, SEEK_CUR))
    }

    private func readChunk() throws -> Int {
        if let handle {
            let n = gzread(handle, chunk, UInt32(chunkSize))
            if n < 0 {
                var code: Int32 = 0
                throw ImpressionsError("cannot read \(path): \(String(cString: gzerror(handle, &code)))")
            }
            return Int(n)
        }
        while true {
            let n = read(descriptor, chunk, chunkSize)
            if n >= 0 { return n }
            if errno != EINTR { throw ImpressionsError("cannot read \(path): \(String(cString: strerror(errno)))") }
        }
    }

    /// Calls `body` with each non-empty line (without `\n` or `\r\n`), in
    /// order; `oversize` with the first bytes of each line too long to keep.
    /// Stops early when `body` returns false.
    public func forEachLine(oversize: (UnsafeRawBufferPointer) throws -> Void,
                            _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        var carry: [UInt8] = []
        var skippingOversize = false
        while true {
            let n = try readChunk()
            if n == 0 { break }
            var start = 0
            let bytes = UnsafeRawBufferPointer(start: chunk, count: Int(n))
            while start < bytes.count {
                guard let newline = memchr(chunk + start, 0x0A, bytes.count - start) else {
                    if !skippingOversize { carry.append(contentsOf: bytes[start...]) }
                    if carry.count > maximumEventBytes {
                        try carry.withUnsafeBytes { try oversize($0) }
                        carry.removeAll()
                        skippingOversize = true
                    }
                    break
                }
                let end = newline - UnsafeMutableRawPointer(chunk)
                defer { start = end + 1 }
                if skippingOversize { skippingOversize = false; continue }
                if carry.isEmpty {
                    if try !emit(UnsafeRawBufferPointer(rebasing: bytes[start..<end]), body) { return }
                } else {
                    carry.append(contentsOf: bytes[start..<end])
                    let keep = try carry.withUnsafeBytes { try emit($0, body) }
                    carry.removeAll(keepingCapacity: true)
                    if !keep { return }
                }
            }
        }
        if !carry.isEmpty, !skippingOversize { _ = try carry.withUnsafeBytes { try emit($0, body) } }
        if let handle {
            var code: Int32 = 0
            let message = gzerror(handle, &code)
            if code != Z_OK && code != Z_STREAM_END {
                throw ImpressionsError("cannot read \(path): \(message.map { String(cString: $0) } ?? "zlib error \(code)")")
            }
        }
    }

    private func emit(_ line: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws -> Bool {
        var count = line.count
        if count > 0, line[count - 1] == 0x0D { count -= 1 }
        if count == 0 { return true }
        return try body(UnsafeRawBufferPointer(rebasing: line[0..<count]))
    }
}

/// An impressions loader failure, for an operator.
public struct ImpressionsError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
