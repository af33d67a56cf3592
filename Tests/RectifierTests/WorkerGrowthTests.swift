import Foundation
@testable import Rectifier
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

    @Test func theUnusedShareIsTheCoresLeftOverTheWallTime() {
        #expect(ProcessIdleSampler.unusedShare(cpuSeconds: 0.1, wallSeconds: 0.2, cores: 2) == 0.75)
        #expect(ProcessIdleSampler.unusedShare(cpuSeconds: 0.4, wallSeconds: 0.2, cores: 2) == 0, "a busy process leaves nothing")
        #expect(ProcessIdleSampler.unusedShare(cpuSeconds: 0.5, wallSeconds: 0.2, cores: 2) == 0, "clock skew is clamped")
        #expect(ProcessIdleSampler.unusedShare(cpuSeconds: 0, wallSeconds: 0.2, cores: 4) == 1)
        #expect(ProcessIdleSampler.unusedShare(cpuSeconds: 0, wallSeconds: 0, cores: 2) == nil)
        #expect(ProcessIdleSampler.unusedShare(cpuSeconds: 0, wallSeconds: 1, cores: 0) == nil)
    }

    @Test func theProcessSamplerGivesAShare() throws {
        var sampler = ProcessIdleSampler()
        Thread.sleep(forTimeInterval: 0.05)
        let sampled = sampler.sample()
        let share = try #require(sampled)
        #expect((0...1).contains(share))
    }

    @Test func aWorkerAddedLaterGetsWhatIsLeftOfTheTimeLimitAndNoneNearItsEnd() throws {
        let unlimited = RectifierOptions()
        #expect(RectifierPool.laterWorkerOptions(unlimited, elapsed: .seconds(3_600))?.timeLimit == nil)
        let limited = RectifierOptions(timeLimit: .seconds(10))
        #expect(RectifierPool.laterWorkerOptions(limited, elapsed: .seconds(4))?.timeLimit == .seconds(6))
        #expect(RectifierPool.laterWorkerOptions(limited, elapsed: .milliseconds(9_900)) == nil, "less than a tick left")
        #expect(RectifierPool.laterWorkerOptions(limited, elapsed: .seconds(11)) == nil)
    }
}
