import Impressions

/// Totals computed from what generated events were built to be, never from
/// the scanner or the database under test.
struct GroundTruth {
    var counts: [ImpressionKey: Int64] = [:]
    /// Invalid reasons and skip reasons, by their stored names.
    var rejects: [String: Int64] = [:]

    init(_ events: [SyntheticImpressions.Event]) {
        for e in events { add(e.expected) }
    }

    mutating func add(_ outcome: ImpressionOutcome) {
        switch outcome {
        case .counted(let i):
            let key = ImpressionKey(minute: i.minute, banner: i.banner, campaign: i.campaign, project: i.project,
                                    language: i.language, country: i.country, device: i.device)
            counts[key, default: 0] += i.weight
        case .skipped(let reason): rejects[reason.rawValue, default: 0] += 1
        case .rejected(let reason): rejects[reason.rawValue, default: 0] += 1
        }
    }

    static func rejectCounts(_ store: ImpressionStore) throws -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: try store.rejects().map { ($0.reason, $0.count) })
    }
}
