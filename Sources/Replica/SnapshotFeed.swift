import Foundation

/// A bounded hand-off of snapshot cards from the network to the replica's writer.
///
/// The producer (the sync client, in a task) ``send(_:)``s checked batches as it parses them and ends
/// with ``finish(seq:cards:)`` or ``fail()``; ``Replica/replaceAll(from:at:)`` takes them on the
/// replica's writer thread inside one transaction. At most `capacity` batches wait at any time, so a
/// snapshot of any size goes through in bounded memory: a slow disk slows the download, not the reverse.
///
/// One producer and one consumer. Safe to use from any thread.
public final class SnapshotFeed: @unchecked Sendable {
    /// What the writer gets next.
    enum Item {
        case cards([SyncedCard])
        /// Every card was sent; the snapshot's header said `seq` and `cards`.
        case end(seq: Int64, cards: Int)
        /// The producer gave up: roll back.
        case failed
    }

    /// How many batches may wait for the writer.
    public let capacity: Int

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [[SyncedCard]] = []
    private var ending: (seq: Int64, cards: Int)?
    private var failed = false
    private var stopped = false
    private var waitingProducer: CheckedContinuation<Void, Never>?

    /// A feed holding at most `capacity` batches (at least 1).
    public init(capacity: Int = 4) {
        self.capacity = max(1, capacity)
    }

    /// Hands one batch to the writer, waiting while `capacity` batches are already queued.
    ///
    /// - Returns: `false` if the writer has stopped (it failed or finished): stop sending; the
    ///   writer's own error is what ``Replica/replaceAll(from:at:)`` throws.
    public func send(_ cards: [SyncedCard]) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if stopped || queue.count < capacity {
                condition.unlock()
                continuation.resume()
            } else {
                waitingProducer = continuation
                condition.unlock()
            }
        }
        return enqueue(cards)
    }

    private func enqueue(_ cards: [SyncedCard]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped, !failed, ending == nil else { return false }
        queue.append(cards)
        condition.signal()
        return true
    }

    /// Every card was sent: the writer checks it got `cards` of them and stores `seq` as the cursor.
    public func finish(seq: Int64, cards: Int) {
        condition.lock()
        defer { condition.unlock() }
        guard !failed, ending == nil else { return }
        ending = (seq, cards)
        condition.signal()
    }

    /// The snapshot cannot be completed: the writer rolls back and the replica stays as it was.
    public func fail() {
        condition.lock()
        defer { condition.unlock() }
        failed = true
        condition.signal()
    }

    /// The writer's side: the next batch, waiting for one; the end; or the producer's failure.
    func next() -> Item {
        condition.lock()
        while queue.isEmpty && ending == nil && !failed {
            condition.wait()
        }
        if failed {
            condition.unlock()
            return .failed
        }
        if !queue.isEmpty {
            let batch = queue.removeFirst()
            let producer = waitingProducer
            waitingProducer = nil
            condition.unlock()
            producer?.resume()
            return .cards(batch)
        }
        let end = ending ?? (0, 0)
        condition.unlock()
        return .end(seq: end.seq, cards: end.cards)
    }

    /// The writer's side: it takes nothing more (finished, failed or thrown); wakes a waiting producer.
    func stop() {
        condition.lock()
        stopped = true
        queue.removeAll()
        let producer = waitingProducer
        waitingProducer = nil
        condition.unlock()
        producer?.resume()
    }
}
