import CardModel
import CentralWire
import Foundation
import Logging
import RegistryCSV

extension RelationalCentralStore {
    func importRegistry(
        _ rows: [RegistryRow], progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
    ) async throws(CentralStoreError) -> RegistryImportReport {
        try await importRegistry(rows, progress: progress, newCardsTogether: true)
    }

    /// The import; `newCardsTogether: false` writes every card number alone, the way a change to an existing one is
    /// written (the tests compare the two).
    ///
    /// Card numbers the registry does not have yet, whose chips no card has either, are gathered and written
    /// together: their rows with many-row inserts (`COPY` on PostgreSQL), their feed entries built from what was
    /// written instead of read back. A number the registry has is compared with its stored rows (read a few hundred
    /// numbers ahead, ``StoredNumbers``) and written only if something differs: alone, in file order, after what
    /// was gathered before it. So the outcome is the one of writing every number alone in file order, where each
    /// took a dozen statements: a first export is almost all new numbers, the next night's almost all unchanged.
    func importRegistry(
        _ rows: [RegistryRow], progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?, newCardsTogether: Bool
    ) async throws(CentralStoreError) -> RegistryImportReport {
        var refusedByRules: [RowErrorView] = []
        var publishable: [RegistryRow] = []
        for row in rows {
            if let why = Self.registryRuleViolation(row) {
                refusedByRules.append(RowErrorView(line: row.line, reason: why))
            } else {
                publishable.append(row)
            }
        }
        let groups = RegistryChip.groupByCard(publishable)
        let dialect = backend.dialect
        let (cards, changes, refused) = try await run(.write) { db -> (Int, Int, [RowErrorView]) in
            var refused = refusedByRules
            var cards = 0
            var changes = 0
            // What the registry held before the import, looked up once for all its numbers and chips.
            let known = newCardsTogether ? try await KnownKeys.read(db, groups: groups) : nil
            // Chips this import gave a card number, by UID.
            var claimed: [String: CardNumber] = [:]
            var batch = NewCardBatch()
            var stored = StoredNumbers()
            for (done, (number, group)) in groups.enumerated() {
                progress?(done, groups.count)
                var rowErrors: [RowError] = []
                let planned = RegistryChip.plan(group, refused: &rowErrors)
                refused += rowErrors.map { RowErrorView(line: $0.line, reason: $0.reason) }

                // The stored rows of numbers the registry has, read a few hundred numbers ahead.
                if let known, known.numbers.contains(number.value), !stored.has(number.value) {
                    let ahead = groups[done...].lazy.map(\.number.value).filter { known.numbers.contains($0) }
                    try await stored.read(db, numbers: Array(ahead.prefix(StoredNumbers.readAhead)))
                }
                // A chip whose UID another number has is refused. Number by number, the registry says who has it;
                // otherwise this number (as read), one this import gave it to, or the registry for a UID it had.
                var chips: [RegistryChip] = []
                for chip in planned {
                    if let uid = chip.uid {
                        var owner: String?
                        if let known {
                            owner = stored.holds(number.value, uid: uid.hex) ? number.value : claimed[uid.hex]?.value
                            if owner == nil, known.uids.contains(uid.hex) { owner = try await Self.owner(of: uid, db) }
                        } else {
                            owner = try await Self.owner(of: uid, db)
                        }
                        if let owner, owner != number.value {
                            refused += Self.refusals(chip, uid: uid, owner: owner)
                            continue
                        }
                    }
                    chips.append(chip)
                }
                guard !chips.isEmpty else { continue }
                cards += 1
                guard let known else {
                    // Every number alone, in file order: the reference the tests compare with.
                    changes += try await writeImported(db, number: number, chips: chips)
                    continue
                }
                for chip in chips { if let uid = chip.uid { claimed[uid.hex] = number } }

                if known.isNew(number, chips) {
                    batch.add(number: number, chips: chips)
                    if batch.chipCount >= NewCardBatch.flushAt { changes += try await batch.write(db, dialect: dialect) }
                    continue
                }
                // A number the registry has exactly as the file has it (a nightly export is mostly that).
                if stored.isUnchanged(number.value, chips) { continue }
                // Any other: written alone, after the new numbers gathered before it. The write may change its
                // holders, who may hold other numbers read ahead.
                stored.forget(holdersOf: number.value)
                changes += try await batch.write(db, dialect: dialect)
                changes += try await writeImported(db, number: number, chips: chips)
            }
            changes += try await batch.write(db, dialect: dialect)
            progress?(groups.count, groups.count)
            return (cards, changes, refused)
        }
        if dialect == .postgres, changes > 0 { await analyzeRegistry() }
        return RegistryImportReport(cards: cards, changes: changes, refused: refused.sorted { $0.line < $1.line })
    }

    /// Refreshes PostgreSQL's statistics of the registry's tables after an import wrote to them.
    ///
    /// Until autovacuum gets to them, the planner does not know how many rows a first import left: the next
    /// import, right after it, read its numbers back by table scans (27 s for 200,000 rows; 7 s after this, which
    /// takes 0.3 s). Outside the import's transaction and without the feed lock: writers are not held up. Best
    /// effort: the import has committed either way.
    func analyzeRegistry() async {
        do {
            try await backend.transaction(.write) { db in try await db.execute("ANALYZE card, person, entitlement, registry_change") }
        } catch {
            logger.warning("could not refresh the registry's statistics after the import (autovacuum will): \(error)")
        }
    }

    /// A new holder's pseudonymous id: a random (version 4) UUID, in lower case.
    ///
    /// From the kernel's `getrandom` through the standard generator: Foundation's `UUID()` opened and read
    /// `/dev/urandom` for each one, 5 % of an import of 200,000 new cards.
    static func newPersonID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = raw[6] & 0x0F | 0x40
            raw[8] = raw[8] & 0x3F | 0x80
            return UUID(uuid: (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                               raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15])).uuidString.lowercased()
        }
    }

    /// The card number the registry gives the chip `uid`, if any.
    static func owner(of uid: ChipUID, _ db: any SQLConnection) async throws -> String? {
        try await db.one("SELECT number FROM card WHERE uid = ?", [.text(uid.hex)])?.optionalText("number")
    }

    /// The rows of a chip whose UID another card number has.
    static func refusals(_ chip: RegistryChip, uid: ChipUID, owner: String) -> [RowErrorView] {
        chip.rows.map { .init(line: $0.line, reason: "uid \(uid.masked) already belongs to card …\(owner.suffix(4)); revoke that card first") }
    }

    /// Why `row` cannot become a published card (the registry rules kiosks check), or `nil`.
    static func registryRuleViolation(_ row: RegistryRow) -> String? {
        do {
            try RegistryRules.checkDisplayName(row.displayName)
            try RegistryRules.checkEntitlements([row.entitlementValue])
            if let uid = row.uid { _ = try RegistryRules.checkChip(uid: uid.hex, technology: .iso14443a) }
        } catch {
            if error.field == .holderDisplayName {
                return "first_name/last_name: the name kiosks show (first name and initial of the last name) \(error.reason)"
            }
            return error.description
        }
        return nil
    }

    /// Makes the stored chips of `number` match `chips`, updating in place where the UID matches.
    func writeImported(_ db: any SQLConnection, number: CardNumber, chips: [RegistryChip]) async throws -> Int {
        let existing = try await db.query("SELECT id, uid, technology, person_id FROM card WHERE number = ? ORDER BY id", [.text(number.value)])
        let personID = existing.first?.optionalText("person_id") ?? Self.newPersonID()
        let persons = Set(existing.compactMap { $0.optionalText("person_id") }).union([personID])
        return try await tracking(db, persons: persons) {
            let first = chips[0].rows[0]
            try await db.execute("""
                INSERT INTO person (id, display_name) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name
                """, [.text(personID), .text(first.displayName)])
            var matched: Set<Int64> = []
            var currentID: Int64?
            let ordered = RegistryChip.currentFirst(chips)
            for chip in ordered {
                let match = existing.first { row in
                    row.optionalText("uid") == chip.uid?.hex && !matched.contains(row.optionalInt("id") ?? -1)
                }
                let technology = chip.uid == nil
                    ? CardTechnology.printed.rawValue
                    : (match?.optionalText("technology") ?? CardTechnology.iso14443a.rawValue)
                let replacedBy: SQLValue = chip.isCurrent ? .null : (currentID.map { .int($0) } ?? .null)
                let fields: [SQLValue] = [
                    .text(technology), .text(chip.status.rawValue), chip.validFrom.map { .text($0.iso) } ?? .null,
                    chip.validUntil.map { .text($0.iso) } ?? .null, replacedBy, .text(personID),
                ]
                let id: Int64
                if let match, let matchID = match.optionalInt("id") {
                    try await db.execute("""
                        UPDATE card SET technology = ?, status = ?, valid_from = ?, valid_until = ?, replaced_by = ?, person_id = ?
                        WHERE id = ?
                        """, fields + [.int(matchID)])
                    id = matchID
                } else {
                    guard let row = try await db.one("""
                        INSERT INTO card (technology, status, valid_from, valid_until, replaced_by, person_id, number, uid)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                        """, fields + [.text(number.value), chip.uid.map { .text($0.hex) } ?? .null]) else {
                        throw CentralStoreError.corrupt("INSERT returned no id")
                    }
                    id = try row.int("id")
                }
                matched.insert(id)
                if chip.isCurrent { currentID = id }
            }
            for row in existing {
                if let id = row.optionalInt("id"), !matched.contains(id) {
                    try await db.execute("DELETE FROM card WHERE id = ?", [.int(id)])
                }
            }
            try await replaceEntitlements(db, personID: personID, RegistryChip.entitlements(of: ordered))
            return [personID]
        }
    }
}

extension RegistryChip {
    /// The chips of one card number, the current one first (the others point to it).
    static func currentFirst(_ chips: [RegistryChip]) -> [RegistryChip] {
        chips.sorted { $0.isCurrent && !$1.isCurrent }
    }

    /// The holder's entitlements: the current chip's rows, or every chip's when none is current; each once.
    static func entitlements(of ordered: [RegistryChip]) -> [EntitlementView] {
        var entitlements: [Entitlement] = []
        let anyCurrent = ordered.contains(where: \.isCurrent)
        for chip in ordered where chip.isCurrent || !anyCurrent {
            for row in chip.rows where !entitlements.contains(row.entitlementValue) {
                entitlements.append(row.entitlementValue)
            }
        }
        return entitlements.map { EntitlementView(kind: $0.kind, role: $0.role, validFrom: $0.validFrom, validUntil: $0.validUntil) }
    }

    /// The first day of any of the chip's rows.
    var validFrom: CivilDate? { rows.lazy.map { $0.validFrom }.min() }

    /// The last day of any of the chip's rows; `nil` when one of them is open-ended.
    var validUntil: CivilDate? { rows.contains { $0.validUntil == nil } ? nil : rows.lazy.compactMap { $0.validUntil }.max() }
}

/// The card numbers and chip UIDs of an import that the registry already had when it began.
struct KnownKeys {
    var numbers: Set<String> = []
    var uids: Set<String> = []

    /// Looked up in pieces of a few hundred keys, through the indexes on `number` and `uid`.
    static func read(_ db: any SQLConnection, groups: [(number: CardNumber, rows: [RegistryRow])]) async throws -> KnownKeys {
        var known = KnownKeys()
        known.numbers = try await present(db, column: "number", groups.map(\.number.value))
        known.uids = try await present(db, column: "uid", Array(Set(groups.flatMap { $0.rows.compactMap(\.uid?.hex) })))
        return known
    }

    private static func present(_ db: any SQLConnection, column: String, _ keys: [String]) async throws -> Set<String> {
        var found: Set<String> = []
        var start = 0
        while start < keys.count {
            let chunk = keys[start..<min(start + 500, keys.count)]
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            for row in try await db.query("SELECT \(column) AS k FROM card WHERE \(column) IN (\(marks))", chunk.map { .text($0) }) {
                if let key = row.optionalText("k") { found.insert(key) }
            }
            start = chunk.endIndex
        }
        return found
    }

    /// A number the registry did not have, none of whose chips it had either.
    func isNew(_ number: CardNumber, _ chips: [RegistryChip]) -> Bool {
        !numbers.contains(number.value) && chips.allSatisfy { chip in chip.uid.map { !uids.contains($0.hex) } ?? true }
    }
}

/// New card numbers of an import, gathered to be written together.
struct NewCardBatch {
    /// Chips gathered before they are written (a few MiB of rows).
    static let flushAt = 8192

    private var cards: [(number: CardNumber, name: String, chips: [RegistryChip])] = []
    private(set) var chipCount = 0

    mutating func add(number: CardNumber, chips: [RegistryChip]) {
        // The name on the number's first row, as when the number is written alone.
        cards.append((number, chips[0].rows[0].displayName, RegistryChip.currentFirst(chips)))
        chipCount += chips.count
    }

    /// Writes what was gathered, each number as its own new holder, with one feed entry per chip; returns how many.
    mutating func write(_ db: any SQLConnection, dialect: SQLDialect) async throws -> Int {
        guard chipCount > 0 else { return 0 }
        var ids = try await Self.reserveCardIDs(db, dialect: dialect, count: chipCount)[...]
        guard let last = try await db.one(
            "UPDATE feed_state SET last_seq = last_seq + ? WHERE id = 1 RETURNING last_seq", [.int(Int64(chipCount))]
        )?.optionalInt("last_seq") else {
            throw CentralStoreError.corrupt("the feed_state row is missing")
        }
        var seq = last - Int64(chipCount)
        let now = Clock.nowMillis()
        var persons: [[SQLValue]] = []
        var cardRows: [[SQLValue]] = []
        var entitlementRows: [[SQLValue]] = []
        var feed: [[SQLValue]] = []
        persons.reserveCapacity(cards.count)
        cardRows.reserveCapacity(chipCount)
        feed.reserveCapacity(chipCount)
        for (number, name, chips) in cards {
            let personID = RelationalCentralStore.newPersonID()
            persons.append([.text(personID), .text(name)])
            let entitlements = RegistryChip.entitlements(of: chips)
            for e in entitlements {
                entitlementRows.append([
                    .text(personID), .text(e.kind.rawValue), e.role.map { .text($0.rawValue) } ?? .null,
                    .text(e.validFrom.iso), e.validUntil.map { .text($0.iso) } ?? .null,
                ])
            }
            // As a feed entry reads them back: by kind, then first day, then as written.
            let shown = entitlements.enumerated().sorted {
                ($0.element.kind.rawValue, $0.element.validFrom.iso, $0.offset) < ($1.element.kind.rawValue, $1.element.validFrom.iso, $1.offset)
            }.map(\.element)
            var current: (id: Int64, uid: ChipUID?)?
            for chip in chips {
                guard let id = ids.popFirst() else { throw CentralStoreError.corrupt("fewer card ids than chips") }
                let technology: CardTechnology = chip.uid == nil ? .printed : .iso14443a
                let replacedBy = chip.isCurrent ? nil : current
                cardRows.append([
                    .int(id), .text(number.value), chip.uid.map { .text($0.hex) } ?? .null, .text(technology.rawValue), .null,
                    .text(chip.status.rawValue), chip.validFrom.map { .text($0.iso) } ?? .null,
                    chip.validUntil.map { .text($0.iso) } ?? .null, replacedBy.map { .int($0.id) } ?? .null, .text(personID),
                ])
                if chip.isCurrent { current = (id, chip.uid) }
                let view = CardView(
                    number: number.value, uid: chip.uid?.hex, technology: technology, series: nil, status: chip.status,
                    validFrom: chip.validFrom, validUntil: chip.validUntil, replacedByUID: replacedBy?.uid?.hex,
                    holderDisplayName: name, personID: personID, entitlements: shown
                )
                do { try view.checkPublishable() } catch {
                    throw CentralStoreError.invalid("card …\(number.value.suffix(4)) would break the registry rules kiosks check: \(error); fix it and try again")
                }
                seq += 1
                feed.append([.int(seq), .text(ChangeOp.upsert.rawValue), .null, .text(try RelationalCentralStore.feedJSON(view)), .int(now)])
            }
        }
        try await db.insert(into: "person", columns: ["id", "display_name"], rows: persons)
        try await db.insert(
            into: "card",
            columns: ["id", "number", "uid", "technology", "series", "status", "valid_from", "valid_until", "replaced_by", "person_id"],
            rows: cardRows
        )
        try await db.insert(into: "entitlement", columns: ["person_id", "kind", "role", "valid_from", "valid_until"], rows: entitlementRows)
        try await db.insert(into: "registry_change", columns: ["seq", "op", "kiosk_id", "payload", "at_ms"], rows: feed)
        let written = feed.count
        cards.removeAll(keepingCapacity: true)
        chipCount = 0
        return written
    }

    /// `count` new card ids, ascending: the ones an insert would have given, or PostgreSQL's sequence's next.
    static func reserveCardIDs(_ db: any SQLConnection, dialect: SQLDialect, count: Int) async throws -> [Int64] {
        switch dialect {
        case .sqlite:
            // Inside the write transaction nothing else inserts; an `INTEGER PRIMARY KEY` insert takes max + 1.
            let top = try await db.one("SELECT coalesce(max(id), 0) AS top FROM card")?.optionalInt("top") ?? 0
            return (1...Int64(count)).map { top + $0 }
        case .postgres:
            let rows = try await db.query(
                "SELECT nextval(pg_get_serial_sequence('card', 'id')) AS id FROM generate_series(1, ?)", [.int(Int64(count))]
            )
            return try rows.map { try $0.int("id") }.sorted()
        }
    }
}
