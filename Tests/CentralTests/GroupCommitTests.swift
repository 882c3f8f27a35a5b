import CardModel
@testable import CentralStore
import CentralWire
import Foundation
import Testing

/// Request batches that arrive together are written together, one commit for the lot.
@Suite("Group commit")
struct GroupCommitTests {
    /// The groups a write was called with.
    actor Groups {
        var written: [[Int]] = []
        func append(_ jobs: [Int]) { written.append(jobs) }
    }

    @Test("jobs that arrive during a write go in the next one, at most maxGroup a time, each with its own outcome")
    func groupsWhatArrivesDuringAWrite() async throws {
        let commits = GroupCommit<Int, Int>(maxGroup: 16)
        let groups = Groups()
        let outcomes = await withTaskGroup(of: (Int, Result<Int, CentralStoreError>).self) { tasks in
            for job in 0..<40 {
                tasks.addTask {
                    let outcome = await commits.submit(job) { jobs in
                        await groups.append(jobs)
                        try? await Task.sleep(for: .milliseconds(20))
                        return jobs.map { $0 == 13 ? .failure(.invalid("thirteen")) : .success($0 * 2) }
                    }
                    return (job, outcome)
                }
            }
            var all: [Int: Result<Int, CentralStoreError>] = [:]
            for await (job, outcome) in tasks { all[job] = outcome }
            return all
        }
        for job in 0..<40 {
            switch outcomes[job] {
            case .success(let value): #expect(job != 13 && value == job * 2)
            case .failure(let error): #expect(job == 13 && error.message.contains("thirteen"))
            case nil: Issue.record("no outcome for job \(job)")
            }
        }
        let written = await groups.written
        #expect(written.flatMap { $0 }.sorted() == Array(0..<40), "every job written once")
        #expect(written.allSatisfy { $0.count <= 16 })
        #expect(written.count <= 6, "\(written.map(\.count)) writes for 40 jobs")
    }

    @Test("a burst of kiosks' batches is stored exactly once, and sent again it is all duplicates", arguments: TestBackend.allCases)
    func aBurstIsStoredOnce(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withStore(backend) { store in
            try await importSample(store)
            let kiosks = [
                try #require(try await store.authenticate(token: try await store.enrol(.kiosk, name: "burst-1"))),
                try #require(try await store.authenticate(token: try await store.enrol(.kiosk, name: "burst-2"))),
            ]
            let batches = (0..<30).map { b in
                (kiosk: kiosks[b % 2], items: (0..<3).map { i in RequestItem.validate(item("psychologist", card: "SEN-0001", seq: b * 3 + i + 1)) })
            }
            func send() async throws -> [[RequestResult]] {
                try await withThrowingTaskGroup(of: (Int, [RequestResult]).self) { tasks in
                    for (i, batch) in batches.enumerated() {
                        tasks.addTask { (i, try await store.submitRequests(batch.items, from: batch.kiosk)) }
                    }
                    var results = Array(repeating: [RequestResult](), count: batches.count)
                    for try await (i, r) in tasks { results[i] = r }
                    return results
                }
            }
            let first = try await send()
            #expect(first.allSatisfy { $0.count == 3 && $0.allSatisfy { $0.outcome == .accepted && $0.requestID != nil } })
            let ids = first.flatMap { $0.compactMap(\.requestID) }
            #expect(Set(ids).count == 90)
            let again = try await send()
            #expect(again.flatMap { $0 }.allSatisfy { $0.outcome == .duplicate })
            #expect(again.flatMap { $0.compactMap(\.requestID) } == ids, "a duplicate names the request stored the first time")
            let stored = try await store.requests(status: nil, afterID: 0, limit: 1000)
            #expect(stored.count == 90)
        }
    }
}
