import DRBase
import Foundation
import Synchronization
import Testing

/// How many bodies are running at this moment, and the most there ever were.
final class Occupancy: Sendable {
    private let current = Atomic<Int>(0)
    private let highest = Atomic<Int>(0)

    var peak: Int { highest.load(ordering: .relaxed) }

    func enter() {
        let now = current.wrappingAdd(1, ordering: .relaxed).newValue
        var seen = highest.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = highest.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func leave() { current.wrappingSubtract(1, ordering: .relaxed) }
}

struct ItemFailed: Error, Equatable {
    let index: Int
}

@Suite("worker pool")
struct WorkerPoolTests {
    @Test("every item is processed exactly once, and results come back in the items' order")
    func exactlyOnce() {
        let items = Array(0..<2000)
        let seen = Mutex([Int](repeating: 0, count: items.count))
        let outcome = WorkerPool(parallelism: 4).run(items) { (item: Int, context: WorkerPool.Context) throws(ItemFailed) -> Int in
            #expect(context.index == item)
            seen.withLock { $0[item] += 1 }
            return item * 3
        }
        #expect(seen.withLock { $0 } == Array(repeating: 1, count: items.count))
        #expect(outcome.completed == items.count)
        #expect(outcome.fatal == nil)
        #expect(outcome.results.map { try? $0?.get() } == items.map { $0 * 3 })
    }

    @Test("with one worker, items are taken in order")
    func inOrder() {
        let order = Mutex<[Int]>([])
        _ = WorkerPool(parallelism: 1).run(Array(0..<100)) { (item: Int, _: WorkerPool.Context) throws(ItemFailed) in
            order.withLock { $0.append(item) }
        }
        #expect(order.withLock { $0 } == Array(0..<100))
    }

    @Test("at most `parallelism` items run at once, and that many do", arguments: [1, 3, 5])
    func bounded(parallelism: Int) {
        let occupancy = Occupancy()
        let outcome = WorkerPool(parallelism: parallelism).run(Array(0..<60)) { (_: Int, _: WorkerPool.Context) throws(ItemFailed) in
            occupancy.enter()
            defer { occupancy.leave() }
            // Long enough that the workers' items overlap, even on a busy machine: they sleep,
            // so more workers than cores still run at once.
            usleep(3_000)
        }
        #expect(outcome.completed == 60)
        #expect(occupancy.peak <= parallelism)
        #expect(occupancy.peak == parallelism, "peak \(occupancy.peak)")
    }

    @Test("never more workers than items; an empty list returns at once")
    func fewItems() {
        let occupancy = Occupancy()
        let built = Atomic<Int>(0)
        let outcome = WorkerPool(parallelism: 8).run(
            [1, 2],
            worker: { () throws(ItemFailed) in
                built.wrappingAdd(1, ordering: .relaxed)
                return ()
            }
        ) { (_: inout Void, _: Int, _: WorkerPool.Context) throws(ItemFailed) in
            occupancy.enter()
            defer { occupancy.leave() }
            usleep(2_000)
        }
        #expect(outcome.completed == 2)
        #expect(built.load(ordering: .relaxed) <= 2)
        let empty = WorkerPool(parallelism: 8).run([Int]()) { (_: Int, _: WorkerPool.Context) throws(ItemFailed) in
            Issue.record("no item to process")
        }
        #expect(empty.results.isEmpty && empty.completed == 0)
    }

    @Test("a failing item is recorded and the others go on")
    func failuresCollected() {
        let items = Array(0..<200)
        let outcome = WorkerPool(parallelism: 4).run(items) { (item: Int, _: WorkerPool.Context) throws(ItemFailed) -> Int in
            if item % 7 == 0 { throw ItemFailed(index: item) }
            return item
        }
        #expect(outcome.fatal == nil)
        #expect(outcome.completed == items.count)
        for item in items {
            switch outcome.results[item] {
            case .success(let value)?: #expect(item % 7 != 0 && value == item)
            case .failure(let failure)?: #expect(item % 7 == 0 && failure == ItemFailed(index: item))
            case nil: Issue.record("item \(item) was not processed")
            }
        }
    }

    @Test("a fatal failure stops the pool: no item is taken after it, those in progress finish")
    func fatalStops() {
        let items = Array(0..<1000)
        let inFlight = Occupancy()
        let outcome = WorkerPool(parallelism: 3).run(items, isFatal: { $0.index == 20 }) {
            (item: Int, _: WorkerPool.Context) throws(ItemFailed) -> Int in
            inFlight.enter()
            defer { inFlight.leave() }
            if item == 20 { throw ItemFailed(index: 20) }
            if item % 5 == 0 { throw ItemFailed(index: item) }  // not fatal: the pool goes on
            usleep(1_000)
            return item
        }
        #expect(outcome.fatal == ItemFailed(index: 20))
        #expect(outcome.results.count == items.count)
        // Taken in order, every one taken finished: the processed items are a prefix.
        let processed = outcome.results.prefix { $0 != nil }.count
        #expect(outcome.results.dropFirst(processed).allSatisfy { $0 == nil })
        #expect(outcome.completed == processed)
        #expect(processed > 20)
        // After item 20 threw, each other worker had at most the item in its hands and the
        // one it was taking: a few, not the rest of the list.
        #expect(processed < 100, "\(processed) items processed after a fatal failure")
        #expect(outcome.results[15].map { if case .failure = $0 { true } else { false } } == true)
    }

    @Test("a worker that cannot be set up stops the pool")
    func setupFails() {
        let outcome = WorkerPool(parallelism: 2).run(
            Array(0..<50),
            worker: { () throws(ItemFailed) -> Int in throw ItemFailed(index: -1) }
        ) { (_: inout Int, item: Int, _: WorkerPool.Context) throws(ItemFailed) in item }
        #expect(outcome.fatal == ItemFailed(index: -1))
        #expect(outcome.completed == 0)
        #expect(outcome.results.allSatisfy { $0 == nil })
    }

    @Test("each worker builds its own state once and keeps it")
    func workerState() {
        let built = Atomic<Int>(0)
        let outcome = WorkerPool(parallelism: 3).run(
            Array(0..<90),
            worker: { () throws(ItemFailed) -> [Int] in
                built.wrappingAdd(1, ordering: .relaxed)
                return []
            }
        ) { (mine: inout [Int], item: Int, _: WorkerPool.Context) throws(ItemFailed) -> Int in
            mine.append(item)
            usleep(200)
            return mine.count
        }
        // Each worker's list grows by one per item it takes: a count of 1 marks a worker's first
        // item, so there are as many 1s as workers that took anything, each built once.
        let counts = outcome.results.compactMap { try? $0?.get() }
        #expect(counts.count == 90)
        let firsts = counts.filter { $0 == 1 }.count
        #expect(firsts >= 1 && firsts <= built.load(ordering: .relaxed) && built.load(ordering: .relaxed) <= 3)
    }

    @Test("the progress hook sees every item once, with totals that never go back and end at the sums")
    func progressTotals() {
        let items = Array(1...300)
        let calls = Mutex<[WorkerPool.Progress]>([])
        let outcome = WorkerPool(parallelism: 4).run(items, progress: { step in
            calls.withLock { $0.append(step) }
        }) { (item: Int, context: WorkerPool.Context) throws(ItemFailed) in
            context.count(bytes: Int64(item))
            if item % 10 == 0 { throw ItemFailed(index: item) }  // failures count as completed too
        }
        let seen = calls.withLock { $0 }
        #expect(seen.count == items.count)
        #expect(Set(seen.map(\.index)) == Set(0..<items.count))
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.completed <= $1.completed && $0.bytes <= $1.bytes })
        #expect(seen.last?.completed == items.count)
        #expect(seen.last?.bytes == Int64(items.reduce(0, +)))
        #expect(outcome.bytes == Int64(items.reduce(0, +)))
    }
}

@Suite("bounded queue")
struct BoundedQueueTests {
    @Test("holds at most its capacity; close drains, then pop returns nil")
    func capacityAndClose() {
        let queue = BoundedQueue<Int>(capacity: 2)
        #expect(queue.tryPush(1) == .pushed)
        #expect(queue.tryPush(2) == .pushed)
        #expect(queue.tryPush(3) == .full)
        #expect(queue.pop() == 1)
        #expect(queue.tryPush(3) == .pushed)
        queue.close()
        #expect(queue.push(4) == .closed)
        #expect(queue.popIndexed()! == (index: 1, element: 2))
        #expect(queue.popIndexed()! == (index: 2, element: 3))
        #expect(queue.pop() == nil)
    }

    @Test("a producer waits while the queue is full, and is released by a pop")
    func backPressure() {
        let queue = BoundedQueue<Int>(capacity: 1)
        queue.push(1)
        let pushed = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            queue.push(2)
            pushed.store(true, ordering: .relaxed)
            done.signal()
        }
        usleep(50_000)
        let early = pushed.load(ordering: .relaxed)
        #expect(!early, "push must wait while the queue is full")
        #expect(queue.pop() == 1)
        done.wait()
        let late = pushed.load(ordering: .relaxed)
        #expect(late)
        #expect(queue.pop() == 2)
    }

    @Test("cancel drops what is queued and releases waiting producers and consumers")
    func cancel() {
        let full = BoundedQueue<Int>(capacity: 1)
        full.push(1)
        let empty = BoundedQueue<Int>(capacity: 1)
        let released = DispatchSemaphore(value: 0)
        let results = Mutex<[String]>([])
        Thread.detachNewThread {
            let result = full.push(2)
            results.withLock { $0.append("push \(result)") }
            released.signal()
        }
        Thread.detachNewThread {
            let result = empty.pop()
            results.withLock { $0.append("pop \(String(describing: result))") }
            released.signal()
        }
        usleep(50_000)
        full.cancel()
        empty.cancel()
        released.wait()
        released.wait()
        #expect(Set(results.withLock { $0 }) == ["push closed", "pop nil"])
        #expect(full.pop() == nil && full.isCancelled)
    }

    @Test("a pipeline stage: a slow consumer pool in front of a bounded queue keeps at most capacity + parallelism items in flight")
    func stage() {
        let queue = BoundedQueue<Int>(capacity: 2)
        let finished = Atomic<Int>(0)
        let highest = Atomic<Int>(0)
        let stage = WorkerPool(parallelism: 2).start(
            consuming: queue,
            worker: { () throws(ItemFailed) in () }
        ) { (_: inout Void, item: Int, _: WorkerPool.Context) throws(ItemFailed) -> Int in
            usleep(2_000)
            finished.wrappingAdd(1, ordering: .relaxed)
            return item
        }
        for item in 0..<40 {
            #expect(queue.push(item) == .pushed)
            // Pushed and not yet finished: queued or in a worker's hands.
            let inFlight = item + 1 - finished.load(ordering: .relaxed)
            if inFlight > highest.load(ordering: .relaxed) { highest.store(inFlight, ordering: .relaxed) }
        }
        queue.close()
        let outcome = stage.wait()
        #expect(outcome.completed == 40)
        #expect(outcome.results.map { try? $0?.get() } == Array(0..<40))
        // Queued (at most the capacity, 2) plus in the workers' hands (at most 2).
        #expect(highest.load(ordering: .relaxed) <= 2 + 2, "in flight: \(highest.load(ordering: .relaxed))")
        #expect(highest.load(ordering: .relaxed) >= 3, "the producer should have been held back by a full queue")
    }

    @Test("a fatal failure in a stage cancels its queue: producers learn it from push")
    func stageStops() {
        let queue = BoundedQueue<Int>(capacity: 2)
        let stage = WorkerPool(parallelism: 1).start(
            consuming: queue, isFatal: { _ in true },
            worker: { () throws(ItemFailed) in () }
        ) { (_: inout Void, item: Int, _: WorkerPool.Context) throws(ItemFailed) in
            if item == 3 { throw ItemFailed(index: 3) }
        }
        var refused = false
        for item in 0..<1000 where queue.push(item) == .closed {
            refused = true
            break
        }
        #expect(refused)
        if !refused { queue.close() }  // so that a broken pool fails the test instead of hanging it
        let outcome = stage.wait()
        #expect(outcome.fatal == ItemFailed(index: 3))
        #expect(outcome.completed == 4)
    }

    @Test("background work runs on a thread of its own, beside the caller, and its result can be waited for more than once")
    func backgroundWork() {
        // The work waits for the caller's signal: were it run on the caller's thread (or not at
        // all until `wait`), the signal would never come and the work would report a timeout.
        let go = DispatchSemaphore(value: 0)
        let work = BackgroundWork { () -> String in
            go.wait(timeout: .now() + 10) == .success ? "ran beside the caller" : "timed out"
        }
        go.signal()
        #expect(work.wait() == "ran beside the caller")
        #expect(work.wait() == "ran beside the caller")
    }
}
