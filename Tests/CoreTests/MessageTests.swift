import Core
import Foundation
import RedisDriver
import Testing

@Suite("Message validation and envelope")
struct MessageTests {
    @Test func envelopeIsSplicedInWithoutTouchingTheProducersBytes() throws {
        let body = Array(#"{"gross": 10.00, "order_id": 12345678901234567890}  "#.utf8)
        let envelope = MessageEnvelope(sourceName: "form", sourceType: "listener", sourceHost: "web1", sourceRunID: 42,
                                       sourceVersion: "9.9")
        let keys = try MessageValidator().keys(body)
        let stamped = envelope.stamp(body, existingKeys: keys, enqueuedAt: Date(timeIntervalSince1970: 1_700_000_000))
        let text = String(decoding: stamped, as: UTF8.self)
        #expect(text.hasPrefix(#"{"gross": 10.00, "order_id": 12345678901234567890,"source_name":"form""#))
        let parsed = try MessageValidator().validate(stamped)
        #expect(parsed["source_type"] == .string("listener"))
        #expect(parsed["source_host"] == .string("web1"))
        #expect(parsed["source_run_id"] == .number("42"))
        #expect(parsed["source_version"] == .string("9.9"))
        #expect(parsed["source_enqueued_time"] == .number("1700000000"))
        #expect(parsed["gross"] == .number("10.00"))
    }

    @Test func existingEnvelopeFieldsAreKept() throws {
        let body = Array(#"{"source_name":"old-form","source_enqueued_time":123}"#.utf8)
        let stamped = MessageEnvelope(sourceName: "fundq").stamp(body, existingKeys: try MessageValidator().keys(body), enqueuedAt: Date())
        let parsed = try MessageValidator().validate(stamped)
        #expect(parsed["source_name"] == .string("old-form"))
        #expect(parsed["source_enqueued_time"] == .number("123"))
        #expect(parsed["source_type"] == .string("cli"))
    }

    @Test func emptyObjectGetsAValidEnvelope() throws {
        let stamped = MessageEnvelope().stamp(Array("{}".utf8), existingKeys: [], enqueuedAt: Date())
        let parsed = try MessageValidator().validate(stamped)
        #expect(Set(parsed.keys) == Set(MessageEnvelope.fieldNames))
    }

    @Test func validatorSaysWhatIsWrong() {
        let validator = MessageValidator(maximumBytes: 100)
        func failure(_ bytes: [UInt8]) -> String {
            do { _ = try validator.validate(bytes); return "accepted" } catch { return error.description }
        }
        #expect(failure(Array("[1,2]".utf8)) == "message must be a JSON object, found an array")
        #expect(failure(Array("\"x\"".utf8)) == "message must be a JSON object, found a string")
        #expect(failure(Array(repeating: 0x20, count: 101)) == "message is 101 bytes, over the limit of 100 bytes")
        #expect(failure(Array("{\"a\" 1}".utf8)).hasPrefix("message is not valid JSON: invalid JSON at line 1, column 6 (byte 5)"))
        #expect(failure([0x7b, 0xff, 0x7d]).contains("unexpected byte 0xff"))
    }

    @Test(arguments: ["", "fundq:{x}:inflight", "has space", String(repeating: "q", count: 201), "semi;colon"])
    func badQueueNamesAreRefused(name: String) {
        #expect(throws: MessageError.self) { try QueueName.validate(name) }
    }

    @Test(arguments: ["donations", "pending", "contribution-tracking", "a.b_c:d-1"])
    func goodQueueNamesPass(name: String) throws {
        try QueueName.validate(name)
    }
}

@Suite("Redis URLs")
struct RedisURLTests {
    @Test func parsesEveryPart() throws {
        let url = try RedisURL(parsing: "redis://user:p%40ss@10.0.0.5:6390/3")
        #expect(url.host == "10.0.0.5")
        #expect(url.port == 6390)
        #expect(url.database == 3)
        #expect(url.user == "user")
        #expect(url.password == "p@ss")
        #expect(url.description == "redis://user:***@10.0.0.5:6390/3")
    }

    @Test func defaultsPortAndDatabase() throws {
        let url = try RedisURL(parsing: "redis://:secret@localhost")
        #expect(url.port == 6379)
        #expect(url.database == 0)
        #expect(url.user == nil)
        #expect(url.password == "secret")
        #expect(!url.description.contains("secret"))
    }

    @Test(arguments: ["http://localhost", "redis://", "redis://host:99999", "redis://host:6379/x", "redis://:pw@host:abc"])
    func refusesBadURLsWithoutPrintingPasswords(text: String) {
        do {
            _ = try RedisURL(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(!error.description.contains("pw@"))
        }
    }
}
