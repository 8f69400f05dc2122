import Dispatch
import Synchronization

/// A first-in first-out queue of fixed capacity that threads block on: the stage between two
/// steps of a pipeline, and what `WorkerPool` takes its items from.
///
/// The capacity is the memory bound of the stage: a producer that finds the queue full waits
/// in `push` (back-pressure) or, with `tryPush`, learns it at once and can do something else
/// with the element (spill it to disk, skip a failed target). `close` says no more is coming
/// (consumers drain what is left, then `pop` returns nil); `cancel` drops what is left and
/// releases every waiting producer and consumer (a stage that stopped on a fatal error).
///
/// Every element is numbered in push order (`popIndexed`), so that results gathered by
/// several consumers can be put back in the order the work was given.
package final class BoundedQueue<Element: Sendable>: Sendable {
    package enum PushResult: Sendable, Equatable {
        case pushed
        /// Full: nothing was added (only `tryPush` returns this).
        case full
        /// Closed or cancelled: nothing was added, and nothing ever will be.
        case closed
    }

    package let capacity: Int

    private struct State {
        /// A ring of `capacity` slots; `head` is the oldest element, `count` are filled.
        var ring: [(index: Int, element: Element)?]
        var head = 0
        var count = 0
        /// Elements pushed so far: the next element's number.
        var pushed = 0
        var closed = false
        var cancelled = false
        /// Threads parked until there is something to pop, or room to push. Synchronization's
        /// Mutex cannot wait, so each waiter parks on a semaphore of its own, registered under
        /// the lock in the same step that found it had to wait (no wake-up can be missed).
        var waitingToPop: [DispatchSemaphore] = []
        var waitingToPush: [DispatchSemaphore] = []
    }

    private enum Removal: Sendable {
        /// Taken; the producer to wake, if one was waiting for room.
        case took(index: Int, element: Element, wake: DispatchSemaphore?)
        /// Closed and drained, or cancelled.
        case finished
        /// Empty and open; the semaphore this consumer is parked on.
        case empty(parked: DispatchSemaphore)
    }

    private let state: Mutex<State>

    /// - Parameter capacity: elements held at most (at least 1).
    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State(ring: Array(repeating: nil, count: max(1, capacity))))
    }

    /// Adds `element`, waiting while the queue is full.
    /// - Returns: `.pushed`, or `.closed` when the queue is (or becomes, while waiting) closed
    ///   or cancelled.
    @discardableResult
    package func push(_ element: Element) -> PushResult {
        while true {
            switch add(element, parkIfFull: true) {
            case .added(let wake):
                wake?.signal()
                return .pushed
            case .full(let parked):
                parked?.wait()
            case .refused:
                return .closed
            }
        }
    }

    /// Adds `element` if there is room, without waiting.
    package func tryPush(_ element: Element) -> PushResult {
        switch add(element, parkIfFull: false) {
        case .added(let wake):
            wake?.signal()
            return .pushed
        case .full:
            return .full
        case .refused:
            return .closed
        }
    }

    private enum Addition: Sendable {
        /// Added; the consumer to wake, if one was waiting.
        case added(wake: DispatchSemaphore?)
        /// Full; the semaphore this producer is parked on, when it asked to wait.
        case full(parked: DispatchSemaphore?)
        /// Closed or cancelled.
        case refused
    }

    private func add(_ element: Element, parkIfFull: Bool) -> Addition {
        state.withLock { state -> Addition in
            if state.closed || state.cancelled { return .refused }
            if state.count == capacity {
                guard parkIfFull else { return .full(parked: nil) }
                let parked = DispatchSemaphore(value: 0)
                state.waitingToPush.append(parked)
                return .full(parked: parked)
            }
            state.ring[(state.head + state.count) % capacity] = (state.pushed, element)
            state.count += 1
            state.pushed += 1
            return .added(wake: state.waitingToPop.isEmpty ? nil : state.waitingToPop.removeFirst())
        }
    }

    /// The oldest element, waiting while the queue is empty and open.
    /// - Returns: nil when the queue is closed and empty, or cancelled.
    package func pop() -> Element? { popIndexed()?.element }

    /// The oldest element and its number in push order (0 for the first element pushed).
    package func popIndexed() -> (index: Int, element: Element)? {
        while true {
            let step = state.withLock { state -> Removal in
                if state.cancelled { return .finished }
                if state.count > 0 {
                    guard let (index, element) = state.ring[state.head] else {
                        preconditionFailure("BoundedQueue: an empty slot inside the filled part of the ring")
                    }
                    state.ring[state.head] = nil
                    state.head = (state.head + 1) % capacity
                    state.count -= 1
                    let wake = state.waitingToPush.isEmpty ? nil : state.waitingToPush.removeFirst()
                    return .took(index: index, element: element, wake: wake)
                }
                if state.closed { return .finished }
                let parked = DispatchSemaphore(value: 0)
                state.waitingToPop.append(parked)
                return .empty(parked: parked)
            }
            switch step {
            case .took(let index, let element, let wake):
                wake?.signal()
                return (index, element)
            case .finished:
                return nil
            case .empty(let parked):
                parked.wait()
            }
        }
    }

    /// No more elements will be pushed: consumers take what is left, then `pop` returns nil.
    package func close() {
        let parked = state.withLock { state -> [DispatchSemaphore] in
            state.closed = true
            defer { state.waitingToPop.removeAll(); state.waitingToPush.removeAll() }
            return state.waitingToPop + state.waitingToPush
        }
        for waiter in parked { waiter.signal() }
    }

    /// Drops what is left and releases every waiter: `pop` returns nil, `push` `.closed`.
    package func cancel() {
        let parked = state.withLock { state -> [DispatchSemaphore] in
            state.cancelled = true
            state.ring = Array(repeating: nil, count: capacity)
            state.head = 0
            state.count = 0
            defer { state.waitingToPop.removeAll(); state.waitingToPush.removeAll() }
            return state.waitingToPop + state.waitingToPush
        }
        for waiter in parked { waiter.signal() }
    }

    /// Elements pushed so far (taken or not).
    package var pushedCount: Int { state.withLock { $0.pushed } }
    /// Elements waiting to be taken.
    package var count: Int { state.withLock { $0.count } }
    package var isCancelled: Bool { state.withLock { $0.cancelled } }
}
