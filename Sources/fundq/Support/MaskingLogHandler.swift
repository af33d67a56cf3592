import Core
import Logging

/// Wraps the log handler every fundq process writes with, so that no log
/// line — whoever wrote it — shows a URL's password, a card number or a
/// donor's data found in text (an email address, a `"cvv": …` member of an
/// echoed message): the message and every metadata value pass through
/// ``SecretMasking/urls(in:)`` and ``PersonalData/maskedText(_:showPersonalData:)``.
struct MaskingLogHandler: LogHandler {
    /// The handler that writes.
    var wrapped: any LogHandler

    var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var masked = event
        masked.message = Logger.Message(stringLiteral: Self.masked(event.message.description))
        masked.metadata = event.metadata?.mapValues(Self.masked)
        wrapped.log(event: masked)
    }

    static func masked(_ text: String) -> String {
        PersonalData.maskedText(SecretMasking.urls(in: text))
    }

    static func masked(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let s): return .string(masked(s))
        case .stringConvertible(let c): return .string(masked(c.description))
        case .array(let items): return .array(items.map(masked))
        case .dictionary(let members): return .dictionary(members.mapValues(masked))
        }
    }
}
