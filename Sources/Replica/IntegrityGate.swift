import GRDB
import Synchronization

/// When an existing replica file's integrity (`PRAGMA quick_check`) is checked.
public enum IntegrityCheck: Sendable {
    /// Before the file is opened for writing: a damaged file fails the opening (tools, tests, `kioskctl`).
    case beforeOpening
    /// While lookups are already answered, through read-only connections: nothing is written to the file
    /// until the check has passed. Until then the async writes wait for it and the others are refused as
    /// busy; a damaged file fails every write and ``Replica/integrityVerified()``.
    ///
    /// A file that needs a migration (a write) is checked before opening, as with ``beforeOpening``.
    /// On a 5 M-card replica the check takes longer than everything else kioskd does before its first tap.
    case inBackground
}

/// The outcome of a replica's integrity check, shared by its writes and its waiters.
final class IntegrityGate: Sendable {
    private enum State {
        case pending([CheckedContinuation<ReplicaError?, Never>])
        case done(ReplicaError?)
    }

    private let state: Mutex<State>

    /// A gate already passed (the check ran before opening).
    init() { state = Mutex(.done(nil)) }

    /// A gate waiting for ``finish(_:)``.
    init(pending: Void) { state = Mutex(.pending([])) }

    /// Records the check's outcome (`nil`: the file is intact) and wakes the waiters.
    func finish(_ failure: ReplicaError?) {
        let waiters = state.withLock { state -> [CheckedContinuation<ReplicaError?, Never>] in
            guard case .pending(let waiters) = state else { return [] }
            state = .done(failure)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: failure) }
    }

    /// The check's failure, once it ran; `nil` if it passed.
    func outcome() async -> ReplicaError? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> ReplicaError?? in
                switch state {
                case .done(let failure): return .some(failure)
                case .pending(var waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return nil
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Throws unless the check passed: its failure, or "busy" while it runs. Called before a synchronous
    /// write takes the replica's connections (they become writable just before the check reports).
    func allowWrites(path: String) throws(ReplicaError) {
        let failure = state.withLock { state -> ReplicaError? in
            switch state {
            case .done(let failure): return failure
            case .pending: return ReplicaError(
                code: .database, path: path,
                detail: "the replica's integrity check is still running (a few seconds after kioskd starts); try again in a moment"
            )
            }
        }
        if let failure { throw failure }
    }
}

/// The replica's pool: read-only while a background integrity check runs, replaced once by the writable one.
final class ReplicaConnections: Sendable {
    private let current: Mutex<DatabasePool>

    init(_ pool: DatabasePool) { current = Mutex(pool) }

    var pool: DatabasePool { current.withLock { $0 } }

    /// Puts `pool` in use; lookups still running on the old one finish there.
    func replace(with pool: DatabasePool) { current.withLock { $0 = pool } }
}
