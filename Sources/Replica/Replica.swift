public import CardModel
public import Foundation
import GRDB
import StateFiles

/// The kiosk's local copy of the card registry: an SQLite file in WAL mode.
///
/// Every check is answered from here, so that a kiosk with no network gives the same answer
/// as one online. The replica keeps only what the check needs: card numbers, chip UIDs,
/// statuses, dates, entitlements and a display name (first name and initial).
///
/// Opening never replaces a damaged file: a file that is not a replica stops the caller
/// with a ``ReplicaError`` instead of being silently recreated empty.
public final class Replica: Sendable {
    /// The database file.
    public let path: String
    /// The connections: read-only while an integrity check runs in the background, then the writable pool.
    private let connections: ReplicaConnections
    var pool: DatabasePool { connections.pool }
    /// Whether writes may go on (see ``IntegrityCheck``).
    let integrity: IntegrityGate

    /// Opens the replica at `path`, creating it if (and only if) no file is there, and migrates it.
    ///
    /// - Parameter integrity: when an existing file's `PRAGMA quick_check` runs; before opening unless told.
    public init(path: String, integrity check: IntegrityCheck = .beforeOpening) throws(ReplicaError) {
        self.path = path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        let exists = fm.fileExists(atPath: path, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            throw ReplicaError(code: .io, path: path, detail: "it is a directory")
        }
        var checkLater = false
        if exists {
            try Replica.checkHeader(path)
            // Check read-only first: opening a pool for writing writes (GRDB's WAL set-up), and nothing may
            // be written to a file that turns out to be damaged or someone else's. A current replica (nothing
            // to migrate) may instead be read through read-only connections while the check runs.
            if check == .inBackground, try Replica.isCurrentReplica(path: path) {
                checkLater = true
            } else {
                try Replica.verify(path: path)
            }
        }
        // Created (or kept) 0600: SQLite gives the WAL and shared-memory files the same mode.
        do { try StateFiles.prepareFile(path) } catch { throw ReplicaError(code: .io, path: path, detail: error.problem) }
        guard checkLater else {
            connections = ReplicaConnections(try Replica.openWritable(path: path))
            integrity = IntegrityGate()
            return
        }
        var readOnly = Replica.configuration()
        readOnly.readonly = true
        do {
            connections = ReplicaConnections(try DatabasePool(path: path, configuration: readOnly))
        } catch {
            throw Replica.translate(error, path: path)
        }
        let gate = IntegrityGate(pending: ())
        integrity = gate
        let connections = self.connections
        // Off Swift's cooperative pool: the check reads the whole file.
        DispatchQueue.global(qos: .utility).async {
            do {
                try Replica.verify(path: path)
                let writable = try Replica.openWritable(path: path)
                connections.replace(with: writable)
                gate.finish(nil)
            } catch {
                gate.finish(Replica.translate(error, path: path))
            }
        }
    }

    /// The connections' settings.
    private static func configuration() -> Configuration {
        var config = Configuration()
        config.label = "replica"
        config.busyMode = .timeout(5)
        config.maximumReaderCount = 4
        config.prepareDatabase { db in
            // A small page cache per connection keeps the daemon's memory flat on a 5 M-card file.
            try db.execute(sql: "PRAGMA cache_size = -2048")
            // Rows that an `INSERT OR REPLACE` deletes fire the delete trigger too, so the kept card count
            // (`card_count`, see ReplicaSchema) stays exact whatever statement writes the cards.
            try db.execute(sql: "PRAGMA recursive_triggers = ON")
        }
        return config
    }

    /// Opens the writable pool and migrates the file (a file written by a newer kioskd is refused).
    private static func openWritable(path: String) throws(ReplicaError) -> DatabasePool {
        do {
            // GRDB puts the writer in WAL mode with `synchronous = NORMAL`: a commit does not wait for the disk.
            // The replica is a copy of the central's registry: a power cut may take back the last commits (a feed
            // page with its cursor, fetched again), never leave a torn file. Requests live in the outbox.
            let pool = try DatabasePool(path: path, configuration: configuration())
            let migrator = ReplicaSchema.migrator
            let applied = try pool.read { db in try migrator.appliedIdentifiers(db) }
            let known = Set(migrator.migrations)
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw ReplicaError(code: .tooNew, path: path, detail: "unknown migration \"\(unknown)\"")
            }
            try migrator.migrate(pool)
            return pool
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// Waits for the integrity check of ``IntegrityCheck/inBackground`` (returns at once otherwise).
    ///
    /// - Throws: ``ReplicaError`` `.corrupt` (or the SQLite error) when the file is damaged; every write then fails too.
    public func integrityVerified() async throws(ReplicaError) {
        if let failure = await integrity.outcome() { throw failure }
    }

    /// Whether `path` is a kiosk replica with every migration this kioskd knows applied and no other
    /// (read-only, without the integrity check): opening such a file writes nothing.
    private static func isCurrentReplica(path: String) throws(ReplicaError) -> Bool {
        try readOnly(path: path, label: "replica-peek") { db in
            guard try Int32.fetchOne(db, sql: "PRAGMA application_id") == ReplicaSchema.applicationID,
                  try db.tableExists("grdb_migrations")
            else { return false }
            let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
            return applied == Set(ReplicaSchema.migrator.migrations)
        }
    }

    /// Runs `body` on a read-only connection of its own to `path`, closed afterwards: nothing is written to the file.
    private static func readOnly<T>(path: String, label: String, _ body: (Database) throws -> T) throws(ReplicaError) -> T {
        var config = Configuration()
        config.readonly = true
        config.label = label
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read(body)
        } catch {
            throw translate(error, path: path)
        }
    }

    /// Refuses files that do not start like an SQLite database, before SQLite touches them.
    private static func checkHeader(_ path: String) throws(ReplicaError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReplicaError(code: .io, path: path, detail: "cannot read the file")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        // An empty file holds nothing that could be lost: SQLite makes a database of it.
        if head.isEmpty { return }
        let magic = Array("SQLite format 3\u{0}".utf8)
        guard head.count == 16, Array(head) == magic else {
            throw ReplicaError(code: .notADatabase, path: path, detail: "the file does not start with the SQLite header")
        }
    }

    /// What a read-only look at a replica file found.
    public struct Inspection: Sendable, Equatable {
        /// Cards in the replica.
        public var cards: Int
        /// The last sync with the central, if any.
        public var lastSyncAt: Date?
        /// The last `kioskctl replica import`, if any.
        public var lastImportAt: Date?
    }

    /// Checks a replica file without writing to it (`PRAGMA quick_check`, read-only): safe while
    /// kioskd has it open, for `kioskctl doctor`.
    /// - Throws: ``ReplicaError`` `.corrupt`, `.notADatabase`, `.foreign`, `.io`… as opening it would.
    public static func inspect(path: String) throws(ReplicaError) -> Inspection {
        try checkHeader(path)
        return try verify(path: path)
    }

    /// Checks, without writing, that an existing file is an intact kiosk replica.
    @discardableResult
    private static func verify(path: String) throws(ReplicaError) -> Inspection {
        try readOnly(path: path, label: "replica-check") { db in
            let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            // An empty database: nothing to lose.
            if tables.isEmpty && appID == 0 { return Inspection(cards: 0) }
            if appID != ReplicaSchema.applicationID {
                throw ReplicaError(code: .foreign, path: path, detail: "application_id \(appID), tables \(tables.prefix(5).joined(separator: ", "))")
            }
            let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
            if check != ["ok"] {
                throw ReplicaError(code: .corrupt, path: path, detail: check.prefix(3).joined(separator: "; "))
            }
            guard tables.contains("sync_state"), tables.contains("card") else { return Inspection(cards: 0) }
            let state = try Row.fetchOne(db, sql: "SELECT last_sync_at, last_import_at FROM sync_state WHERE id = 1")
            // The kept count when the file has it (one row), a count of the rows only on a file not yet migrated to it.
            let countSQL = tables.contains("card_count") ? "SELECT n FROM card_count WHERE id = 1" : "SELECT count(*) FROM card"
            return Inspection(
                cards: try Int.fetchOne(db, sql: countSQL) ?? 0,
                lastSyncAt: date(state?["last_sync_at"]), lastImportAt: date(state?["last_import_at"])
            )
        }
    }

    static func translate(_ error: any Error, path: String) -> ReplicaError {
        if let error = error as? ReplicaError { return error }
        guard let db = error as? DatabaseError else {
            return ReplicaError(code: .database, path: path, detail: "\(error)")
        }
        switch db.resultCode {
        case .SQLITE_NOTADB: return ReplicaError(code: .notADatabase, path: path, detail: db.message ?? "not a database")
        case .SQLITE_CORRUPT: return ReplicaError(code: .corrupt, path: path, detail: db.message ?? "corrupt")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_FULL:
            return ReplicaError(code: .io, path: path, detail: db.message ?? "\(db.resultCode)")
        default: return ReplicaError(code: .database, path: path, detail: db.message ?? "\(db.resultCode)")
        }
    }

    // MARK: Lookup

    /// The card whose chip has this UID, current or not (a replaced chip is found, and refused).
    public func card(uid: ChipUID) throws(ReplicaError) -> CardRecord? {
        try lookup("SELECT \(Self.cardColumns) FROM card c JOIN person p ON p.id = c.person_id WHERE c.uid = ?", Data(uid.bytes))
    }

    /// The current card with this number: the replacement if the card was replaced.
    public func card(number: CardNumber) throws(ReplicaError) -> CardRecord? {
        try lookup("""
            SELECT \(Self.cardColumns) FROM card c JOIN person p ON p.id = c.person_id
            WHERE c.number = ? ORDER BY (c.replaced_by IS NULL) DESC, (c.status = 'active') DESC, c.id DESC LIMIT 1
            """, number.value)
    }

    static let cardColumns = """
        c.number, c.uid, c.technology, c.series, c.status, c.valid_from, c.valid_until, c.replaced_by, \
        (SELECT r.uid FROM card r WHERE r.id = c.replaced_by) AS replaced_by_uid, c.person_id, p.display_name
        """

    private func lookup(_ sql: String, _ key: some DatabaseValueConvertible & Sendable) throws(ReplicaError) -> CardRecord? {
        do {
            return try pool.read { db -> CardRecord? in
                guard let row = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [key]) else { return nil }
                let personID: Int64 = row["person_id"]
                let entitlements = try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT kind, role, valid_from, valid_until FROM entitlement WHERE person_id = ?"),
                    arguments: [personID]
                ).map(Self.entitlement)
                return try Self.card(row, entitlements: entitlements)
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    static func entitlement(_ row: Row) throws -> Entitlement {
        let kindText: String = row["kind"]
        guard let kind = EntitlementKind(rawValue: kindText) else {
            throw ReplicaError(code: .corrupt, path: "", detail: "unknown entitlement kind \(kindText)")
        }
        let roleText: String? = row["role"]
        return Entitlement(
            kind: kind,
            role: roleText.flatMap(FamilyRole.init(rawValue:)),
            validFrom: try CivilDate(iso: row["valid_from"]),
            validUntil: try (row["valid_until"] as String?).map { text throws in try CivilDate(iso: text) }
        )
    }

    static func card(_ row: Row, entitlements: [Entitlement]) throws -> CardRecord {
        let uidData: Data? = row["uid"]
        let replacedUID: Data? = row["replaced_by_uid"]
        let replacedID: Int64? = row["replaced_by"]
        guard let technology = CardTechnology(rawValue: row["technology"]),
              let status = CardStatus(rawValue: row["status"])
        else { throw ReplicaError(code: .corrupt, path: "", detail: "card row with an unknown technology or status") }
        return CardRecord(
            number: try CardNumber(normalising: row["number"]),
            uid: try uidData.map { data throws in try ChipUID(bytes: Array(data)) },
            technology: technology,
            series: row["series"],
            status: status,
            validFrom: try (row["valid_from"] as String?).map { text throws in try CivilDate(iso: text) },
            validUntil: try (row["valid_until"] as String?).map { text throws in try CivilDate(iso: text) },
            replacedBy: try replacedUID.map { data throws in try ChipUID(bytes: Array(data)) },
            isReplaced: replacedID != nil,
            holderDisplayName: row["display_name"],
            entitlements: entitlements
        )
    }

    // MARK: Statistics and sync metadata

    /// Counts and sync metadata, for `/api/v1/status` and `kioskctl replica stats`.
    public struct Stats: Sendable, Codable, Equatable {
        public var cards: Int
        public var people: Int
        public var entitlements: Int
        public var cardsByStatus: [String: Int]
        public var entitlementsByKind: [String: Int]
        /// The change-feed cursor of the last applied sync, if any.
        public var cursor: Int64?
        public var lastSyncAt: Date?
        public var lastImportAt: Date?
    }

    /// Counts and sync metadata.
    ///
    /// Not `detailed` (the status page, on every call): two rows by primary key, whatever the size of the replica;
    /// the number of cards is the count the replica keeps in `card_count`, updated in the same transaction as every
    /// card written or removed. `detailed` (`kioskctl replica stats`): counts every row by status and kind.
    public func stats(detailed: Bool = true) throws(ReplicaError) -> Stats {
        do {
            return try pool.read { db in
                let state = try Row.fetchOne(db.cachedStatement(sql: "SELECT cursor, last_sync_at, last_import_at FROM sync_state WHERE id = 1"))
                var byStatus: [String: Int] = [:]
                var byKind: [String: Int] = [:]
                var cards = 0
                var entitlements = 0
                if detailed {
                    for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM card GROUP BY status") {
                        byStatus[row["status"]] = row["n"]
                    }
                    for row in try Row.fetchAll(db, sql: "SELECT kind, count(*) AS n FROM entitlement GROUP BY kind") {
                        byKind[row["kind"]] = row["n"]
                    }
                    cards = byStatus.values.reduce(0, +)
                    entitlements = byKind.values.reduce(0, +)
                } else {
                    cards = try Int.fetchOne(db.cachedStatement(sql: "SELECT n FROM card_count WHERE id = 1")) ?? 0
                }
                let people = detailed ? (try Int.fetchOne(db, sql: "SELECT count(*) FROM person") ?? 0) : 0
                return Stats(
                    cards: cards, people: people, entitlements: entitlements, cardsByStatus: byStatus,
                    entitlementsByKind: byKind, cursor: state?["cursor"],
                    lastSyncAt: Self.date(state?["last_sync_at"]), lastImportAt: Self.date(state?["last_import_at"])
                )
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// When the replica's data was last refreshed (a sync or an import); `nil` if never.
    ///
    /// One row by primary key: cheap enough to ask on every check.
    public func lastRefreshed() throws(ReplicaError) -> Date? {
        do {
            return try pool.read { db in
                let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT last_sync_at, last_import_at FROM sync_state WHERE id = 1"))
                return [Self.date(row?["last_sync_at"]), Self.date(row?["last_import_at"])].compactMap { $0 }.max()
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    static func date(_ text: String?) -> Date? {
        guard let text else { return nil }
        return try? Date(text, strategy: .iso8601)
    }

    static func stamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
