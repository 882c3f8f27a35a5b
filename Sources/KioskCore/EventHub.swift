import Synchronization

/// What the event stream (`GET /api/v1/events`) announces.
public enum KioskEvent: Sendable, Equatable {
    /// A verdict: a tapped card (`event: tap`) or a typed number (`event: check`).
    case check(CheckEvent)
    /// A holder's session ended (`event: session_end`): the screen must forget the person.
    case sessionEnded(SessionEnd)

    /// The SSE event name.
    public var name: String {
        switch self {
        case .check(let event): event.type.rawValue
        case .sessionEnded: "session_end"
        }
    }
}

/// Why and which session ended, as `session_end` events carry it.
public struct SessionEnd: Sendable, Codable, Equatable {
    /// Why a session ended.
    public enum Reason: String, Sendable, Codable {
        /// The resident pressed "Gotowe" (`DELETE /api/v1/sessions/{id}`).
        case done
        /// The card that opened the session left the reader.
        case cardRemoved = "card_removed"
        /// The session's lifetime ran out.
        case timeout
    }

    public var session: String
    public var reason: Reason

    public init(session: String, reason: Reason) {
        self.session = session
        self.reason = reason
    }
}

/// Fans events out to every open event stream (`GET /api/v1/events`).
///
/// A slow subscriber never holds up a check: each has a bounded buffer that drops its oldest
/// events, and a screen that falls behind simply sees the newest ones.
public final class EventHub: Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<KioskEvent>.Continuation] = [:]
        var closed = false
    }

    /// How many events a subscriber that does not keep up may have waiting.
    public static let bufferSize = 32

    private let state = Mutex(State())

    public init() {}

    /// A stream of events from now on; it ends when the hub closes.
    public func subscribe() -> AsyncStream<KioskEvent> {
        let (stream, continuation) = AsyncStream<KioskEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferSize))
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
    public func publish(_ event: KioskEvent) {
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
