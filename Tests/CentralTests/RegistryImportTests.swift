import CardModel
@testable import CentralStore
import CentralWire
import Foundation
import KioskTestSupport
import RegistryCSV
import Testing

/// The import writes new card numbers together (many-row inserts, `COPY` on PostgreSQL) and the others one by one;
/// the result must be exactly that of writing every number one by one in file order.
@Suite("Registry import")
struct RegistryImportTests {
    /// A registry export: `numbers` in random order, chips drawn from a small pool of UIDs (so that numbers compete
    /// for them), some printed, some with an old chip beside the current one.
    static func export(numbers: [Int], uids: Range<Int>, rng: inout SplitMix64) -> [Int: String] {
        let names = [("Anna", "Kowalska"), ("Jan", "Nowak"), ("Ewa", "Zielińska"), ("Piotr", "Wójcik")]
        let kinds = [("senior60", "", ""), ("disability", "", "2029-12-31"), ("large_family", "parent", ""), ("large_family", "child", "2031-06-30")]
        var lines: [Int: String] = [:]
        func uid() -> String {
            let v = UInt64(Int.random(in: uids, using: &rng)) &* 0x9E37_79B9 & 0xFFFF_FFFF_FFFF
            return "04" + String(String(v, radix: 16, uppercase: true).reversed()).padding(toLength: 12, withPad: "0", startingAt: 0)
        }
        for n in numbers.shuffled(using: &rng) {
            let (first, last) = names.randomElement(using: &rng)!
            let held = kinds.shuffled(using: &rng).prefix(Int.random(in: 1...2, using: &rng))
            var chips = [(Int.random(in: 0..<7, using: &rng) == 0 ? "" : uid(), ["active", "suspended"].randomElement(using: &rng)!)]
            if Int.random(in: 0..<3, using: &rng) == 0 { chips.append((uid(), ["revoked", "lost"].randomElement(using: &rng)!)) }
            if Int.random(in: 0..<4, using: &rng) == 0 { chips.reverse() }
            for (chip, status) in chips {
                for (kind, role, until) in held {
                    lines[n, default: ""] += "IMP-\(n),\(chip),\(kind),\(role),\(first),\(last),2024-0\(Int.random(in: 1...9, using: &rng))-01,\(until),\(status)\n"
                }
            }
        }
        return lines
    }

    /// `block` (one number's lines) with one thing changed, chosen by `k`: a status, a first day, a name, an
    /// entitlement fewer, the first day of the last line's chip.
    static func tweak(_ block: String, _ k: Int) -> String {
        var lines = block.split(separator: "\n").map(String.init)
        switch k % 5 {
        case 0: lines = lines.map { $0.replacingOccurrences(of: ",active", with: ",suspended") }
        case 1: lines[0] = lines[0].replacingOccurrences(of: ",2024-", with: ",2023-")
        case 2: lines = lines.map { $0.replacingOccurrences(of: "Anna,", with: "Hanna,").replacingOccurrences(of: "Jan,", with: "Janek,") }
        case 3: if lines.count > 1 { lines.removeLast() } else { lines[0] = lines[0].replacingOccurrences(of: ",2024-", with: ",2022-") }
        // The last line: of an old chip, when the number has one (its first day changes, the holder's entitlements not).
        default: lines[lines.count - 1] = lines[lines.count - 1].replacingOccurrences(of: ",2024-", with: ",2021-")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The rows of a file holding `blocks` (each the lines of one number), in that order.
    static func rows(_ blocks: [String]) throws -> [RegistryRow] {
        let parsed = try RegistryCSV.parse(Array(("card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status\n" + blocks.joined()).utf8))
        #expect(parsed.errors.isEmpty, "\(parsed.errors.prefix(3))")
        return parsed.rows
    }

    /// Everything the import writes, with the holders' random ids replaced by their order of appearance.
    static func contents(_ store: RelationalCentralStore) async throws -> [String] {
        try await store.backend.transaction(.read) { db in
            var persons: [String: String] = [:]
            func person(_ id: String) -> String {
                if let known = persons[id] { return known }
                persons[id] = "P\(persons.count)"
                return persons[id]!
            }
            func text(_ value: SQLValue) -> String {
                switch value {
                case .null: "∅"
                case .int(let v): String(v)
                case .real(let v): String(v)
                case .text(let v): v
                }
            }
            var lines: [String] = []
            for row in try await db.query("""
                SELECT id, number, uid, technology, series, status, valid_from, valid_until, replaced_by, person_id FROM card ORDER BY id
                """, []) {
                lines.append("card " + row.cells.dropLast().map(text).joined(separator: " ") + " " + person(try row.text("person_id")))
            }
            // By holder, then as written (an unchanged holder keeps the ids its entitlements had).
            var held: [(String, String)] = []
            for row in try await db.query("SELECT person_id, kind, role, valid_from, valid_until FROM entitlement ORDER BY id", []) {
                held.append((person(try row.text("person_id")), row.cells.dropFirst().map(text).joined(separator: " ")))
            }
            for (holder, entitlement) in held.enumerated().sorted(by: { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }).map(\.element) {
                lines.append("entitlement \(holder) \(entitlement)")
            }
            var names: [String] = []
            for row in try await db.query("SELECT id, display_name FROM person", []) {
                names.append("person " + (persons[try row.text("id")] ?? "without a card") + " " + (try row.text("display_name")))
            }
            lines += names.sorted()
            for row in try await db.query("SELECT seq, op, kiosk_id, payload FROM registry_change ORDER BY seq", []) {
                var payload = try row.text("payload")
                for (id, name) in persons { payload = payload.replacingOccurrences(of: id, with: name) }
                lines.append("feed " + row.cells.dropLast().map(text).joined(separator: " ") + " " + payload)
            }
            return lines
        }
    }

    @Test("new numbers written together leave exactly what writing each number alone leaves", arguments: TestBackend.allCases)
    func togetherEqualsAlone(backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        for seed in [UInt64(7), 8, 9] {
            var rng = SplitMix64(seed: seed)
            let first = Self.export(numbers: Array(0..<120), uids: 0..<150, rng: &rng)
            let before = try Self.rows(first.keys.sorted().compactMap { first[$0] })
            // A third of the numbers again, changed, and a quarter as they were, among 200 new ones; the UIDs
            // overlap the old ones and each other.
            let numbers = Array(0..<120).shuffled(using: &rng)
            let changed = Self.export(numbers: Array(numbers.prefix(40)) + Array(120..<320), uids: 100..<400, rng: &rng)
            let unchanged = numbers[40..<70].compactMap { first[$0] }
            // And some as they were but for one thing: a status, a first day, a name, an entitlement fewer.
            let tweaked = numbers[70..<110].enumerated().compactMap { k, n in first[n].map { Self.tweak($0, k) } }
            let after = try Self.rows((changed.values.sorted() + unchanged + tweaked).shuffled(using: &rng))
            try await withStore(backend) { together in
                try await withStore(backend) { alone in
                    let together = try #require(together as? RelationalCentralStore)
                    let alone = try #require(alone as? RelationalCentralStore)
                    for store in [together, alone] { _ = try await store.importRegistry(before, progress: nil, newCardsTogether: false) }
                    #expect(try await Self.contents(together) == Self.contents(alone))

                    let report = try await together.importRegistry(after, progress: nil, newCardsTogether: true)
                    let expected = try await alone.importRegistry(after, progress: nil, newCardsTogether: false)
                    #expect(report == expected)
                    // The case is worth comparing: new cards, refused chips, and numbers the registry had.
                    #expect(report.cards > 150 && report.changes > report.cards)
                    #expect(report.refused.contains { $0.reason.contains("already belongs to card") })
                    let (got, want) = (try await Self.contents(together), try await Self.contents(alone))
                    #expect(got.count == want.count)
                    for (line, (g, w)) in zip(got, want).enumerated() where g != w {
                        Issue.record("seed \(seed), line \(line):\n  together: \(g)\n  alone:    \(w)")
                        break
                    }
                }
            }
        }
    }

    @Test("the same export again rewrites nothing: no feed entry, no row written anew", arguments: TestBackend.allCases)
    func sameExportAgain(backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        var rng = SplitMix64(seed: 21)
        let export = Self.export(numbers: Array(0..<600), uids: 0..<3000, rng: &rng)
        let rows = try Self.rows(export.keys.sorted().compactMap { export[$0] })
        try await withStore(backend) { store in
            let store = try #require(store as? RelationalCentralStore)
            let first = try await store.importRegistry(rows, progress: nil, newCardsTogether: true)
            #expect(first.cards > 550 && first.changes >= first.cards, "\(first.cards) cards, \(first.changes) changes")
            #expect(!first.refused.isEmpty, "the export has chips whose UID another number has")
            // Entitlement ids change whenever a holder's entitlements are written again.
            func written() async throws -> [[SQLValue]] {
                try await store.backend.transaction(.read) { db in
                    try await db.query("SELECT id, person_id FROM entitlement ORDER BY id", []).map(\.cells)
                        + db.query("SELECT max(seq) AS head FROM registry_change", []).map(\.cells)
                }
            }
            let before = try await written()
            let again = try await store.importRegistry(rows, progress: nil, newCardsTogether: true)
            #expect(again.cards == first.cards && again.changes == 0 && again.refused == first.refused)
            #expect(try await written() == before)
        }
    }

    @Test("on PostgreSQL an import leaves the planner knowing how many rows there are")
    func statisticsAfterAnImport() async throws {
        try TestBackend.postgres.skipUnlessAvailable()
        var rng = SplitMix64(seed: 31)
        let export = Self.export(numbers: Array(0..<400), uids: 0..<4000, rng: &rng)
        try await withStore(.postgres) { store in
            let store = try #require(store as? RelationalCentralStore)
            let report = try await store.importRegistry(try Self.rows(export.keys.sorted().compactMap { export[$0] }), progress: nil)
            // A table never analysed has reltuples -1 (PostgreSQL 14 and later); ANALYZE sets the count it found.
            let counts = try await store.backend.transaction(.read) { db in
                try await db.query("""
                    SELECT c.relname AS name, c.reltuples::bigint AS n FROM pg_class c
                    WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN ('card', 'person', 'registry_change')
                    ORDER BY c.relname
                    """, []).map { "\(try $0.text("name"))=\(try $0.int("n"))" }
            }
            let cards = try await store.backend.transaction(.read) { db in try await db.one("SELECT count(*) AS n FROM card", [])?.int("n") }
            #expect(report.cards > 380)
            #expect(counts == ["card=\(cards ?? -1)", "person=\(report.cards)", "registry_change=\(report.changes + 1)"])
        }
    }

    @Test("many rows at once keep every text as it was, NULLs and the characters COPY escapes too", arguments: TestBackend.allCases)
    func manyRowsKeepTheirText(backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withStore(backend) { store in
            let store = try #require(store as? RelationalCentralStore)
            let texts = ["tab\there", "back\\slash \\N", "line\nbreak\r", "", "\\", "Zażółć gęślą jaźń", "null"]
            // More rows than one INSERT carries.
            let rows: [[SQLValue]] = (0..<600).map { i in
                [.int(Int64(i)), i % 5 == 4 ? .null : .text(texts[i % texts.count])]
            }
            let back = try await store.backend.transaction(.write) { db in
                try await db.execute("CREATE TABLE copy_probe (n BIGINT PRIMARY KEY, t TEXT)")
                try await db.insert(into: "copy_probe", columns: ["n", "t"], rows: rows)
                return try await db.query("SELECT n, t FROM copy_probe ORDER BY n", []).map(\.cells)
            }
            #expect(back == rows)
        }
    }
}

@Suite("Feed entry JSON")
struct FeedJSONTests {
    @Test("a card's feed entry is byte for byte what the store's JSONEncoder writes, slashes and escapes included")
    func sameAsTheEncoder() throws {
        let awkward = ["Anna K.", "Zoë Ł.", "a/b", "quote \" and \\ back", "tab\tnew\nline\u{01}", "ż/ź"]
        var rng = SplitMix64(seed: 11)
        let from = try CivilDate(iso: "2024-02-01")
        for i in 0..<300 {
            let card = CardView(
                number: i % 7 == 0 ? "KDR/\(i)" : "KDR-\(i)", uid: i % 3 == 0 ? nil : "04A1B2C3D4E5\(i % 10)0",
                technology: i % 3 == 0 ? .printed : .iso14443a, series: i % 5 == 0 ? awkward.randomElement(using: &rng) : nil,
                status: [.active, .suspended, .revoked, .lost][i % 4],
                validFrom: try CivilDate(iso: "2024-01-0\(i % 9 + 1)"), validUntil: i % 2 == 0 ? nil : try CivilDate(iso: "2031-12-31"),
                replacedByUID: i % 4 == 2 ? "04FFEEDDCCBBAA" : nil, holderDisplayName: awkward[i % awkward.count],
                personID: UUID().uuidString.lowercased(),
                entitlements: (0..<(i % 3)).map { k in
                    EntitlementView(kind: k == 0 ? .senior60 : .disability, role: nil, validFrom: from, validUntil: nil)
                }
            )
            #expect(try RelationalCentralStore.feedJSON(card) == RelationalCentralStore.json(card), "card \(i)")
        }
    }
}

@Suite("New holder ids")
struct PersonIDTests {
    @Test("a new holder's id is a random version 4 UUID in lower case, never the same twice")
    func randomVersion4() throws {
        let ids = (0..<2000).map { _ in RelationalCentralStore.newPersonID() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            let parsed = try #require(UUID(uuidString: id))
            #expect(parsed.uuidString.lowercased() == id)
            let bytes = withUnsafeBytes(of: parsed.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 4 && bytes[8] >> 6 == 0b10, "\(id)")
        }
    }
}
