import CardModel
import Foundation
import GRDB
import Replica
import Testing

/// Removing a chip or a holder must not read the whole registry. SQLite answers a removal with the statements
/// below (the `ON DELETE SET NULL` of `replaced_by`, the `ON DELETE CASCADE` of a holder's chips, and the
/// orphan check of a feed page); their plans, read from a real replica file, must use an index, never `SCAN card`.
@Suite("Replica removal plans")
struct RemovalPlanTests {
    @Test(arguments: [
        "UPDATE card SET replaced_by = NULL WHERE replaced_by = 1",
        "DELETE FROM card WHERE person_id = 1",
        "DELETE FROM person WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM card WHERE person_id = 1)",
        "DELETE FROM entitlement WHERE person_id = 1",
    ])
    func aRemovalFindsItsRowsThroughAnIndex(statement: String) throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        let queue = try DatabaseQueue(path: replica.path)
        defer { try? queue.close() }
        let details = try queue.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement).map { $0["detail"] as String } }
        #expect(!details.isEmpty)
        #expect(!details.contains { $0.hasPrefix("SCAN card") || $0.hasPrefix("SCAN entitlement") }, "\(details)")
    }
}

/// What a feed page writes, observed in the WAL: the frames one commit left there, counted by a checkpoint
/// run from a connection of the test's own.
@Suite("Replica feed page writes")
struct FeedPageWriteTests {
    static func card(_ i: Int, name: String = "Ewa N.") throws -> SyncedCard {
        SyncedCard(
            number: try CardNumber(normalising: "WAL-\(String(format: "%05d", i))"),
            uid: try ChipUID(bytes: [0x04, 0x31, 0x32, 0x33, 0x34, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)]),
            technology: .ntag215, series: nil, status: .active, validFrom: nil, validUntil: nil, replacedByUID: nil,
            holderDisplayName: name, personRef: "wal-\(i)",
            entitlements: [Entitlement(kind: .senior60, role: nil, validFrom: try CivilDate(iso: "2022-01-01"), validUntil: nil)]
        )
    }

    /// Frames in the WAL now; the WAL is folded into the file on the way, so the next commit starts it again.
    static func walFrames(_ path: String) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.writeWithoutTransaction { db in
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            return row?[1] ?? -1
        }
    }

    /// A replica of 3,000 chips in `dir`, its WAL folded: the frames of the next commit are all the WAL holds.
    static func loaded(in dir: TempDir) throws -> (path: String, replica: Replica, cards: [SyncedCard]) {
        let path = dir.file("replica.sqlite")
        let replica = try Replica(path: path)
        let cards = try (0..<3000).map { try Self.card($0) }
        try replica.replaceAll(with: cards, cursor: 1)
        _ = try Self.walFrames(path)
        return (path, replica, cards)
    }

    @Test func aPageThatChangesNothingWritesOnlyItsCursor() async throws {
        let dir = TempDir()
        let (path, replica, cards) = try Self.loaded(in: dir)

        try await replica.applyChanges(cards.map { .upsert($0) }, cursor: 2)
        let unchanged = try Self.walFrames(path)
        #expect((1...2).contains(unchanged), "\(unchanged) frames")
        #expect(try replica.syncCursor() == 2)

        // New names for every holder: the same count sees the person pages written.
        try await replica.applyChanges(try (0..<3000).map { .upsert(try Self.card($0, name: "Ola B.")) }, cursor: 3)
        let renamed = try Self.walFrames(path)
        #expect(renamed > 10, "\(renamed) frames")
        #expect(try replica.card(number: CardNumber(normalising: "WAL-00007"))?.holderDisplayName == "Ola B.")
        #expect(try replica.consistencyProblems().isEmpty)
    }

    /// A change to the chips themselves rewrites their own pages and nothing else: no index entry is rewritten to the
    /// value it had. (A value of the same length: a longer one would move rows to new pages.)
    @Test func aChipChangeWritesOnlyTheChipsPages() async throws {
        let dir = TempDir()
        let (path, replica, cards) = try Self.loaded(in: dir)
        let queue = try DatabaseQueue(path: path)
        let pages = try await queue.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT name, count(*) AS n FROM dbstat GROUP BY name").map {
                ($0["name"] as String, $0["n"] as Int)
            })
        }
        try queue.close()
        let cardPages = try #require(pages["card"])
        #expect(try #require(pages["card_by_person"]) > 2)

        let changed = cards.map { card -> SyncedChange in
            var card = card
            card.technology = .ntag216
            return .upsert(card)
        }
        try await replica.applyChanges(changed, cursor: 2)
        let frames = try Self.walFrames(path)
        // The card table's pages, and the page of the cursor.
        #expect(frames >= cardPages && frames <= cardPages + 1, "\(frames) frames, \(cardPages) card pages, \(pages)")
        #expect(try replica.card(number: CardNumber(normalising: "WAL-00042"))?.technology == .ntag216)
        #expect(try replica.consistencyProblems().isEmpty)
    }
}
