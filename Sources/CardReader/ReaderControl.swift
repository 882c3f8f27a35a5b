import Synchronization

/// The few facts shared between a reader thread and the task that runs it: cancellation, the
/// watchdog's view of the libnfc call in progress, the abort handle, and "the thread is done".
final class ReaderControl: Sendable {
    private struct State {
        var cancelled = false
        var abortHandle: DeviceAbortHandle?
        /// When the libnfc call now running began (nil between calls).
        var callStarted: ContinuousClock.Instant?
        /// How long the call now running may legitimately take on top of the watchdog limit.
        var callAllowance: Duration = .zero
        var stallReported = false
        var restartRequested = false
        var finished = false
        /// When the thread last showed it is alive: began a loop iteration or got a libnfc call back.
        var lastProgress: ContinuousClock.Instant?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Stops the thread: it sees the flag between calls; a call waiting for the reader is aborted.
    func cancel() {
        state.withLock { state in
            state.cancelled = true
            if state.callStarted != nil { state.abortHandle?.abort() }
        }
    }

    /// When the reader thread last made progress (began a loop iteration, or a libnfc call
    /// returned); nil before the thread has started its loop.
    var lastProgress: ContinuousClock.Instant? { state.withLock { $0.lastProgress } }

    /// Records progress: the thread is alive and iterating. Called by the loop, never by the watchdog.
    func recordProgress() {
        state.withLock { $0.lastProgress = .now }
    }

    /// Publishes the open device's abort handle (nil before closing it: see ``DeviceAbortHandle``).
    func setAbortHandle(_ handle: DeviceAbortHandle?) {
        state.withLock { $0.abortHandle = handle }
    }

    /// Runs one blocking libnfc call with the watchdog watching it.
    /// - Parameter allowance: how long the call may wait by design (a select waiting for a card:
    ///   ~350 ms); the watchdog gives it this much on top of its limit.
    func tracked<T>(allowance: Duration = .zero, _ call: () -> T) -> T {
        state.withLock {
            $0.callStarted = .now
            $0.callAllowance = allowance
            $0.stallReported = false
        }
        defer {
            state.withLock {
                $0.callStarted = nil
                $0.lastProgress = .now
            }
        }
        return call()
    }

    /// Called by the watchdog: when a call has run longer than `limit` (plus the call's own
    /// allowance), aborts it, asks the thread to reopen the device, and returns how long it has
    /// run (once per stalled call).
    func abortIfStalled(limit: Duration) -> Duration? {
        state.withLock { state in
            guard let started = state.callStarted, !state.stallReported else { return nil }
            let elapsed = ContinuousClock.now - started
            guard elapsed > limit + state.callAllowance else { return nil }
            state.stallReported = true
            state.restartRequested = true
            state.abortHandle?.abort()
            return elapsed
        }
    }

    /// Whether the watchdog asked for a reopen; clears the request.
    func takeRestartRequest() -> Bool {
        state.withLock { state in
            defer { state.restartRequested = false }
            return state.restartRequested
        }
    }

    /// The thread has closed the device and released its lock.
    func markFinished() {
        let waiters = state.withLock { state in
            state.finished = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until ``markFinished()``.
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.finished { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
