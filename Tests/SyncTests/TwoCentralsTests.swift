import Foundation
import KioskTestSupport
import Synchronization
import Testing

/// Two `cus-central serve` processes on one PostgreSQL database serve the same kiosks: while both take
/// registry edits at once, a kiosk reading the feed from either in turn sees cursors only go forward and
/// every change exactly once.
@Suite("Two centrals on one PostgreSQL", .spawnsProcesses)
struct TwoCentralsTests {
    @Test func editsThroughBothReachAKioskReadingFromEitherOnceAndInOrder() async throws {
        try CentralStoreKind.postgres.skipUnlessAvailable()
        let dir = TempDir(prefix: "two-centrals")
        let first = CentralProcess(dir: dir, store: .postgres)
        let cards = 60
        try await first.importRegistry(bigRegistryCSV(count: cards, prefix: "TWO"))
        let kioskToken = try await first.enrolKiosk("skalka-two")
        let staffToken = try await first.admin(["staff", "add", "desk-two"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = CentralProcess(sharing: first, dir: TempDir(prefix: "two-centrals-b"))
        try await first.start()
        try await second.start()
        defer {
            first.stop()
            second.stop()
        }
        let servers = [first.url, second.url]

        // Writers: suspend and reactivate every card through one central or the other, at the same time.
        let numbers = try await Self.numbers(servers[0], kioskToken)
        #expect(numbers.count == cards)
        let failures = Shared<[String]>([])
        let done = Shared(false)
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for (i, number) in numbers.enumerated() {
                    let server = servers[i % 2]
                    let other = servers[(i + 1) % 2]
                    group.addTask {
                        for (url, action) in [(server, "suspend"), (other, "reactivate")] {
                            let r = try? await http("POST", "\(url)/v1/staff/cards/\(number)/\(action)", bearer: staffToken)
                            if r?.status != 200 { failures.value.withLock { $0.append("\(action) \(number): \(r?.status ?? 0)") } }
                        }
                    }
                }
            }
            done.value.withLock { $0 = true }
        }

        // The kiosk: small pages, from each central in turn, while the writers run and until it has caught up after.
        var seen: [Int] = []
        var cursor = 0
        var turn = 0
        while true {
            let finished = done.value.withLock { $0 }  // before the page: a page read after the last write ends the loop
            let (changes, next, more) = try await Self.page(servers[turn % 2], kioskToken, after: cursor, limit: 7)
            turn += 1
            #expect(next >= cursor, "the cursor went back from \(cursor) to \(next)")
            for seq in changes {
                #expect(seq > cursor, "seq \(seq) at or before the cursor \(cursor)")
            }
            seen += changes
            cursor = next
            if finished && !more { break }
        }
        await writers.value
        #expect(failures.value.withLock { $0 } == [])
        #expect(Set(seen).count == seen.count, "a change came twice")
        #expect(seen == seen.sorted())

        // Every change the database holds, from either central, is one the kiosk saw.
        let (all, head, _) = try await Self.page(servers[1], kioskToken, after: 0, limit: 1000)
        #expect(seen == all, "skipped: \(Set(all).subtracting(seen).sorted().prefix(10))")
        #expect(cursor == head)
        // The catalogue, the cards, and two changes a card.
        #expect(all.count == 1 + cards + 2 * cards)
    }

    /// One feed page: its sequence numbers, the next cursor and whether there is more.
    static func page(_ base: String, _ token: String, after: Int, limit: Int) async throws -> ([Int], Int, Bool) {
        let r = try await http("GET", "\(base)/v1/registry/changes?after=\(after)&limit=\(limit)", bearer: token)
        guard r.status == 200, let json = r.json, let next = json["next_after"] as? Int, let more = json["has_more"] as? Bool,
              let changes = json["changes"] as? [[String: Any]]
        else { throw TestFailure("feed page: HTTP \(r.status)") }
        return (changes.compactMap { $0["seq"] as? Int }, next, more)
    }

    /// The card numbers the feed holds.
    static func numbers(_ base: String, _ token: String) async throws -> [String] {
        let r = try await http("GET", "\(base)/v1/registry/changes?after=0&limit=1000", bearer: token)
        let changes = r.json?["changes"] as? [[String: Any]] ?? []
        return changes.compactMap { ($0["card"] as? [String: Any])?["number"] as? String }
    }
}

/// A value shared between tasks, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}
