import Synchronization

/// Writes that arrive while another is being written, run after it all together: one transaction and one
/// commit (one fsync) for the lot instead of one each.
///
/// When 100 kiosks send their request batches at the same moment, every batch waits for the writer; a
/// commit is most of what a small batch costs, so the ones waiting are written as one group. The first job
/// to arrive when no group is being written leads: it writes at once, alone. Jobs that arrive meanwhile
/// queue; when the group is committed each of its jobs gets its own outcome, and the first job waiting
/// leads the next group with everything queued by then (at most ``maxGroup``).
final class GroupCommit<Job: Sendable, Output: Sendable>: Sendable {
    /// One job's outcome: what it returned, or why it failed.
    typealias Outcome = Result<Output, CentralStoreError>

    private enum Wake: Sendable {
        case lead
        case done(Outcome)
    }

    private struct Waiter {
        var job: Job
        var continuation: CheckedContinuation<Wake, Never>
    }

    private struct State {
        var queue: [Waiter] = []
        var leading = false
    }

    private let state = Mutex(State())
    /// The most jobs one transaction writes.
    let maxGroup: Int

    init(maxGroup: Int = 64) {
        self.maxGroup = max(1, maxGroup)
    }

    /// Writes `job` in a group; `write` writes a group in one transaction and returns one outcome per job, in order.
    func submit(_ job: Job, write: @escaping @Sendable ([Job]) async -> [Outcome]) async -> Outcome {
        let wake = await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
            let leads = state.withLock { state in
                if state.leading {
                    state.queue.append(Waiter(job: job, continuation: continuation))
                    return false
                }
                state.leading = true
                return true
            }
            if leads { continuation.resume(returning: .lead) }
        }
        switch wake {
        case .done(let outcome):
            return outcome
        case .lead:
            let others = state.withLock { state in
                let group = Array(state.queue.prefix(maxGroup - 1))
                state.queue.removeFirst(group.count)
                return group
            }
            // In a task of its own: the leading job's caller going away (its task cancelled, say a kiosk that
            // hung up) must not fail the other kiosks' batches.
            let jobs = [job] + others.map(\.job)
            var outcomes = await Task { await write(jobs) }.value
            if outcomes.count != others.count + 1 {
                outcomes = Array(repeating: .failure(.corrupt("a group write returned \(outcomes.count) outcomes for \(others.count + 1) jobs")), count: others.count + 1)
            }
            for (waiter, outcome) in zip(others, outcomes.dropFirst()) { waiter.continuation.resume(returning: .done(outcome)) }
            // The next group is led by the first job waiting, if any.
            let next = state.withLock { state -> Waiter? in
                guard !state.queue.isEmpty else {
                    state.leading = false
                    return nil
                }
                return state.queue.removeFirst()
            }
            next?.continuation.resume(returning: .lead)
            return outcomes[0]
        }
    }
}
