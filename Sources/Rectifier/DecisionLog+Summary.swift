public import Core
public import Foundation

/// What the rectifier did per processor, from its decision log: the latest
/// decision and the decisions since a time by action.
public struct RectifierActivity: Sendable, Equatable {
    /// The processor.
    public var processor: String
    /// When it last decided anything.
    public var lastDecision: Date?
    /// Decisions since the window's start, by action ("finish": 3, "leave": 10).
    public var actions: [String: Int]

    /// Activity.
    public init(processor: String, lastDecision: Date?, actions: [String: Int]) {
        self.processor = processor
        self.lastDecision = lastDecision
        self.actions = actions
    }
}

extension DecisionLog {
    /// Per processor: its latest decision within `lookBack` (an index range, not the whole log), and its
    /// decisions since `since` by action.
    public func activity(since: Date, lookBack: TimeInterval = 7 * 86400, now: Date = Date()) throws -> [RectifierActivity] {
        let d = connection.dialect
        var byProcessor: [String: RectifierActivity] = [:]
        let latest = try connection.query("SELECT processor, MAX(time) FROM rectifier_decision WHERE time >= ? GROUP BY processor",
                                          [d.value(now.addingTimeInterval(-lookBack))])
        for r in latest {
            let name = r[0].string ?? ""
            byProcessor[name] = RectifierActivity(processor: name, lastDecision: d.date(r[1]), actions: [:])
        }
        let recent = try connection.query("""
            SELECT processor, action, COUNT(*) FROM rectifier_decision WHERE time >= ? GROUP BY processor, action
            """, [d.value(since)])
        for r in recent {
            let name = r[0].string ?? ""
            byProcessor[name, default: RectifierActivity(processor: name, lastDecision: nil, actions: [:])]
                .actions[r[1].string ?? "", default: 0] += Int(r[2].int64 ?? 0)
        }
        return byProcessor.values.sorted { $0.processor < $1.processor }
    }
}
