/// One round of a bench that measures a run and then its reference (the
/// rectifier and the status calls, the Kafka loader and the consume-only loop).
protocol BenchRound {
    /// The run's rate over its reference's.
    var ratio: Double { get }
}

extension Array where Element: BenchRound {
    /// The round with the median ratio (of an even number, the higher of the middle two); the array is not empty.
    var medianRound: Element { sorted { $0.ratio < $1.ratio }[count / 2] }
}
