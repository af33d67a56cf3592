/// Which errors mean "a server is unreachable for now" (back off and retry,
/// losing nothing) rather than "this run cannot go on".
public enum OutagePolicy {
    /// Whether `error` is an outage: a lost connection to Redis or MariaDB,
    /// a MariaDB deadlock or lock wait timeout, a busy SQLite file.
    public static func isOutage(_ error: any Error) -> Bool {
        HandlingFailure(classifying: error) == .outage
    }
}

/// What an error thrown while handling a batch says about its cause, which
/// decides what ``QueueConsumer`` does with the batch.
public enum HandlingFailure: Sendable, Equatable {
    /// A server is unreachable or busy for now: every message is released
    /// uncounted, and the caller backs off and retries.
    case outage
    /// The content of a message caused it (a value the database refuses, a
    /// field that does not validate): the message that causes it is damaged
    /// with the reason, once the batch has been split down to it.
    case content
    /// Could be a message, could be the environment (a missing table, a full
    /// disk): the batch is split to find out; a message that fails alone
    /// while its neighbours succeed is damaged, and when nothing succeeds the
    /// batch is released and the error rethrown.
    case unknown

    /// Classifies `error`.
    public init(classifying error: any Error) {
        switch error {
        case let e as any ClassifiedFailure:
            self = e.handlingFailure
        case is ConsumerStop:
            self = .outage
        case is DonationFieldError, is MessageError, is JSONParseError:
            self = .content
        default:
            self = .unknown
        }
    }
}

/// An error that says itself which ``HandlingFailure`` it is: each storage
/// driver's error (Redis, MariaDB, SQLite) conforms, so that Core classifies
/// errors without knowing the drivers.
public protocol ClassifiedFailure: Error {
    /// What this error says about its cause.
    var handlingFailure: HandlingFailure { get }
}
