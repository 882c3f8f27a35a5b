import CardModel
import Foundation
import GRDB
import KioskTestSupport
import Replica
import Testing

/// The bulk snapshot load (a new file, indexes after the rows, copied in) against the row-by-row path it replaced.
@Suite("Snapshot bulk load")
struct SnapshotBulkLoadTests {
    static func uid(_ n: Int) throws -> ChipUID {
        try ChipUID(bytes: [0x04, 0x77, UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), 0x01, 0x02])
    }

    /// A registry as a central lists it, in a shuffled order: numbers with a chain of replaced chips (old chips
    /// linked to their successors, listed before or after them), printed cards, families sharing nothing but
    /// holders with several chips listed apart; and the awkward cases a row-by-row load also had to settle:
    /// a chip listed twice, a number with two chips in use, a holder whose name changed between listings.
    static func snapshot(seed: UInt64, numbers: Int) throws -> [SyncedCard] {
        var rng = SplitMix64(seed: seed)
        let from = try CivilDate(iso: "2022-01-01")
        var cards: [SyncedCard] = []
        var nextUID = 1
        for n in 0..<numbers {
            let number = try CardNumber(normalising: "BLK-\(String(format: "%05d", n))")
            let person = "p-\(n)"
            let kinds: [Entitlement] = [
                Entitlement(kind: .senior60, role: nil, validFrom: from, validUntil: nil),
                Entitlement(kind: .largeFamily, role: .child, validFrom: from, validUntil: try CivilDate(iso: "2031-05-01")),
            ].filter { _ in Bool.random(using: &rng) }
            func card(_ uid: ChipUID?, _ status: CardStatus, next: ChipUID?, name: String = "Anna K.") -> SyncedCard {
                SyncedCard(
                    number: number, uid: uid, technology: uid == nil ? .printed : .ntag215, series: nil, status: status,
                    validFrom: from, validUntil: nil, replacedByUID: next, holderDisplayName: name, personRef: person, entitlements: kinds
                )
            }
            if n % 7 == 3 {
                cards.append(card(nil, .active, next: nil))
                continue
            }
            let chain = Int.random(in: 1...3, using: &rng)
            var uids: [ChipUID] = []
            for _ in 0..<chain {
                uids.append(try uid(nextUID))
                nextUID += 1
            }
            for (i, chip) in uids.enumerated() {
                let last = i == uids.count - 1
                cards.append(card(chip, last ? (n % 5 == 0 ? .suspended : .active) : (i % 2 == 0 ? .lost : .revoked), next: last ? nil : uids[i + 1]))
            }
            switch n % 23 {
            case 1: cards.append(card(uids[uids.count - 1], .active, next: nil))  // the same chip listed twice
            case 2: cards.append(card(try uid(900_000 + n), .active, next: nil))  // a second chip in use for the number
            case 4: cards.append(card(try uid(950_000 + n), .revoked, next: nil, name: "Anna W."))  // the holder renamed
            default: break
            }
        }
        cards.shuffle(using: &rng)
        return cards
    }

    /// Everything the replica holds about its cards, without row ids.
    static func dump(_ path: String) throws -> [String] {
        try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: """
                SELECT c.number || '|' || ifnull(hex(c.uid), '-') || '|' || c.technology || '|' || c.status || '|'
                    || ifnull(c.valid_from, '-') || '|' || ifnull(hex(r.uid), '-') || '|' || p.ref || '|' || p.display_name || '|'
                    || ifnull((SELECT group_concat(e.kind || ':' || ifnull(e.role, '-') || ':' || e.valid_from || ':' || ifnull(e.valid_until, '-'), ',')
                               FROM (SELECT * FROM entitlement WHERE person_id = p.id ORDER BY kind, valid_from) e), '')
                FROM card c JOIN person p ON p.id = c.person_id LEFT JOIN card r ON r.id = c.replaced_by
                ORDER BY 1
                """)
        }
    }

    static func stream(_ cards: [SyncedCard], into replica: Replica, seq: Int64) async throws -> Replica.SnapshotSummary {
        let feed = SnapshotFeed(capacity: 2)
        let writer = Task { try await replica.replaceAll(from: feed) }
        for start in stride(from: 0, to: cards.count, by: 97) {
            #expect(await feed.send(Array(cards[start..<min(start + 97, cards.count)])))
        }
        feed.finish(seq: seq, cards: cards.count)
        return try await writer.value
    }

    @Test("the bulk load leaves exactly the rows the row-by-row load leaves", arguments: [1, 2, 3] as [UInt64])
    func bulkLoadMatchesRowByRow(seed: UInt64) async throws {
        let dir = TempDir()
        let cards = try Self.snapshot(seed: seed, numbers: 400)
        let rowByRow = try Replica(path: dir.file("row-by-row.sqlite"))
        try rowByRow.replaceAll(with: cards, cursor: 5)
        let bulk = try Replica(path: dir.file("bulk.sqlite"))
        let summary = try await Self.stream(cards, into: bulk, seq: 5)
        #expect(summary == Replica.SnapshotSummary(cards: cards.count, seq: 5))

        let expected = try Self.dump(dir.file("row-by-row.sqlite"))
        let got = try Self.dump(dir.file("bulk.sqlite"))
        #expect(got.count == expected.count)
        #expect(Array(Set(got).symmetricDifference(Set(expected))).sorted().prefix(6) == [])
        #expect(try bulk.consistencyProblems().isEmpty)
        #expect(try bulk.stats(detailed: false).cards == expected.count)
        #expect(try bulk.syncCursor() == 5)
        // The new file is gone, and the replica is still a WAL-mode replica.
        #expect(!FileManager.default.fileExists(atPath: dir.file("bulk.sqlite.bootstrap")))
        let mode = try await DatabaseQueue(path: dir.file("bulk.sqlite")).read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    @Test("a bootstrap keeps the screen preferences of numbers still in the registry and drops the others")
    func preferencesCarriedOver() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        let cards = try Self.snapshot(seed: 9, numbers: 20)
        _ = try await Self.stream(cards, into: replica, seq: 1)
        let staying = try CardNumber(normalising: "BLK-00001"), going = try CardNumber(normalising: "BLK-00002")
        let prefs = ScreenPreferences(language: .uk, largeText: true, speech: false)
        #expect(try replica.setPreferences(prefs, number: staying))
        #expect(try replica.setPreferences(prefs, number: going))
        _ = try await Self.stream(cards.filter { $0.number != going }, into: replica, seq: 2)
        #expect(try replica.preferences(number: staying) == prefs)
        #expect(try replica.preferences(number: going) == nil)
        #expect(try replica.card(number: going) == nil)
    }

    @Test("a leftover new file from a kiosk killed mid-bootstrap is removed and the bootstrap goes on")
    func leftoverFileIsReplaced() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try Data("half a file".utf8).write(to: URL(fileURLWithPath: dir.file("replica.sqlite.bootstrap")))
        let cards = try Self.snapshot(seed: 4, numbers: 30)
        let summary = try await Self.stream(cards, into: replica, seq: 3)
        #expect(summary.cards == cards.count)
        #expect(!FileManager.default.fileExists(atPath: dir.file("replica.sqlite.bootstrap")))
        #expect(try replica.consistencyProblems().isEmpty)
    }
}
