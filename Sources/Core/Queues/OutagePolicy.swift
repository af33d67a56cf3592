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

    /// MariaDB errors that a value in a statement causes: column cannot be
    /// null (1048), duplicate key (1062), out of range (1264, 1690), data
    /// truncated (1265), incorrect datetime or value (1292, 1366, 1367,
    /// 1411), data too long (1406), packet too large (1153), invalid JSON
    /// text (4038), CHECK constraint failed (4025).
    static let mariadbContentCodes: Set<UInt32> = [1048, 1062, 1153, 1264, 1265, 1292, 1366, 1367, 1406, 1411, 1690, 4025, 4038]

    /// Classifies `error`.
    public init(classifying error: any Error) {
        switch error {
        case let e as RedisError:
            self = e.isConnectionFailure ? .outage : .unknown
        case let e as MariaDBError:
            if e.isConnectionFailure || e.isTransient {
                self = .outage
            } else {
                self = HandlingFailure.mariadbContentCodes.contains(e.code) ? .content : .unknown
            }
        case let e as SQLiteError:
            self = e.isTransient ? .outage : (e.isCausedByValue ? .content : .unknown)
        case is ConsumerStop:
            self = .outage
        case is DonationFieldError, is MessageError, is JSONParseError:
            self = .content
        default:
            self = .unknown
        }
    }
}
