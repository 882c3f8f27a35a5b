import CardModel
import Foundation
import KioskTestSupport
import Replica
import Testing

/// The streamed bootstrap: cards are written as they arrive, yet the check path never sees a half replica.
@Suite("Streaming snapshot into the replica")
struct StreamingSnapshotTests {
    static func card(_ i: Int, status: CardStatus = .active) throws -> SyncedCard {
        let from = try CivilDate(iso: "2022-01-01")
        return SyncedCard(
            number: try CardNumber(normalising: "STR-\(String(format: "%05d", i))"),
            uid: try ChipUID(bytes: [0x04, 0x10, 0x20, 0x30, 0x40, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)]),
            technology: .ntag215, series: nil, status: status, validFrom: nil, validUntil: nil, replacedByUID: nil,
            holderDisplayName: "Anna K.", personRef: "p-\(i)",
            entitlements: [Entitlement(kind: .senior60, role: nil, validFrom: from, validUntil: nil)]
        )
    }

    @Test func readersSeeTheOldReplicaUntilTheCommitThenTheWholeNewOne() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try replica.replaceAll(with: [try Self.card(1)], cursor: 1)
        let feed = SnapshotFeed(capacity: 2)
        let writer = Task { try await replica.replaceAll(from: feed) }
        for batch in 0..<5 {
            #expect(await feed.send(try (0..<100).map { try Self.card(1000 + batch * 100 + $0) }))
        }
        // Every batch is queued or written, inside the open transaction: lookups still answer from the old registry.
        try await Task.sleep(for: .milliseconds(200))
        #expect(try replica.card(number: CardNumber(normalising: "STR-00001")) != nil)
        #expect(try replica.card(number: CardNumber(normalising: "STR-01000")) == nil)
        #expect(try replica.stats(detailed: false).cards == 1)
        #expect(try replica.syncCursor() == 1)
        feed.finish(seq: 42, cards: 500)
        let summary = try await writer.value
        #expect(summary == Replica.SnapshotSummary(cards: 500, seq: 42))
        #expect(try replica.card(number: CardNumber(normalising: "STR-00001")) == nil)
        #expect(try replica.card(number: CardNumber(normalising: "STR-01499")) != nil)
        #expect(try replica.stats(detailed: false).cards == 500)
        #expect(try replica.syncCursor() == 42)
        #expect(try replica.consistencyProblems().isEmpty)
    }

    @Test(arguments: [false, true])
    func aSnapshotCutShortOrFailedLeavesTheReplicaAsItWas(failed: Bool) async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try replica.replaceAll(with: [try Self.card(1)], cursor: 7)
        let feed = SnapshotFeed()
        let writer = Task { try await replica.replaceAll(from: feed) }
        #expect(await feed.send(try (0..<50).map { try Self.card(2000 + $0) }))
        if failed { feed.fail() } else { feed.finish(seq: 9, cards: 51) }
        await #expect(throws: ReplicaError.self) { try await writer.value }
        #expect(try replica.stats(detailed: false).cards == 1)
        #expect(try replica.syncCursor() == 7)
        #expect(try replica.card(number: CardNumber(normalising: "STR-00001")) != nil)
        // The writer has stopped: a late batch is refused rather than waited on.
        #expect(await feed.send([try Self.card(3)]) == false)
    }
}
