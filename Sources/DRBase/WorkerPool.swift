import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs work items on a fixed number of threads of its own: backup's mailboxes, restore's
/// mailboxes, `check --read-data`'s packs, and (next) each target's uploads.
///
/// Why here, in DRBase: the pool knows nothing of mailboxes, packs or targets, and its next
/// user, per-target upload queues, belongs to `BackupWriter` in DRRepository, below DRCore;
/// DRBase is the one module every layer sees. It needs only Dispatch (to park threads) and
/// Synchronization, no Foundation.
///
/// Why threads of its own rather than `DispatchQueue.concurrentPerform` or Swift tasks: the
/// work blocks (file reads, SQLite locks, network transfers), and pipelined pools wait on each
/// other through bounded queues. On a shared, core-sized thread pool, chunking workers
/// blocked on a full upload queue could hold every thread while the uploaders that would
/// drain it wait for one. Each pool's `parallelism` is therefore exactly the number of items
/// in progress at once, independent of the machine's other pools.
///
/// Shape:
/// - items are taken in order from a `BoundedQueue` (the stage primitive): `run` fills one
///   with a given list; `start` consumes a queue that others fill while it runs;
/// - each item yields a `Result`; a failure is recorded for that item and the others go on,
///   unless `isFatal` says it is fatal: then no further item is taken (items already in
///   progress finish) and the queue is cancelled, so producers learn it too;
/// - each worker thread may build state of its own (`worker:`), for what is not thread-safe
///   (a zstd context, a reader's pack window); failing to build it is fatal;
/// - a progress hook sees the items completed and the bytes the items counted.
package struct WorkerPool: Sendable {
    /// Items in progress at once (at least 1). The callers' options hold the default, one
    /// per core (`ProcessInfo.activeProcessorCount`, which also honours CPU quotas), so that
    /// "one per core" has one definition; `run` never starts more workers than items.
    package let parallelism: Int

    package init(parallelism: Int) {
        self.parallelism = max(1, parallelism)
    }

    /// What the progress hook is told after each item.
    package struct Progress: Sendable, Equatable {
        /// Items finished (successfully or not), including this one.
        package var completed: Int
        /// The bytes counted by the items with `Context.count(bytes:)` so far.
        package var bytes: Int64
        /// The number (position) of the item just finished.
        package var index: Int
    }

    /// Given to the body with each item.
    package struct Context: Sendable {
        /// The item's position in the list (or in push order, for a queue).
        package let index: Int
        fileprivate let counters: Counters

        /// Adds to the byte total that the progress hook and the outcome report (bytes read,
        /// restored, verified, uploaded: whatever the caller's measure of work is).
        package func count(bytes: Int64) {
            counters.add(bytes: bytes)
        }
    }

    /// What became of every item.
    package struct Outcome<Output: Sendable, Failure: Error>: Sendable {
        /// One per item, in the items' order; nil for an item that no worker took because
        /// the pool stopped first.
        package var results: [Result<Output, Failure>?]
        /// The failure that stopped the pool (a fatal item, or a worker that could not be set
        /// up), if any.
        package var fatal: Failure?
        /// Items finished.
        package var completed: Int
        /// Bytes counted by the items.
        package var bytes: Int64
    }

    /// Processes `items` and returns when every item taken has finished.
    /// - Parameters:
    ///   - isFatal: whether a failure stops the pool (default: none does).
    ///   - progress: called after each item, on the worker thread, one call at a time, with
    ///     totals that never decrease.
    ///   - worker: builds one worker thread's own state, once per thread, on that thread.
    ///   - body: processes one item; runs on several threads at once.
    package func run<Item: Sendable, Output: Sendable, Failure: Error, Worker>(
        _ items: [Item],
        isFatal: @escaping @Sendable (Failure) -> Bool = { _ in false },
        progress: (@Sendable (Progress) -> Void)? = nil,
        worker: @escaping @Sendable () throws(Failure) -> Worker,
        _ body: @escaping @Sendable (inout Worker, Item, Context) throws(Failure) -> Output
    ) -> Outcome<Output, Failure> {
        guard !items.isEmpty else { return Outcome(results: [], fatal: nil, completed: 0, bytes: 0) }
        let queue = BoundedQueue<Item>(capacity: items.count)
        for item in items { queue.push(item) }
        queue.close()
        return WorkerPool(parallelism: min(parallelism, items.count))
            .start(consuming: queue, isFatal: isFatal, progress: progress, worker: worker, body)
            .wait()
    }

    /// `run` for bodies that need no state of their own per thread.
    package func run<Item: Sendable, Output: Sendable, Failure: Error>(
        _ items: [Item],
        isFatal: @escaping @Sendable (Failure) -> Bool = { _ in false },
        progress: (@Sendable (Progress) -> Void)? = nil,
        _ body: @escaping @Sendable (Item, Context) throws(Failure) -> Output
    ) -> Outcome<Output, Failure> {
        run(items, isFatal: isFatal, progress: progress, worker: { () throws(Failure) in () }) {
            (_: inout Void, item: Item, context: Context) throws(Failure) -> Output in
            try body(item, context)
        }
    }

    /// Starts `parallelism` workers taking items from `queue` until it is closed and drained
    /// (or cancelled), and returns at once: the caller, or other pools, keep pushing into the
    /// queue, then close it and `wait`. This is the form for a pipeline stage, e.g. one
    /// target's uploads: a queue of capacity C in front of a pool of P workers holds at most
    /// C + P elements, whatever the producers' speed.
    package func start<Item: Sendable, Output: Sendable, Failure: Error, Worker>(
        consuming queue: BoundedQueue<Item>,
        isFatal: @escaping @Sendable (Failure) -> Bool = { _ in false },
        progress: (@Sendable (Progress) -> Void)? = nil,
        worker: @escaping @Sendable () throws(Failure) -> Worker,
        _ body: @escaping @Sendable (inout Worker, Item, Context) throws(Failure) -> Output
    ) -> Running<Output, Failure> {
        let running = Running<Output, Failure>(cancelQueue: { queue.cancel() },
                                               itemCount: { queue.pushedCount })
        for _ in 0..<parallelism {
            running.group.enter()
            Self.spawn {
                defer { running.group.leave() }
                Self.work(queue: queue, running: running, isFatal: isFatal, progress: progress,
                          makeWorker: worker, body: body)
            }
        }
        return running
    }

    /// A started pool.
    package final class Running<Output: Sendable, Failure: Error>: Sendable {
        private struct Record {
            /// By item number. An array, not a dictionary keyed by number: a dictionary of
            /// 100,000 outcomes held 2.6 slots per item at the peak of a backup, then `wait`
            /// copied it into an array beside it (120 MiB of a 304 MiB peak, docs/PROFILES.md
            /// "Backup memory per mailbox").
            var results: [Result<Output, Failure>?] = []
            var fatal: Failure?
        }
        private let record = Mutex(Record())
        fileprivate let counters = Counters()
        /// Serializes the progress hook, so that its totals never go backwards.
        private let reporting = Mutex(())
        fileprivate let group = DispatchGroup()
        private let cancelQueue: @Sendable () -> Void
        private let itemCount: @Sendable () -> Int

        fileprivate init(cancelQueue: @escaping @Sendable () -> Void, itemCount: @escaping @Sendable () -> Int) {
            self.cancelQueue = cancelQueue
            self.itemCount = itemCount
        }

        /// Stops taking items (those in progress finish) and drops those still queued.
        package func cancel() { cancelQueue() }

        /// Waits until every worker has finished, then tells what became of each item. The
        /// workers finish when the queue is closed and drained, or cancelled: whoever fills the
        /// queue closes it before waiting. The results are handed over, not copied: a second
        /// call finds none.
        package func wait() -> Outcome<Output, Failure> {
            group.wait()
            let (completed, bytes) = counters.totals
            let count = itemCount()
            return record.withLock { record in
                var results: [Result<Output, Failure>?] = []
                swap(&results, &record.results)
                if results.count < count { results.append(contentsOf: repeatElement(nil, count: count - results.count)) }
                return Outcome(results: results, fatal: record.fatal, completed: completed, bytes: bytes)
            }
        }

        fileprivate func finish(_ index: Int, _ result: Result<Output, Failure>,
                                progress: (@Sendable (Progress) -> Void)?) {
            // Sized for the items pushed so far at once (read outside the record's lock: the
            // queue has a lock of its own).
            let pushed = itemCount()
            record.withLock { record in
                if index >= record.results.count {
                    let wanted = max(index + 1, pushed)
                    record.results.append(contentsOf: repeatElement(nil, count: wanted - record.results.count))
                }
                record.results[index] = result
            }
            counters.complete()
            guard let progress else { return }
            reporting.withLock { _ in
                let (completed, bytes) = counters.totals
                progress(Progress(completed: completed, bytes: bytes, index: index))
            }
        }

        /// Records the first fatal failure and stops the pool.
        fileprivate func stop(_ failure: Failure) {
            record.withLock { record in
                if record.fatal == nil { record.fatal = failure }
            }
            cancelQueue()
        }
    }

    /// One worker thread's loop.
    private static func work<Item: Sendable, Output: Sendable, Failure: Error, Worker>(
        queue: BoundedQueue<Item>, running: Running<Output, Failure>,
        isFatal: @Sendable (Failure) -> Bool, progress: (@Sendable (Progress) -> Void)?,
        makeWorker: @Sendable () throws(Failure) -> Worker,
        body: @Sendable (inout Worker, Item, Context) throws(Failure) -> Output
    ) {
        var worker: Worker
        do throws(Failure) {
            worker = try makeWorker()
        } catch {
            running.stop(error)
            return
        }
        while let (index, item) = queue.popIndexed() {
            let result: Result<Output, Failure>
            do throws(Failure) {
                result = .success(try body(&worker, item, Context(index: index, counters: running.counters)))
            } catch {
                result = .failure(error)
                if isFatal(error) { running.stop(error) }
            }
            running.finish(index, result, progress: progress)
        }
    }

    /// Runs `body` on a new detached thread (default stack size: 8 MiB on Linux). When no
    /// thread can be created (a thread limit reached), it runs on Dispatch's global queue
    /// instead: slower to scale, but the work is done and nobody waits forever.
    fileprivate static func spawn(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            guard let raw else { return nil }
            Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().run()
            return nil
        }, box)
        if created == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            DispatchQueue.global().async(execute: body)
        }
    }
}

/// Work started on a thread of its own beside what the caller goes on doing, its result waited
/// for later: `check --read-data` walks the snapshots' trees (one thread's work) while its pool
/// reads packs, instead of after, with one core idle; a restore of fewer mailboxes than cores
/// opens parts of a group of blobs side by side (`TargetBlobReader`).
package final class BackgroundWork<Value: Sendable>: Sendable {
    private let result = Mutex<Value?>(nil)
    private let done = DispatchSemaphore(value: 0)

    package init(_ work: @escaping @Sendable () -> Value) {
        WorkerPool.spawn { [self] in
            let value = work()
            result.withLock { $0 = value }
            done.signal()
        }
    }

    /// Waits for the work to end and returns its result (again on later calls).
    package func wait() -> Value {
        done.wait()
        done.signal()
        return result.withLock { $0! }
    }
}

/// The closure a new thread runs, passed through pthread_create's context pointer.
private final class ThreadBody: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Items completed and bytes counted, shared by a pool's workers and their items' contexts.
final class Counters: Sendable {
    private let state = Mutex((completed: 0, bytes: Int64(0)))

    func add(bytes: Int64) { state.withLock { $0.bytes += bytes } }
    func complete() { state.withLock { $0.completed += 1 } }
    var totals: (completed: Int, bytes: Int64) { state.withLock { ($0.completed, $0.bytes) } }
}
