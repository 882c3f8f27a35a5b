import Synchronization

/// Fans verdict events out to every open event stream (`GET /api/v1/events`).
///
/// A slow subscriber never holds up a check: each has a bounded buffer that drops its oldest
/// events, and a screen that falls behind simply sees the newest verdict.
public final class EventHub: Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<CheckEvent>.Continuation] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    /// A stream of events from now on; it ends when the hub closes.
    public func subscribe() -> AsyncStream<CheckEvent> {
        let (stream, continuation) = AsyncStream<CheckEvent>.makeStream(bufferingPolicy: .bufferingNewest(32))
        let id: Int? = state.withLock { s in
            guard !s.closed else { return nil }
            s.next += 1
            s.subscribers[s.next] = continuation
            return s.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Sends `event` to every subscriber.
    public func publish(_ event: CheckEvent) {
        let targets = state.withLock { Array($0.subscribers.values) }
        for continuation in targets { continuation.yield(event) }
    }

    /// The number of open streams.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every stream, so that a graceful shutdown does not wait for screens to disconnect.
    public func close() {
        let targets = state.withLock { s in
            s.closed = true
            defer { s.subscribers.removeAll() }
            return Array(s.subscribers.values)
        }
        for continuation in targets { continuation.finish() }
    }
}
