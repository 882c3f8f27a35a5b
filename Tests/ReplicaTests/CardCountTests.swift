import CardModel
import Foundation
import GRDB
import RegistryCSV
import Replica
import Testing

/// The card count the replica keeps for the status page (`card_count`, updated by triggers in every writing
/// transaction) against a real `SELECT count(*)` after every kind of write, and after a snapshot rolled back.
@Suite("Replica card count")
struct CardCountTests {
    /// The kept count and the counted rows, read through a connection of their own.
    static func counts(_ path: String) throws -> (kept: Int, counted: Int) {
        var config = Configuration()
        config.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: config)
        defer { try? queue.close() }
        return try queue.read { db in
            (try Int.fetchOne(db, sql: "SELECT n FROM card_count WHERE id = 1") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM card") ?? -1)
        }
    }

    /// The kept count equals the rows, and is what the status page and `Replica.inspect` report.
    static func expectExact(_ replica: Replica, _ expected: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (kept, counted) = try counts(replica.path)
        #expect(kept == counted, "kept \(kept), counted \(counted)", sourceLocation: sourceLocation)
        #expect(counted == expected, sourceLocation: sourceLocation)
        #expect(try replica.stats(detailed: false).cards == counted, sourceLocation: sourceLocation)
        #expect(try replica.stats(detailed: true).cards == counted, sourceLocation: sourceLocation)
        #expect(try Replica.inspect(path: replica.path).cards == counted, sourceLocation: sourceLocation)
    }

    static func card(
        _ i: Int, uid: UInt8? = nil, status: CardStatus = .active, person: Int? = nil, replacedBy: UInt8? = nil
    ) throws -> SyncedCard {
        let from = try CivilDate(iso: "2022-01-01")
        return SyncedCard(
            number: try CardNumber(normalising: "CNT-\(String(format: "%05d", i))"),
            uid: try uid.map { try ChipUID(bytes: [0x04, 0x55, 0x66, 0x77, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF), $0]) },
            technology: uid == nil ? .printed : .ntag215, series: nil, status: status, validFrom: nil, validUntil: nil,
            replacedByUID: try replacedBy.map { try ChipUID(bytes: [0x04, 0x55, 0x66, 0x77, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF), $0]) },
            holderDisplayName: "Ewa N.", personRef: "cnt-\(person ?? i)",
            entitlements: [Entitlement(kind: .senior60, role: nil, validFrom: from, validUntil: nil)]
        )
    }

    @Test("import, re-import, bootstrap, a delta with upserts and removals, and a failed snapshot keep the count exact")
    func keptCountFollowsEveryWrite() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try Self.expectExact(replica, 0)

        // Import: three numbers, one of them a replaced card (two chips), one chipless.
        let first = try parse(header + """
            SKS-1,04:A1:10:22:33:44:80,senior60,,Halina,Wójcik,2021-03-01,,active
            KDR-2,04:A1:10:22:33:44:81,large_family,parent,Jan,Nowak,2020-01-01,,revoked
            KDR-2,04:A1:10:22:33:44:82,large_family,parent,Jan,Nowak,2020-01-01,,active
            KDR-3,,large_family,child,Ola,Nowak,2020-01-01,2030-01-01,active

            """).rows
        #expect(try replica.importRegistry(first).refused.isEmpty)
        try Self.expectExact(replica, 4)
        // Re-import: the same rows (deleted and written again), then a number that loses a chip.
        _ = try replica.importRegistry(first)
        try Self.expectExact(replica, 4)
        _ = try replica.importRegistry(try parse(header + "KDR-2,04:A1:10:22:33:44:82,large_family,parent,Jan,Nowak,2020-01-01,,active\n").rows)
        try Self.expectExact(replica, 3)

        // Bootstrap from a snapshot in one piece: everything replaced.
        try replica.replaceAll(with: try (1...20).map { try Self.card($0, uid: 1) } + [try Self.card(21)], cursor: 10)
        try Self.expectExact(replica, 21)

        // A delta: new chips, updates in place, a chip replaced (old revoked, new current), a chip whose UID
        // changed in place (the stale current chip is dropped), removals, and the removal of a chip never stored.
        try await replica.applyChanges([
            .upsert(try Self.card(22, uid: 1)),
            .upsert(try Self.card(23)),
            .upsert(try Self.card(2, uid: 1, status: .suspended)),
            .upsert(try Self.card(3, uid: 1, status: .revoked, replacedBy: 2)),
            .upsert(try Self.card(3, uid: 2)),
            .upsert(try Self.card(4, uid: 9)),
            .remove(try Self.card(5, uid: 1)),
            .remove(try Self.card(21)),
            .remove(try Self.card(99, uid: 1)),
        ], cursor: 11)
        // 21 + 22 + 23 + chip 3/2 − 4/1 (stale) + 4/9 − 5 − 21
        try Self.expectExact(replica, 22)
        #expect(try replica.consistencyProblems().isEmpty)
        // The same page again: nothing changes.
        try await replica.applyChanges([.upsert(try Self.card(22, uid: 1)), .remove(try Self.card(5, uid: 1))], cursor: 11)
        try Self.expectExact(replica, 22)

        // A streamed snapshot that fails part-way, and one whose count is short: both roll back, count included.
        for failed in [true, false] {
            let feed = SnapshotFeed()
            let writer = Task { try await replica.replaceAll(from: feed) }
            #expect(await feed.send(try (100..<150).map { try Self.card($0, uid: 1) }))
            if failed { feed.fail() } else { feed.finish(seq: 12, cards: 51) }
            await #expect(throws: ReplicaError.self) { try await writer.value }
            try Self.expectExact(replica, 22)
            #expect(try replica.syncCursor() == 11)
        }
        // The load's own transaction put the count's triggers aside; the rollback brought them back.
        try await replica.applyChanges([.upsert(try Self.card(30, uid: 1))], cursor: 11)
        try Self.expectExact(replica, 23)
        try await replica.applyChanges([.remove(try Self.card(30, uid: 1))], cursor: 11)
        try Self.expectExact(replica, 22)

        // A streamed snapshot that completes.
        let feed = SnapshotFeed()
        let writer = Task { try await replica.replaceAll(from: feed) }
        #expect(await feed.send(try (100..<150).map { try Self.card($0, uid: 1) }))
        #expect(await feed.send(try (150..<160).map { try Self.card($0) }))
        feed.finish(seq: 13, cards: 60)
        #expect(try await writer.value.cards == 60)
        try Self.expectExact(replica, 60)
        // And after a load that committed, the triggers count again.
        try await replica.applyChanges([.upsert(try Self.card(30, uid: 1))], cursor: 14)
        try Self.expectExact(replica, 61)

        // Re-opened, the count is still there and still right.
        try Self.expectExact(try Replica(path: replica.path), 61)
    }

    @Test("a replica from before the kept count gets it from the rows already there")
    func migrationCountsExistingRows() async throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        do {
            let replica = try Replica(path: path)
            try replica.replaceAll(with: try (1...7).map { try Self.card($0, uid: 3) }, cursor: 1)
        }
        // Make the file as an older kioskd left it: no count, no triggers, no record of the migration.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: """
                DROP TRIGGER card_count_insert; DROP TRIGGER card_count_delete; DROP TABLE card_count;
                DELETE FROM grdb_migrations WHERE identifier LIKE 'v2 %';
                """)
        }
        try queue.close()
        #expect(try Replica.inspect(path: path).cards == 7)
        let replica = try Replica(path: path)
        try Self.expectExact(replica, 7)
        try await replica.applyChanges([.upsert(try Self.card(8, uid: 3))], cursor: 2)
        try Self.expectExact(replica, 8)
    }

    @Test("an INSERT OR REPLACE of a card keeps the count exact")
    func insertOrReplace() throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try replica.replaceAll(with: [try Self.card(1, uid: 1)], cursor: 1)
        // Through a connection set up as the replica's own (recursive triggers on), as another writer would be.
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA recursive_triggers = ON") }
        let queue = try DatabaseQueue(path: replica.path, configuration: config)
        try queue.write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO card (id, number, uid, technology, status, person_id)
                SELECT id, number, uid, technology, 'suspended', person_id FROM card
                """)
        }
        try queue.close()
        try Self.expectExact(replica, 1)
    }
}
