import Foundation
import Synchronization

/// Holds the current ``ReaderHealth`` and hands every change to each subscriber's stream.
final class HealthBroadcast: Sendable {
    private struct State {
        var current: ReaderHealth
        var subscribers: [Int: AsyncStream<ReaderHealth>.Continuation] = [:]
        var nextID = 0
    }

    private let state: Mutex<State>

    init(device: String?) {
        state = Mutex(State(current: ReaderHealth(state: .absent, lastError: nil, device: device, since: Date())))
    }

    var current: ReaderHealth { state.withLock { $0.current } }

    /// A new stream that starts with the current health and then yields each change.
    func subscribe() -> AsyncStream<ReaderHealth> {
        let (stream, continuation) = AsyncStream.makeStream(of: ReaderHealth.self, bufferingPolicy: .bufferingNewest(32))
        let id = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            continuation.yield(state.current)
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Records a state; `error` nil keeps the previous ``ReaderHealth/lastError``.
    /// - Returns: whether anything changed (and so was published).
    @discardableResult
    func update(_ newState: ReaderState, error: String? = nil, device: String?) -> Bool {
        state.withLock { state in
            let lastError = error ?? state.current.lastError
            guard state.current.state != newState || state.current.lastError != lastError || state.current.device != device
            else { return false }
            state.current = ReaderHealth(state: newState, lastError: lastError, device: device, since: Date())
            for continuation in state.subscribers.values { continuation.yield(state.current) }
            return true
        }
    }
}
