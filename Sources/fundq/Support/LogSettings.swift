import ArgumentParser
import Core
import Foundation
import Logging

/// How log lines are written: plain text for people, logfmt or JSON for a
/// log collector. Every format writes the time in ISO 8601 UTC with a `Z`.
enum LogFormat: String, CaseIterable, Sendable {
    case text, logfmt, json
}

/// The logging options every command takes, wherever they stand on the
/// command line: `--log-format text|logfmt|json` (env `FUNDQ_LOG_FORMAT`),
/// `--log-level trace|debug|info|notice|warning|error|critical` (env
/// `FUNDQ_LOG_LEVEL`), `-v` (debug), `-q` (warning). Flags win over the
/// environment; an invalid value is a usage error.
struct LogSettings: Sendable, Equatable {
    /// The line format.
    var format: LogFormat = .text
    /// The level asked for, nil when neither a flag nor the environment set one
    /// (then each command's default: info, warning for a dry run).
    var level: Logger.Level?

    /// The help text for the logging options (they are read before the command's own).
    static let help = """
        Logging (any command, anywhere on the line): --log-format text|logfmt|json (env FUNDQ_LOG_FORMAT), \
        --log-level trace|debug|info|notice|warning|error|critical (env FUNDQ_LOG_LEVEL), -v (debug), -q (warning). \
        Log lines go to stderr, times in ISO 8601 UTC.
        """

    /// Reads the logging options out of `arguments` (without the program
    /// name); returns them and the arguments left for the command.
    static func parse(_ arguments: [String], environment: [String: String]) throws(ValidationError) -> (LogSettings, [String]) {
        var settings = LogSettings()
        if let text = environment["FUNDQ_LOG_FORMAT"], !text.isEmpty { settings.format = try format(text, from: "FUNDQ_LOG_FORMAT") }
        if let text = environment["FUNDQ_LOG_LEVEL"], !text.isEmpty { settings.level = try level(text, from: "FUNDQ_LOG_LEVEL") }
        var rest: [String] = []
        var index = 0
        func value(_ option: String, _ argument: String) throws(ValidationError) -> String {
            if argument.hasPrefix(option + "=") { return String(argument.dropFirst(option.count + 1)) }
            index += 1
            guard index < arguments.count else { throw ValidationError("\(option) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { rest += arguments[index...]; break }
            if argument == "--log-format" || argument.hasPrefix("--log-format=") {
                settings.format = try format(try value("--log-format", argument), from: "--log-format")
            } else if argument == "--log-level" || argument.hasPrefix("--log-level=") {
                settings.level = try level(try value("--log-level", argument), from: "--log-level")
            } else if argument == "-v" || argument == "--verbose" {
                settings.level = .debug
            } else if argument == "-q" || argument == "--quiet" {
                settings.level = .warning
            } else {
                rest.append(argument)
            }
            index += 1
        }
        return (settings, rest)
    }

    /// This process's settings (its own command line and environment); nil
    /// when they are invalid (the command line was refused before any command ran).
    static let ofThisProcess: LogSettings? = try? parse(Array(CommandLine.arguments.dropFirst()),
                                                       environment: ProcessInfo.processInfo.environment).0

    static func format(_ text: String, from source: String) throws(ValidationError) -> LogFormat {
        guard let format = LogFormat(rawValue: text.lowercased()) else {
            throw ValidationError("\(source) must be text, logfmt or json, not '\(text)'")
        }
        return format
    }

    static func level(_ text: String, from source: String) throws(ValidationError) -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("\(source) must be one of \(names), not '\(text)'")
        }
        return level
    }
}

/// Writes each log event as one line on stderr in a ``LogFormat``. Wrapped
/// by ``MaskingLogHandler``, which masks what it is given first.
struct LineLogHandler: LogHandler {
    /// The logger's label ("fundq.consume.pending").
    let label: String
    /// The line format.
    let format: LogFormat
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: LogFormat, level: Logger.Level) {
        self.label = label
        self.format = format
        logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let own = event.metadata { merged.merge(own) { $1 } }
        let line = Self.line(format, time: Date(), level: event.level, label: label, message: event.message.description, metadata: merged)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// One line: `text` "TIME LEVEL LABEL: MESSAGE key=value …", `logfmt`
    /// "time=… level=… logger=… msg=… key=value …", `json` one object.
    static func line(_ format: LogFormat, time: Date, level: Logger.Level, label: String, message: String,
                     metadata: Logger.Metadata) -> String {
        let stamp = timestamp(time)
        let fields = metadata.sorted { $0.key < $1.key }
        switch format {
        case .text:
            let extra = fields.map { " \($0.key)=\(logfmtValue(text(of: $0.value)))" }.joined()
            return "\(stamp) \(level.rawValue) \(label): \(message)\(extra)"
        case .logfmt:
            let pairs = [("time", stamp), ("level", level.rawValue), ("logger", label), ("msg", message)]
                + fields.map { (logfmtKey($0.key), text(of: $0.value)) }
            return pairs.map { "\($0.0)=\(logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            var object: [String: JSONValue] = [:]
            for (key, value) in fields { object[key] = json(of: value) }
            object["time"] = .string(stamp)
            object["level"] = .string(level.rawValue)
            object["logger"] = .string(label)
            object["msg"] = .string(message)
            return JSONValue.object(object).serialized()
        }
    }

    /// "2026-12-01T16:00:00.123Z".
    static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, min(999, Int((date.timeIntervalSince1970 - seconds) * 1000)))
    }

    /// A logfmt value: bare when it holds only printable characters other
    /// than `"`, `=` and `\`, else quoted with JSON's string escapes.
    static func logfmtValue(_ value: String) -> String {
        let unsafe = "\"=\\".unicodeScalars
        let bare = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7f && !unsafe.contains($0) }
        return bare ? value : JSONValue.string(value).serialized()
    }

    /// A key as logfmt allows: anything but spaces, `=` and `"` (replaced by `_`).
    static func logfmtKey(_ key: String) -> String {
        String(key.map { $0.isWhitespace || $0 == "=" || $0 == "\"" ? "_" : $0 })
    }

    static func text(of value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array, .dictionary: return json(of: value).serialized()
        }
    }

    static func json(of value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): return .string(s)
        case .stringConvertible(let c): return .string(c.description)
        case .array(let items): return .array(items.map(json(of:)))
        case .dictionary(let members): return .object(members.mapValues(json(of:)))
        }
    }
}
