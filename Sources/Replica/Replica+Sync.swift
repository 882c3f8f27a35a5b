public import CardModel
public import Foundation
import GRDB

/// One chip (or printed card) as the central's feed and snapshot carry it, already checked.
public struct SyncedCard: Sendable, Equatable {
    public var number: CardNumber
    /// `nil` for a printed card.
    public var uid: ChipUID?
    public var technology: CardTechnology
    public var series: String?
    public var status: CardStatus
    public var validFrom: CivilDate?
    public var validUntil: CivilDate?
    /// The chip that replaced this one, if any.
    public var replacedByUID: ChipUID?
    /// "Anna K."
    public var holderDisplayName: String
    /// The central's pseudonymous person id (stored as `person.ref`).
    public var personRef: String
    /// The holder's entitlements, current or not.
    public var entitlements: [Entitlement]

    public init(
        number: CardNumber, uid: ChipUID?, technology: CardTechnology, series: String?, status: CardStatus,
        validFrom: CivilDate?, validUntil: CivilDate?, replacedByUID: ChipUID?, holderDisplayName: String,
        personRef: String, entitlements: [Entitlement]
    ) {
        self.number = number
        self.uid = uid
        self.technology = technology
        self.series = series
        self.status = status
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.replacedByUID = replacedByUID
        self.holderDisplayName = holderDisplayName
        self.personRef = personRef
        self.entitlements = entitlements
    }

    var isCurrent: Bool { status == .active || status == .suspended }
}

/// A registry change the replica applies.
public enum SyncedChange: Sendable, Equatable {
    /// Create or replace this chip.
    case upsert(SyncedCard)
    /// This chip no longer exists.
    case remove(SyncedCard)
}

extension Replica {
    /// Applies one page of the central's change feed and its cursor in one transaction.
    ///
    /// Either the whole page and the new cursor are stored, or nothing is: a kiosk killed part-way
    /// keeps its old cursor and gets the same page again. Applying a page twice gives the same replica.
    /// An old chip's `replaced_by` link is resolved at the end of the page; if the new chip only comes
    /// in a later page the link stays empty (the old chip is refused as `revoked`/`lost` either way).
    ///
    /// Async: the page is written on GRDB's writer queue while the calling task is suspended, never on a
    /// thread of Swift's cooperative pool.
    ///
    /// The copy of the WAL into the file is left out of a feed page's commit: it waits for ``foldWAL()`` after
    /// the sync (or for a WAL of ``feedCheckpointPages`` pages). Half a page's time went into that copy and its
    /// fsync. (The replica's commits never wait for the disk, see ``openWritable(path:)``: a power cut can only
    /// take back whole pages together with their cursor, which the next sync fetches again.)
    public func applyChanges(_ changes: [SyncedChange], cursor: Int64, at now: Date = Date()) async throws(ReplicaError) {
        try await integrityVerified()
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(Self.feedCheckpointPages)")
                defer { try? db.execute(sql: "PRAGMA wal_autocheckpoint = 1000") }
                try db.inTransaction(.immediate) {
                    try Self.apply(changes, cursor: cursor, at: now, db: db)
                    return .commit
                }
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// The WAL a run of feed pages may grow to before a commit copies it into the file (4 KiB pages: 128 MiB).
    ///
    /// A 10,000-change delta writes about two scattered pages a change, some 80 MiB of WAL: at 64 MiB its own pages
    /// paid for a copy and two fsyncs in the middle (0.2 s of 0.55 s at 5 M cards); now ``foldWAL()`` does it once,
    /// after the cursor is stored, while taps keep reading.
    public static let feedCheckpointPages = 32_768

    /// Copies the WAL into the database file without blocking readers; the sync calls it after the feed's pages.
    ///
    /// Best effort: a reader still on an old snapshot leaves the rest to the next checkpoint.
    public func foldWAL() async {
        guard (try? await integrityVerified()) != nil else { return }
        _ = try? await pool.writeWithoutTransaction { db in try db.checkpoint(.passive) }
    }

    /// One feed page inside the caller's transaction.
    static func apply(_ changes: [SyncedChange], cursor: Int64, at now: Date, db: Database) throws {
        var touchedPersons: Set<Int64> = []
        var links: [(card: Int64, target: ChipUID)] = []
        for change in changes {
            switch change {
            case .upsert(let card):
                if let link = try Self.upsert(card, db: db, touched: &touchedPersons) { links.append(link) }
            case .remove(let card):
                try Self.remove(card, db: db, touched: &touchedPersons)
            }
        }
        try Self.resolve(links, db: db)
        try Self.dropOrphans(touchedPersons, db: db)
        try Self.dropOrphanPreferences(db: db)
        try db.execute(sql: "UPDATE sync_state SET cursor = ?, last_sync_at = ? WHERE id = 1", arguments: [cursor, Replica.stamp(now)])
    }

    /// Replaces the whole registry with a snapshot taken at `cursor`, in one transaction.
    ///
    /// Readers (the check path) see the old replica until the commit, then the new one: never a half replica.
    public func replaceAll(with cards: [SyncedCard], cursor: Int64, at now: Date = Date()) throws(ReplicaError) {
        do {
            try integrity.allowWrites(path: path)
            try pool.write { db in
                try Self.dropCardCountTriggers(db)
                try db.execute(sql: "DELETE FROM card; DELETE FROM entitlement; DELETE FROM person;")
                var touched: Set<Int64> = []
                var links: [(card: Int64, target: ChipUID)] = []
                for card in cards {
                    if let link = try Self.upsert(card, db: db, touched: &touched) { links.append(link) }
                }
                try Self.resolve(links, db: db)
                try Self.dropOrphanPreferences(db: db)
                try Self.restoreCardCount(db)
                try db.execute(sql: "UPDATE sync_state SET cursor = ?, last_sync_at = ? WHERE id = 1", arguments: [cursor, Replica.stamp(now)])
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// A whole-registry load runs without the count's per-row triggers (inside its transaction: a rollback
    /// brings them back); ``restoreCardCount(_:)`` counts once and puts them back before the commit.
    static func dropCardCountTriggers(_ db: Database) throws {
        try db.execute(sql: "DROP TRIGGER IF EXISTS card_count_insert; DROP TRIGGER IF EXISTS card_count_delete")
    }

    static func restoreCardCount(_ db: Database) throws {
        try db.execute(sql: "UPDATE card_count SET n = (SELECT count(*) FROM card) WHERE id = 1")
        try db.execute(sql: ReplicaSchema.cardCountTriggers)
    }

    /// Just the cursor and time of the last sync, for the sync loop.
    public func syncCursor() throws(ReplicaError) -> Int64? {
        do { return try pool.read { db in try Int64.fetchOne(db, sql: "SELECT cursor FROM sync_state WHERE id = 1") } } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// A consistency check for tests and `kioskctl`: every card has its person, every link points to a card of the same number,
    /// the kept card count is the number of cards.
    public func consistencyProblems() throws(ReplicaError) -> [String] {
        do {
            return try pool.read { db in
                var problems = try String.fetchAll(db, sql: "PRAGMA foreign_key_check").map { "foreign key: \($0)" }
                let orphans = try Int.fetchOne(db, sql: "SELECT count(*) FROM card c LEFT JOIN person p ON p.id = c.person_id WHERE p.id IS NULL") ?? 0
                if orphans > 0 { problems.append("\(orphans) cards without a person") }
                let badLinks = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM card c JOIN card r ON r.id = c.replaced_by WHERE r.number <> c.number
                    """) ?? 0
                if badLinks > 0 { problems.append("\(badLinks) replaced_by links across card numbers") }
                let twoCurrent = try Int.fetchOne(db, sql: """
                    SELECT count(*) FROM (SELECT number FROM card WHERE status IN ('active','suspended') AND replaced_by IS NULL
                    GROUP BY number HAVING count(*) > 1)
                    """) ?? 0
                if twoCurrent > 0 { problems.append("\(twoCurrent) numbers with two current chips") }
                let kept = try Int.fetchOne(db, sql: "SELECT n FROM card_count WHERE id = 1")
                let counted = try Int.fetchOne(db, sql: "SELECT count(*) FROM card") ?? 0
                if kept != counted { problems.append("card count kept as \(kept.map { "\($0)" } ?? "nothing") but \(counted) cards stored") }
                let integrity = try String.fetchAll(db, sql: "PRAGMA quick_check")
                if integrity != ["ok"] { problems.append("quick_check: \(integrity.prefix(3).joined(separator: "; "))") }
                return problems
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    // MARK: Applying one chip

    /// The stored chip this synced chip is, as a row: same UID; for printed cards, the printed chip of the same
    /// number and currency.
    static func existingRow(of card: SyncedCard, db: Database) throws -> Row? {
        let columns = "id, person_id, number, uid, technology, series, status, valid_from, valid_until, replaced_by"
        if let uid = card.uid {
            return try Row.fetchOne(db.cachedStatement(sql: "SELECT \(columns) FROM card WHERE uid = ?"), arguments: [Data(uid.bytes)])
        }
        let current = card.isCurrent && card.replacedByUID == nil
        return try Row.fetchOne(db.cachedStatement(sql: """
            SELECT \(columns) FROM card WHERE number = ? AND uid IS NULL
            AND ((status IN ('active','suspended')) = ?) ORDER BY id LIMIT 1
            """), arguments: [card.number.value, current])
    }

    /// Stores `card` with its holder and the holder's entitlements; returns a `replaced_by` link to resolve.
    static func upsert(_ card: SyncedCard, db: Database, touched: inout Set<Int64>) throws -> (card: Int64, target: ChipUID)? {
        // The holder, by the central's pseudonymous id.
        // Rows are written only where they change: a feed page mostly touches rows scattered over the whole
        // file, and every row rewritten is a page in the WAL and in the fsync.
        let personID: Int64
        if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, display_name FROM person WHERE ref = ?"), arguments: [card.personRef]) {
            personID = row["id"]
            if row["display_name"] as String? != card.holderDisplayName {
                try db.cachedStatement(sql: "UPDATE person SET display_name = ? WHERE id = ?").execute(arguments: [card.holderDisplayName, personID])
            }
        } else {
            try db.cachedStatement(sql: "INSERT INTO person (ref, display_name) VALUES (?, ?)").execute(arguments: [card.personRef, card.holderDisplayName])
            personID = db.lastInsertedRowID
        }
        let stored = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT kind, role, valid_from, valid_until FROM entitlement WHERE person_id = ? ORDER BY id"),
            arguments: [personID]
        ).map { [$0["kind"] as String?, $0["role"] as String?, $0["valid_from"] as String?, $0["valid_until"] as String?] }
        let wanted = card.entitlements.map { [$0.kind.rawValue, $0.role?.rawValue, $0.validFrom.iso, $0.validUntil?.iso] }
        if stored != wanted {
            try db.cachedStatement(sql: "DELETE FROM entitlement WHERE person_id = ?").execute(arguments: [personID])
            for e in card.entitlements {
                try db.cachedStatement(sql: "INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)")
                    .execute(arguments: [personID, e.kind.rawValue, e.role?.rawValue, e.validFrom.iso, e.validUntil?.iso])
            }
        }

        return try upsertCard(card, personID: personID, db: db, touched: &touched)
    }

    /// Stores `card` (update in place if the chip is already stored) for the holder `personID`.
    static func upsertCard(_ card: SyncedCard, personID: Int64, db: Database, touched: inout Set<Int64>) throws -> (card: Int64, target: ChipUID)? {
        let uidData = card.uid.map { Data($0.bytes) }
        let cardID: Int64
        if let old = try existingRow(of: card, db: db) {
            let id: Int64 = old["id"]
            let oldPerson: Int64 = old["person_id"]
            if oldPerson != personID { touched.insert(oldPerson) }
            let oldText: [String?] = ["technology", "series", "status", "valid_from", "valid_until"].map { old[$0] as String? }
            let oldStatus = CardStatus(rawValue: old["status"] ?? "")
            let oldLink: Int64? = old["replaced_by"]
            if old["number"] as String? == card.number.value, old["uid"] as Data? == uidData {
                // Same number and chip: the indexes on them stay untouched, and an unchanged row is not written at all.
                let newText: [String?] = [card.technology.rawValue, card.series, card.status.rawValue, card.validFrom?.iso, card.validUntil?.iso]
                // A link the card no longer has is cleared; one it still has is set again by `resolve`.
                let same = oldText == newText && oldPerson == personID && (oldLink == nil || card.replacedByUID != nil)
                if !same {
                    // Only the columns that change are set: SQLite rewrites an index entry for every indexed column a
                    // statement sets, even to the value it had, and that is one more scattered page per chip.
                    var assignments = "technology = ?, series = ?, status = ?, valid_from = ?, valid_until = ?"
                    var arguments: StatementArguments = [
                        card.technology.rawValue, card.series, card.status.rawValue, card.validFrom?.iso, card.validUntil?.iso,
                    ]
                    // A link the card still has is set again by `resolve`.
                    if oldLink != nil, card.replacedByUID == nil { assignments += ", replaced_by = NULL" }
                    if oldPerson != personID {
                        assignments += ", person_id = ?"
                        arguments += [personID]
                    }
                    arguments += [id]
                    try db.cachedStatement(sql: "UPDATE card SET \(assignments) WHERE id = ?").execute(arguments: arguments)
                }
                // It was already its number's one current chip: no other current chip of that number can be stored.
                if oldStatus == .active || oldStatus == .suspended, oldLink == nil {
                    return card.replacedByUID.map { (id, $0) }
                }
            } else {
                try db.cachedStatement(sql: """
                    UPDATE card SET number = ?, uid = ?, technology = ?, series = ?, status = ?, valid_from = ?, valid_until = ?,
                           replaced_by = NULL, person_id = ? WHERE id = ?
                    """).execute(arguments: [
                        card.number.value, uidData, card.technology.rawValue, card.series, card.status.rawValue,
                        card.validFrom?.iso, card.validUntil?.iso, personID, id,
                    ])
            }
            cardID = id
        } else {
            try db.cachedStatement(sql: """
                INSERT INTO card (number, uid, technology, series, status, valid_from, valid_until, replaced_by, person_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
                """).execute(arguments: [
                    card.number.value, uidData, card.technology.rawValue, card.series, card.status.rawValue,
                    card.validFrom?.iso, card.validUntil?.iso, personID,
                ])
            cardID = db.lastInsertedRowID
        }
        return try dropStale(card, cardID: cardID, db: db, touched: &touched)
    }

    /// Removes any other current chip of a current card's number; returns the `replaced_by` link to resolve.
    static func dropStale(_ card: SyncedCard, cardID: Int64, db: Database, touched: inout Set<Int64>) throws -> (card: Int64, target: ChipUID)? {
        if card.isCurrent && card.replacedByUID == nil {
            // The central keeps one current chip per number: any other current chip we hold for it is stale
            // (its UID changed in place). Old chips that point here are kept.
            let stale = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT id, person_id FROM card WHERE number = ? AND id <> ? AND status IN ('active','suspended') AND replaced_by IS NULL
                """), arguments: [card.number.value, cardID])
            for row in stale {
                touched.insert(row["person_id"])
                try db.cachedStatement(sql: "DELETE FROM card WHERE id = ?").execute(arguments: [row["id"] as Int64])
            }
        }
        return card.replacedByUID.map { (cardID, $0) }
    }

    static func remove(_ card: SyncedCard, db: Database, touched: inout Set<Int64>) throws {
        guard let old = try existingRow(of: card, db: db) else { return }
        touched.insert(old["person_id"])
        try db.cachedStatement(sql: "DELETE FROM card WHERE id = ?").execute(arguments: [old["id"] as Int64])
    }

    /// Points old chips at their replacements, once both are stored.
    static func resolve(_ links: [(card: Int64, target: ChipUID)], db: Database) throws {
        for link in links {
            try db.cachedStatement(sql: """
                UPDATE card SET replaced_by = (SELECT r.id FROM card r WHERE r.uid = ?1 AND r.number = card.number)
                WHERE id = ?2 AND replaced_by IS NOT (SELECT r.id FROM card r WHERE r.uid = ?1 AND r.number = card.number)
                """).execute(arguments: [Data(link.target.bytes), link.card])
        }
    }

    /// People left without any card are removed (with their entitlements).
    static func dropOrphans(_ persons: Set<Int64>, db: Database) throws {
        for id in persons {
            try db.cachedStatement(sql: "DELETE FROM person WHERE id = ? AND NOT EXISTS (SELECT 1 FROM card WHERE person_id = ?)")
                .execute(arguments: [id, id])
        }
    }
}
