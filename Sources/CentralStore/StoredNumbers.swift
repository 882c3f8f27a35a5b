import CardModel
import CentralWire
import RegistryCSV

/// The stored chips, holders and entitlements of card numbers an import has, read ahead in pieces, so that a
/// number the file has exactly as it is stored costs no statement of its own.
struct StoredNumbers {
    /// Numbers read in one piece.
    static let readAhead = 256

    /// One stored chip, as the import compares it.
    struct Chip {
        var id: Int64
        var uid: String?
        var technology: String
        var status: String
        var validFrom: String?
        var validUntil: String?
        var replacedBy: Int64?
        var holder: String
    }

    /// Chips by card number, by id; a number read and found without chips has an empty list.
    private var chips: [String: [Chip]] = [:]
    /// Display names by holder id.
    private var names: [String: String] = [:]
    /// Entitlements (kind, role, first day, last day) by holder id, in the order they were written.
    private var entitlements: [String: [[String?]]] = [:]
    /// The numbers read whose chips belong to a holder.
    private var numbersOf: [String: Set<String>] = [:]

    /// Whether `number` was read (and not forgotten since).
    func has(_ number: String) -> Bool { chips[number] != nil }

    /// Whether a chip of `number`, as read, has `uid`.
    func holds(_ number: String, uid: String) -> Bool { chips[number]?.contains { $0.uid == uid } ?? false }

    /// Reads the numbers of `numbers` not read yet, with their holders' names and entitlements: three statements.
    mutating func read(_ db: any SQLConnection, numbers: [String]) async throws {
        let wanted = numbers.filter { chips[$0] == nil }
        guard !wanted.isEmpty else { return }
        for number in wanted { chips[number] = [] }
        var holders: Set<String> = []
        for row in try await db.query("""
            SELECT id, number, uid, technology, status, valid_from, valid_until, replaced_by, person_id FROM card
            WHERE number IN (\(Self.marks(wanted.count))) ORDER BY id
            """, wanted.map { .text($0) }) {
            let number = try row.text("number")
            let chip = Chip(
                id: try row.int("id"), uid: row.optionalText("uid"), technology: try row.text("technology"),
                status: try row.text("status"), validFrom: row.optionalText("valid_from"), validUntil: row.optionalText("valid_until"),
                replacedBy: row.optionalInt("replaced_by"), holder: try row.text("person_id")
            )
            chips[number, default: []].append(chip)
            numbersOf[chip.holder, default: []].insert(number)
            holders.insert(chip.holder)
        }
        let fresh = holders.filter { names[$0] == nil }.sorted()
        guard !fresh.isEmpty else { return }
        for row in try await db.query("SELECT id, display_name FROM person WHERE id IN (\(Self.marks(fresh.count)))", fresh.map { .text($0) }) {
            names[try row.text("id")] = try row.text("display_name")
        }
        for holder in fresh { entitlements[holder] = [] }
        for row in try await db.query("""
            SELECT person_id, kind, role, valid_from, valid_until FROM entitlement
            WHERE person_id IN (\(Self.marks(fresh.count))) ORDER BY id
            """, fresh.map { .text($0) }) {
            entitlements[try row.text("person_id"), default: []].append([
                row.optionalText("kind"), row.optionalText("role"), row.optionalText("valid_from"), row.optionalText("valid_until"),
            ])
        }
    }

    private static func marks(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ",") }

    /// Forgets the holders of `number`'s chips and every number they hold: writing `number` may rename them
    /// or change their entitlements.
    mutating func forget(holdersOf number: String) {
        for holder in Set((chips[number] ?? []).map { $0.holder }) {
            for other in numbersOf[holder] ?? [] { chips[other] = nil }
            numbersOf[holder] = nil
            names[holder] = nil
            entitlements[holder] = nil
        }
    }

    /// Whether writing `planned` the way ``RelationalCentralStore/writeImported(_:number:chips:)`` does would store
    /// exactly what is stored: the same chips matched by UID, none to add or remove, every field, link and holder
    /// as it is, the holder's name and entitlements as they are. It would then write no feed entry either.
    func isUnchanged(_ number: String, _ planned: [RegistryChip]) -> Bool {
        guard let first = planned.first, let stored = chips[number], let holder = stored.first?.holder,
              names[holder] == first.rows[0].displayName, let held = entitlements[holder]
        else { return false }
        let ordered = RegistryChip.currentFirst(planned)
        var matched: Set<Int64> = []
        var currentID: Int64?
        for chip in ordered {
            let uid = chip.uid?.hex
            guard let match = stored.first(where: { $0.uid == uid && !matched.contains($0.id) }),
                  chip.uid != nil || match.technology == CardTechnology.printed.rawValue,
                  match.status == chip.status.rawValue,
                  match.validFrom == chip.validFrom?.iso, match.validUntil == chip.validUntil?.iso,
                  match.replacedBy == (chip.isCurrent ? nil : currentID),
                  match.holder == holder
            else { return false }
            matched.insert(match.id)
            if chip.isCurrent { currentID = match.id }
        }
        guard matched.count == stored.count else { return false }
        let wanted = RegistryChip.entitlements(of: ordered).map { [$0.kind.rawValue, $0.role?.rawValue, $0.validFrom.iso, $0.validUntil?.iso] }
        return held == wanted
    }
}
