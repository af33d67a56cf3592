import Rectifier
import Testing

/// When an elastic pool adds workers: pure decisions, no clock, no threads.
@Suite("Worker growth")
struct WorkerGrowthTests {
    static func workers(_ started: Int, finished: Int = 0, limit: Int = 4, name: String = "paypal") -> WorkerGrowth.Workers {
        WorkerGrowth.Workers(name: name, started: started, finished: finished, limit: limit)
    }

    @Test func aBusyMachineGetsNoMoreWorkers() {
        var growth = WorkerGrowth(idleThreshold: 0.2, patience: 2)
        for _ in 0..<10 { #expect(growth.next(idle: 0.05, processors: [Self.workers(1)]).isEmpty) }
    }

    @Test func anIdleMachineGrowsAfterItsPatienceAndStartsCountingAgain() {
        var growth = WorkerGrowth(idleThreshold: 0.2, patience: 2)
        let one = [Self.workers(1)]
        #expect(growth.next(idle: 0.9, processors: one).isEmpty, "one idle tick is not enough")
        #expect(growth.next(idle: 0.9, processors: one) == ["paypal"])
        #expect(growth.next(idle: 0.9, processors: one).isEmpty, "the count starts again after growing")
        #expect(growth.next(idle: 0.1, processors: one).isEmpty)
        #expect(growth.next(idle: 0.9, processors: one).isEmpty, "a busy tick in between resets the count")
        #expect(growth.next(idle: 0.2, processors: one) == ["paypal"], "the threshold itself counts as idle")
    }

    @Test func everyProcessorWithRoomGrowsAndNoneBeyondItsLimitOrAfterItsRowsRanOut() {
        var growth = WorkerGrowth(idleThreshold: 0.2, patience: 1)
        let processors = [Self.workers(1, name: "paypal"), Self.workers(4, name: "adyen"),
                          Self.workers(2, finished: 1, name: "globalcollect"), Self.workers(3, limit: 4, name: "ingenico"),
                          Self.workers(1, limit: 1, name: "one-at-a-time")]
        #expect(growth.next(idle: 0.5, processors: processors) == ["paypal", "ingenico"])
    }

    @Test func withoutAnIdleFigureEveryTickGrows() {
        var growth = WorkerGrowth(idleThreshold: 0.2, patience: 3)
        #expect(growth.next(idle: nil, processors: [Self.workers(1)]) == ["paypal"])
        #expect(growth.next(idle: nil, processors: [Self.workers(2)]) == ["paypal"])
    }

    @Test func theMachineSamplerReadsAShareBetweenZeroAndOne() throws {
        var sampler = MachineIdleSampler()
        var burn = 0.0
        for i in 0..<2_000_000 { burn += Double(i % 7) }
        #expect(burn > 0)
        #if os(Linux)
        // /proc/stat counts in clock ticks (10 ms): the loop above spans several.
        let sampled = sampler.sample()
        let share = try #require(sampled)
        #expect((0...1).contains(share))
        #endif
    }
}
