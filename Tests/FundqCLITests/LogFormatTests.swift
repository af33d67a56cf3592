import Core
import Foundation
import FundqTestSupport
import Testing

/// `--log-format`, `--log-level`, `-v`, `-q` and their environment variables,
/// on a real consumer run: one info line per batch, one debug line per damaged message.
@Suite("Log format and level")
struct LogFormatTests {
    /// Parses one logfmt line (`key=value` or `key="quoted \" value"` pairs);
    /// nil unless the whole line is well formed.
    static func logfmt(_ line: String) -> [String: String]? {
        var fields: [String: String] = [:]
        var rest = Substring(line)
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let key = String(rest[..<equals])
            guard !key.isEmpty, !key.contains(" "), !key.contains("\"") else { return nil }
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var closed = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if c == "\"" { closed = true; break }
                    if c == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        switch escaped {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "\"", "\\": value.append(escaped)
                        case "u": value.append("?"); rest = rest.dropFirst(4)
                        default: return nil
                        }
                    } else {
                        value.append(c)
                    }
                }
                guard closed else { return nil }
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                guard !value.contains("\""), !value.contains("=") else { return nil }
                rest = rest[end...]
            }
            fields[key] = value
            guard rest.isEmpty || rest.first == " " else { return nil }
            rest = rest.drop { $0 == " " }
        }
        return fields
    }

    /// Whether `text` is an ISO 8601 UTC time with milliseconds and a `Z`.
    static func isUTC(_ text: String?) -> Bool {
        text?.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/#) != nil
    }

    /// Pushes two good pending messages and one that is damaged, then consumes with `options`.
    static func consume(_ options: [String], environment: [String: String] = [:]) throws -> FundqProcess.Result {
        let dir = try TemporaryDirectory()
        let flags = ["--data-dir", dir.path]
        let messages = [#"{"gateway":"paypal","order_id":"log-1","date":1764000000}"#,
                        #"{"gateway":"paypal","note":"has \"quotes\" and = signs"}"#,
                        #"{"gateway":"paypal","order_id":"log-2","date":1764000000}"#]
        #expect(try FundqProcess.run(["queue", "push", "pending", "--lines"] + flags, stdin: messages.joined(separator: "\n")).status == 0)
        let r = try FundqProcess.run(["consume", "pending"] + options + flags, environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        return r
    }

    @Test func logfmtIsQuotedAndStampedInUTCWithADebugLinePerDamagedMessageAndAnInfoLinePerBatch() throws {
        let r = try Self.consume(["--log-format", "logfmt", "-v"])
        let logLines = r.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("time=") }
        let parsed = logLines.compactMap(Self.logfmt)
        #expect(parsed.count == logLines.count && !parsed.isEmpty, "malformed logfmt in \(r.stderr)")
        #expect(parsed.allSatisfy { Self.isUTC($0["time"]) }, "\(r.stderr)")
        let damaged = parsed.filter { $0["msg"] == "message moved to the damaged store" }
        #expect(damaged.count == 1 && damaged.first?["level"] == "debug", "\(r.stderr)")
        #expect(damaged.first?["error"]?.contains("not a valid pending message") == true, "\(r.stderr)")
        let batches = parsed.filter { $0["msg"] == "batch" }
        #expect(batches.count == 1 && batches.first?["level"] == "info", "\(r.stderr)")
        #expect(batches.first?["claimed"] == "3" && batches.first?["damaged"] == "1" && batches.first?["inserted"] == "2")
        #expect(batches.first?["per_second"].flatMap(Double.init) != nil, "\(r.stderr)")

        let info = try Self.consume(["--log-format=logfmt"])
        #expect(!info.stderr.contains("message moved to the damaged store"), "per-message lines are debug: \(info.stderr)")
        #expect(info.stderr.contains("msg=batch"), "\(info.stderr)")
        let quiet = try Self.consume(["-q", "--log-format", "logfmt"])
        #expect(!quiet.stderr.contains("msg=batch"), "\(quiet.stderr)")
        #expect(quiet.stderr.contains("consume pending: 3 messages"), "the summary is not a log line: \(quiet.stderr)")
    }

    @Test func jsonLinesFromTheEnvironmentAndFlagsWinOverIt() throws {
        let r = try Self.consume([], environment: ["FUNDQ_LOG_FORMAT": "json", "FUNDQ_LOG_LEVEL": "debug"])
        let objects = try r.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
            .map { try JSONParser().parse(String($0)).objectValue }
        #expect(objects.count >= 2, "\(r.stderr)")
        for object in objects {
            #expect(Self.isUTC(object?["time"]?.scalarText) && object?["level"] != nil && object?["msg"] != nil)
        }
        #expect(objects.contains { $0?["msg"] == .string("message moved to the damaged store") && $0?["level"] == .string("debug") })
        let flagged = try Self.consume(["--log-level", "info", "--log-format", "text"], environment: ["FUNDQ_LOG_FORMAT": "json",
                                                                                                      "FUNDQ_LOG_LEVEL": "debug"])
        #expect(!flagged.stderr.contains("{\"") && !flagged.stderr.contains("damaged store"), "\(flagged.stderr)")
        #expect(flagged.stderr.split(separator: "\n").contains { $0.contains(" info fundq.consume.pending: batch ") }, "\(flagged.stderr)")
    }

    @Test func anInvalidLevelOrFormatIsAUsageError() throws {
        let level = try FundqProcess.run(["queue", "stats", "--log-level", "loud"])
        #expect(level.status == 2 && level.stderr.contains("--log-level must be one of trace, debug, info"), "\(level.stderr)")
        let env = try FundqProcess.run(["queue", "stats"], environment: ["FUNDQ_LOG_LEVEL": "loud"])
        #expect(env.status == 2 && env.stderr.contains("FUNDQ_LOG_LEVEL must be one of"), "\(env.stderr)")
        let format = try FundqProcess.run(["queue", "stats", "--log-format", "xml"])
        #expect(format.status == 2 && format.stderr.contains("--log-format must be text, logfmt or json, not 'xml'"), "\(format.stderr)")
    }
}
