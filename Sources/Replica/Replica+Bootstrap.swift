import CardModel
public import Foundation
import GRDB
import StateFiles

extension Replica {
    /// What a streamed snapshot left in the replica.
    public struct SnapshotSummary: Sendable, Equatable {
        /// Cards stored (the snapshot header's count, checked).
        public var cards: Int
        /// The change-feed sequence the snapshot was taken at, now the replica's cursor.
        public var seq: Int64

        public init(cards: Int, seq: Int64) {
            self.cards = cards
            self.seq = seq
        }
    }

    /// Replaces the whole registry with a snapshot streamed through `feed`.
    ///
    /// The snapshot is not written into the replica row by row. It is loaded into a new file beside it
    /// (`<replica>.bootstrap`), built the way a bulk load should be: no journal on disk and no fsync while loading,
    /// rows appended in the order they come, the secondary indexes built once from the loaded rows (sorted)
    /// instead of updated on every insert. That file is then checked — the card count against the snapshot's
    /// header, the file's application id — and only then copied into the replica page by page (SQLite's
    /// backup API) in one write transaction. The check path reads the old registry until that commit and the new one after
    /// it: never a half replica, and the replica's open connections stay as they are.
    ///
    /// At most `feed.capacity` batches are held in memory. A ``SnapshotFeed/fail()``, a count that does
    /// not match, a check that fails or any SQLite error leaves the replica as it was; the new file is
    /// removed in every case (a kiosk killed part-way leaves it behind, and the next bootstrap removes it).
    /// Screen preferences of card numbers still in the registry, and the time of the last CSV import, are
    /// carried over.
    ///
    /// - Parameter stored: told the number of cards written so far after each batch (on the loader's thread; keep it cheap).
    /// - Throws: ``ReplicaError`` `.database` when the snapshot was incomplete or inconsistent, or the SQLite error.
    public func replaceAll(
        from feed: SnapshotFeed, at now: Date = Date(), stored progress: (@Sendable (Int) -> Void)? = nil
    ) async throws(ReplicaError) -> SnapshotSummary {
        let path = self.path
        let staging = path + ".bootstrap"
        defer {
            feed.stop()
            Self.removeStaging(staging)
        }
        do {
            try await integrityVerified()
            Self.removeStaging(staging)
            try StateFiles.prepareFile(staging)
            let loader = try DatabaseQueue(path: staging, configuration: Self.stagingConfiguration())
            try ReplicaSchema.migrator.migrate(loader)
            // GRDB runs these closures on the database's own serial queue, never on Swift's cooperative pool.
            let summary = try await loader.writeWithoutTransaction { db in
                defer { feed.stop() }
                return try SnapshotLoad.load(feed, into: db, at: now, path: path, progress: progress)
            }
            try await pool.writeWithoutTransaction { replica in
                try SnapshotLoad.carryOver(from: replica, into: loader)
                try loader.inDatabase { db in try db.backup(to: replica) }
            }
            try? loader.close()
            // The whole registry went through the replica's WAL: fold it back into the file and shrink the WAL
            // (best effort; a reader holding an old snapshot only delays it to the next checkpoint).
            try? await pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            return summary
        } catch let error as StateFileError {
            throw ReplicaError(code: .io, path: staging, detail: error.problem)
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// The new file's connection: a bulk load into a file nobody else reads, removed on any failure.
    private static func stagingConfiguration() -> Configuration {
        var config = Configuration()
        config.label = "replica bootstrap"
        // The loader writes each card with the holder it has just written or merged it into: the links hold by construction.
        config.foreignKeysEnabled = false
        config.prepareDatabase { db in
            try db.execute(sql: """
                PRAGMA journal_mode = MEMORY;
                PRAGMA synchronous = OFF;
                PRAGMA cache_size = -\(SnapshotLoad.cacheKiB);
                """)
        }
        return config
    }

    private static func removeStaging(_ staging: String) {
        for suffix in ["", "-journal", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: staging + suffix) }
    }
}

/// The bulk load behind ``Replica/replaceAll(from:at:stored:)``, on the new file's connection.
enum SnapshotLoad {
    /// Page cache of the new file's connection, in KiB (the daemon's usual is 2 MiB). Rows are appended, so the
    /// load needs little; the index builds sort in it, and kioskd stays under 64 MiB with 4 (with 8: 67 MiB).
    static let cacheKiB = 4 * 1024

    static func load(
        _ feed: SnapshotFeed, into db: Database, at now: Date, path: String, progress: (@Sendable (Int) -> Void)?
    ) throws -> Replica.SnapshotSummary {
        // The migrator made the schema; its secondary indexes and count triggers come back after the rows.
        let indexes = try Row.fetchAll(db, sql: """
            SELECT name, sql FROM sqlite_master
            WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('person', 'card', 'entitlement')
            """).map { (name: $0["name"] as String, sql: $0["sql"] as String) }
        var loaded: Replica.SnapshotSummary?
        try db.inTransaction {
            loaded = try loadRows(feed, into: db, indexes: indexes, at: now, path: path, progress: progress)
            return .commit
        }
        guard let summary = loaded else { throw ReplicaError(code: .database, path: path, detail: "the snapshot was not stored") }
        try check(db, cards: summary.cards, path: path)
        return summary
    }

    private static func loadRows(
        _ feed: SnapshotFeed, into db: Database, indexes: [(name: String, sql: String)], at now: Date, path: String,
        progress: (@Sendable (Int) -> Void)?
    ) throws -> Replica.SnapshotSummary {
        for index in indexes { try db.execute(sql: "DROP INDEX \(index.name)") }
        try Replica.dropCardCountTriggers(db)
        try db.execute(sql: "CREATE TEMP TABLE snapshot_link (card INTEGER PRIMARY KEY, target BLOB NOT NULL)")

        let insertPerson = try db.makeStatement(sql: "INSERT INTO person (ref, display_name) VALUES (?, ?)")
        let insertEntitlement = try db.makeStatement(sql: """
            INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)
            """)
        let insertCard = try db.makeStatement(sql: """
            INSERT INTO card (number, uid, technology, series, status, valid_from, valid_until, replaced_by, person_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)
            """)
        let insertLink = try db.makeStatement(sql: "INSERT INTO temp.snapshot_link (card, target) VALUES (?, ?)")
        func insertEntitlements(_ entitlements: [Entitlement], of personID: Int64) throws {
            for e in entitlements {
                try insertEntitlement.execute(arguments: [personID, e.kind.rawValue, e.role?.rawValue, e.validFrom.iso, e.validUntil?.iso])
            }
        }

        var stored = 0
        // A holder with several chips is listed once per chip. Listed one after the other, the holder is
        // written once (the last holder written is remembered); holders listed apart are merged after the load.
        var last: (ref: String, id: Int64, name: String, entitlements: [Entitlement])?
        while true {
            switch feed.next() {
            case .cards(let batch):
                for card in batch {
                    let personID: Int64
                    if let previous = last, previous.ref == card.personRef {
                        personID = previous.id
                        if previous.name != card.holderDisplayName {
                            try db.execute(sql: "UPDATE person SET display_name = ? WHERE id = ?", arguments: [card.holderDisplayName, personID])
                        }
                        if previous.entitlements != card.entitlements {
                            try db.execute(sql: "DELETE FROM entitlement WHERE person_id = ?", arguments: [personID])
                            try insertEntitlements(card.entitlements, of: personID)
                        }
                    } else {
                        try insertPerson.execute(arguments: [card.personRef, card.holderDisplayName])
                        personID = db.lastInsertedRowID
                        try insertEntitlements(card.entitlements, of: personID)
                    }
                    last = (card.personRef, personID, card.holderDisplayName, card.entitlements)
                    try insertCard.execute(arguments: [
                        card.number.value, card.uid.map { Data($0.bytes) }, card.technology.rawValue, card.series,
                        card.status.rawValue, card.validFrom?.iso, card.validUntil?.iso, personID,
                    ])
                    if let target = card.replacedByUID {
                        try insertLink.execute(arguments: [db.lastInsertedRowID, Data(target.bytes)])
                    }
                }
                stored += batch.count
                progress?(stored)
            case .failed:
                throw ReplicaError(code: .database, path: path, detail: "the snapshot stopped part-way; the replica was left as it was")
            case .end(let seq, let expected):
                guard stored == expected else {
                    throw ReplicaError(
                        code: .database, path: path,
                        detail: "the snapshot has \(stored) cards but its header says \(expected); the replica was left as it was"
                    )
                }
                try finish(indexes: indexes, db: db)
                try Replica.restoreCardCount(db)
                try db.execute(sql: "UPDATE sync_state SET cursor = ?, last_sync_at = ? WHERE id = 1", arguments: [seq, Replica.stamp(now)])
                return Replica.SnapshotSummary(cards: stored, seq: seq)
            }
        }
    }

    /// Builds the indexes and gives the loaded rows the shape the row-by-row feed path keeps: one holder
    /// per reference, one chip per UID, one printed card per number and currency, one current chip per
    /// number (the last one the snapshot lists wins, as if the snapshot were applied in order), links resolved.
    static func finish(indexes: [(name: String, sql: String)], db: Database) throws {
        let unique = indexes.filter { $0.sql.uppercased().hasPrefix("CREATE UNIQUE") }
        for index in indexes where !unique.contains(where: { $0.name == index.name }) { try db.execute(sql: index.sql) }

        // Holders listed apart (most holders have one chip, so the unique index is tried first): the last
        // listing keeps the holder, its name and entitlements; the others go.
        try createUnique("person_by_ref", unique, db, settlingDuplicatesWith: """
            CREATE TEMP TABLE person_merge AS
            SELECT p.id AS old, d.keep AS keep FROM person p
            JOIN (SELECT ref, max(id) AS keep FROM person GROUP BY ref HAVING count(*) > 1) d ON d.ref = p.ref
            WHERE p.id <> d.keep;
            UPDATE card SET person_id = (SELECT keep FROM temp.person_merge WHERE old = card.person_id)
            WHERE person_id IN (SELECT old FROM temp.person_merge);
            DELETE FROM entitlement WHERE person_id IN (SELECT old FROM temp.person_merge);
            DELETE FROM person WHERE id IN (SELECT old FROM temp.person_merge);
            DROP TABLE temp.person_merge;
            """)
        // A chip listed twice (a correct central never sends one): the last listing stays.
        try createUnique("card_by_uid", unique, db, settlingDuplicatesWith: """
            DELETE FROM card WHERE uid IS NOT NULL AND id IN (
                SELECT c.id FROM card c JOIN (SELECT uid, max(id) AS keep FROM card WHERE uid IS NOT NULL GROUP BY uid HAVING count(*) > 1) d
                ON d.uid = c.uid WHERE c.id <> d.keep)
            """)
        // A printed card listed twice with the same currency: the last listing stays.
        try db.execute(sql: """
            DELETE FROM card WHERE uid IS NULL AND EXISTS (
                SELECT 1 FROM card b WHERE b.number = card.number AND b.uid IS NULL AND b.id > card.id
                AND (b.status IN ('active','suspended') AND b.id NOT IN (SELECT card FROM temp.snapshot_link))
                    = (card.status IN ('active','suspended') AND card.id NOT IN (SELECT card FROM temp.snapshot_link)))
            """)
        // Two chips in use for one number: a current chip listed later makes every earlier chip in use of its number stale.
        try db.execute(sql: """
            DELETE FROM card WHERE status IN ('active','suspended') AND number IN (
                SELECT number FROM card WHERE status IN ('active','suspended') GROUP BY number HAVING count(*) > 1)
            AND EXISTS (SELECT 1 FROM card b WHERE b.number = card.number AND b.id > card.id
                AND b.status IN ('active','suspended') AND b.id NOT IN (SELECT card FROM temp.snapshot_link))
            """)
        for index in unique where try !indexExists(index.name, db) { try db.execute(sql: index.sql) }

        // Old chips point at their replacements (same number), now that every chip is stored.
        try db.execute(sql: """
            UPDATE card SET replaced_by = (
                SELECT r.id FROM temp.snapshot_link l JOIN card r ON r.uid = l.target AND r.number = card.number
                WHERE l.card = card.id)
            WHERE id IN (SELECT card FROM temp.snapshot_link);
            DROP TABLE temp.snapshot_link;
            """)
    }

    /// Creates the unique index `name` (one of `unique`); if rows break it, runs `settle` (which removes the
    /// duplicates) and creates it again, letting a second failure through.
    private static func createUnique(
        _ name: String, _ unique: [(name: String, sql: String)], _ db: Database, settlingDuplicatesWith settle: String
    ) throws {
        guard let index = unique.first(where: { $0.name == name }) else { return }
        do {
            try db.execute(sql: index.sql)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            try db.execute(sql: settle)
            try db.execute(sql: index.sql)
        }
    }

    private static func indexExists(_ name: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?)", arguments: [name]) ?? false
    }

    /// The new file is adopted only if it holds what the snapshot announced and nothing is broken.
    static func check(_ db: Database, cards: Int, path: String) throws {
        func refuse(_ what: String) -> ReplicaError {
            ReplicaError(code: .database, path: path, detail: "the loaded snapshot \(what); the replica was left as it was")
        }
        let kept = try Int.fetchOne(db, sql: "SELECT n FROM card_count WHERE id = 1") ?? -1
        guard kept <= cards else { throw refuse("has \(kept) cards, more than its header's \(cards)") }
        guard try Int32.fetchOne(db, sql: "PRAGMA application_id") == ReplicaSchema.applicationID else { throw refuse("is not a replica file") }
    }

    /// What the replica keeps across a bootstrap, written into the new file just before it is copied in
    /// (inside the replica's write, so nothing can change in between).
    static func carryOver(from replica: Database, into loader: DatabaseQueue) throws {
        let preferences = try Row.fetchAll(replica, sql: "SELECT number, lang, large_text, speech, saved_at FROM preference")
        let lastImport = try String.fetchOne(replica, sql: "SELECT last_import_at FROM sync_state WHERE id = 1")
        try loader.inTransaction { db in
            for row in preferences {
                try db.execute(
                    sql: """
                        INSERT INTO preference (number, lang, large_text, speech, saved_at)
                        SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM card WHERE number = ?)
                        """,
                    arguments: [row["number"], row["lang"], row["large_text"], row["speech"], row["saved_at"], row["number"]]
                )
            }
            try db.execute(sql: "UPDATE sync_state SET last_import_at = ? WHERE id = 1", arguments: [lastImport])
            return .commit
        }
    }
}
