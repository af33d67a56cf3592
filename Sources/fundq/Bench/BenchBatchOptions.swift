import ArgumentParser

/// A bench whose batched run takes `--batch`: the size it uses unless told.
protocol BatchedBench {
    /// `--batch` when not given.
    static var defaultBatch: Int { get }
}

/// The options the batched benches share (queue, consume, tracking): the
/// storage they measure, the batch size (1–1000) and `--json`.
struct BenchBatchOptions<Bench: BatchedBench>: ParsableArguments {
    @OptionGroup var storage: StorageOptions

    @Option(help: "Messages (or events) per batch in the batched runs.")
    var batch: Int = Bench.defaultBatch

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard (1...1_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 1000") }
    }
}
