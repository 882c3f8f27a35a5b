public import CardModel
import CentralWire
public import Foundation
import GRDB
import StateFiles

/// The kiosk's durable queue of residents' service requests: `state_dir/outbox.sqlite`.
///
/// A file of its own, never the replica (which may be re-bootstrapped at any time), mode 0600. WAL
/// mode with `PRAGMA synchronous = FULL` on the writer connection: the WAL is fsynced at every commit,
/// so ``enqueue(service:cardNumber:identity:detailsJSON:at:)`` returns only after the request is on
/// disk, and a request the resident saw accepted survives a power cut.
///
/// **Card numbers.** The central needs the card number to act on a request, so each pending item
/// keeps it. Once the central has the item (delivered) or refused it for good (quarantined), the
/// number is blanked in the same transaction that records the result. The number is never logged.
public final class Outbox: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool

    /// `PRAGMA application_id` of an outbox ("CUSO").
    static let applicationID: Int32 = 0x4355_534F
    /// The most bytes `details` may take as JSON (the central's limit).
    public static let maxDetailsBytes = 4096

    /// Opens the outbox at `path`, creating it if no file is there, and migrates it.
    ///
    /// - Throws: ``OutboxError`` when the file is someone else's or cannot be opened; it is never replaced.
    public init(path: String) throws(OutboxError) {
        self.path = path
        var config = Configuration()
        config.label = "outbox"
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 2
        do {
            try StateFiles.prepareFile(path)
        } catch {
            throw OutboxError(code: .database, path: path, detail: error.problem)
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // An acknowledged request must survive a power cut: fsync the WAL on every commit. Set on the
            // writer itself, after the pool's WAL set-up (which sets NORMAL, overriding `prepareDatabase`).
            // The pool never replaces its writer connection, so this holds for the outbox's lifetime.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            let migrator = Self.migrator
            try pool.read { db in
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                if !(appID == 0 && tables.isEmpty) && appID != Self.applicationID {
                    throw OutboxError(code: .foreign, path: path, detail: "application_id \(appID)")
                }
                let known = Set(migrator.migrations)
                if let unknown = try migrator.appliedIdentifiers(db).first(where: { !known.contains($0) }) {
                    throw OutboxError(code: .tooNew, path: path, detail: "unknown migration \"\(unknown)\"")
                }
            }
            try migrator.migrate(pool)
        } catch let error as OutboxError {
            throw error
        } catch {
            throw OutboxError(code: error is DatabaseError && (error as? DatabaseError)?.resultCode == .SQLITE_NOTADB ? .foreign : .database,
                              path: path, detail: Self.describe(error))
        }
    }

    /// What a read-only look at an outbox file found.
    public struct Inspection: Sendable, Equatable {
        /// Requests waiting for the central.
        public var pending: Int
        /// Requests the central refused for good.
        public var quarantined: Int
        /// When the oldest waiting request was made (as the kiosk stamped it), if any.
        public var oldestPendingAt: String?
    }

    /// Checks an outbox file without writing to it (`PRAGMA quick_check`, read-only): safe while
    /// kioskd has it open, for `kioskctl doctor`.
    /// - Throws: ``OutboxError`` `.foreign` for another file, `.database` for a damaged or unreadable one.
    public static func inspect(path: String) throws(OutboxError) -> Inspection {
        var config = Configuration()
        config.readonly = true
        config.label = "outbox-check"
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
                if tables.isEmpty && appID == 0 { return Inspection(pending: 0, quarantined: 0) }
                if appID != applicationID {
                    throw OutboxError(code: .foreign, path: path, detail: "application_id \(appID)")
                }
                let check = try String.fetchAll(db, sql: "PRAGMA quick_check")
                if check != ["ok"] {
                    throw OutboxError(code: .database, path: path, detail: "damaged: " + check.prefix(3).joined(separator: "; "))
                }
                guard tables.contains("request") else { return Inspection(pending: 0, quarantined: 0) }
                let counts = try counts(db)
                var out = Inspection(pending: counts.pending, quarantined: counts.quarantined)
                out.oldestPendingAt = try oldestPendingStamp(db)
                return out
            }
        } catch let error as OutboxError {
            throw error
        } catch {
            throw OutboxError(code: error is DatabaseError && (error as? DatabaseError)?.resultCode == .SQLITE_NOTADB ? .foreign : .database,
                              path: path, detail: describe(error))
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 outbox") { db in
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(sql: """
                -- The last kiosk_seq handed out; only ever grows, so a number is never reused.
                CREATE TABLE outbox_meta (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    last_seq INTEGER NOT NULL
                );
                INSERT INTO outbox_meta (id, last_seq) VALUES (1, 0);

                CREATE TABLE request (
                    kiosk_seq INTEGER PRIMARY KEY,
                    idempotency_key TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL,
                    service TEXT NOT NULL,
                    -- blanked (NULL) once delivered or quarantined
                    card_number TEXT,
                    details TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('pending','delivered','quarantined')),
                    outcome TEXT CHECK (outcome IN ('accepted','duplicate')),
                    request_id INTEGER,
                    reason TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT,
                    settled_at TEXT,
                    central_status TEXT,
                    scheduled_at TEXT,
                    CHECK ((state = 'pending') = (card_number IS NOT NULL))
                );
                CREATE INDEX request_pending ON request(kiosk_seq) WHERE state = 'pending';
                """)
        }
        migrator.registerMigration("v2 identity") { db in
            // Requests made after a typed number (not a tapped card) are flagged for the coordinator.
            try db.execute(sql: """
                ALTER TABLE request ADD COLUMN identity TEXT NOT NULL DEFAULT 'verified'
                    CHECK (identity IN ('verified','unverified'))
                """)
        }
        return migrator
    }

    // MARK: Queue

    /// The writer connection's `PRAGMA synchronous` (2 is FULL): what every commit of a request really does.
    public func writerSynchronousLevel() throws(OutboxError) -> Int {
        do { return try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 } } catch {
            throw OutboxError(code: .database, path: path, detail: Self.describe(error))
        }
    }

    /// Queues a request; returns once it is committed to disk.
    ///
    /// - Parameters:
    ///   - service: a service id (the caller checks it against the catalogue).
    ///   - cardNumber: the normalised card number, kept only until delivery.
    ///   - identity: `unverified` when the session was opened by a typed number.
    ///   - detailsJSON: a JSON object of at most ``maxDetailsBytes`` bytes.
    /// - Throws: ``OutboxError`` `.invalid` for details that are not a small JSON object; `.database` if it could not be stored.
    @discardableResult
    public func enqueue(
        service: String, cardNumber: String, identity: Identity = .verified, detailsJSON: String = "{}", at now: Date = Date()
    ) throws(OutboxError) -> OutboxItem {
        let data = Data(detailsJSON.utf8)
        guard data.count <= Self.maxDetailsBytes else {
            throw OutboxError(code: .invalid, path: path, detail: "details must be at most \(Self.maxDetailsBytes) bytes of JSON")
        }
        guard case .object? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw OutboxError(code: .invalid, path: path, detail: "details must be a JSON object")
        }
        guard !service.isEmpty, !cardNumber.isEmpty else {
            throw OutboxError(code: .invalid, path: path, detail: "service and card number are required")
        }
        let key = UUIDv7.make()
        let created = Self.stamp(now)
        do {
            return try pool.write { db in
                try db.execute(sql: "UPDATE outbox_meta SET last_seq = last_seq + 1 WHERE id = 1")
                let seq = try Int64.fetchOne(db, sql: "SELECT last_seq FROM outbox_meta WHERE id = 1") ?? 0
                try db.execute(sql: """
                    INSERT INTO request (kiosk_seq, idempotency_key, created_at, service, card_number, details, state, identity)
                    VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)
                    """, arguments: [seq, key, created, service, cardNumber, detailsJSON, identity.rawValue])
                return OutboxItem(
                    idempotencyKey: key, kioskSeq: seq, createdAt: created, service: service, cardNumber: cardNumber,
                    identity: identity, detailsJSON: detailsJSON, state: .pending, attempts: 0, lastError: nil,
                    centralStatus: nil, scheduledAt: nil
                )
            }
        } catch {
            throw OutboxError(code: .database, path: path, detail: Self.describe(error))
        }
    }

    /// The oldest pending items, oldest first (by `kiosk_seq`).
    public func pending(limit: Int) throws(OutboxError) -> [OutboxItem] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM request WHERE state = 'pending' ORDER BY kiosk_seq LIMIT ?", arguments: [max(0, limit)])
                .map(Self.item)
        }
    }

    /// The item with this idempotency key, in any state.
    public func item(key: String) throws(OutboxError) -> OutboxItem? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM request WHERE idempotency_key = ?", arguments: [key.lowercased()]).map(Self.item)
        }
    }

    /// Records the result of one upload, each item by its own answer, in one transaction.
    ///
    /// Only pending items change: a result for an item already settled is ignored, so
    /// recording the same answers twice (after a crash) changes nothing.
    public func record(_ results: [String: DeliveryResult], at now: Date = Date()) throws(OutboxError) {
        guard !results.isEmpty else { return }
        let stamp = Self.stamp(now)
        try write { db in
            for (key, result) in results {
                switch result {
                case .delivered(let outcome, let requestID):
                    try db.execute(sql: """
                        UPDATE request SET state = 'delivered', outcome = ?, request_id = ?, card_number = NULL,
                               attempts = attempts + 1, last_error = NULL, settled_at = ?
                        WHERE idempotency_key = ? AND state = 'pending'
                        """, arguments: [outcome.rawValue, requestID, stamp, key])
                case .rejected(let reason):
                    try Self.quarantine(db, key: key, reason: reason, stamp: stamp)
                case .failed(let error):
                    try db.execute(sql: """
                        UPDATE request SET attempts = attempts + 1, last_error = ? WHERE idempotency_key = ? AND state = 'pending'
                        """, arguments: [String(error.prefix(500)), key])
                }
            }
        }
    }

    /// Moves a pending item to quarantine: never sent again, kept with `reason` for staff.
    public func quarantine(key: String, reason: String, at now: Date = Date()) throws(OutboxError) {
        let stamp = Self.stamp(now)
        try write { db in try Self.quarantine(db, key: key, reason: reason, stamp: stamp) }
    }

    private static func quarantine(_ db: Database, key: String, reason: String, stamp: String) throws {
        try db.execute(sql: """
            UPDATE request SET state = 'quarantined', reason = ?, card_number = NULL, attempts = attempts + 1, settled_at = ?
            WHERE idempotency_key = ? AND state = 'pending'
            """, arguments: [String(reason.prefix(500)), stamp, key])
    }

    /// Deletes settled items (delivered or quarantined) settled before `cutoff`, and the oldest settled
    /// items beyond the newest `keepSettled`. Pending items are never deleted.
    /// - Returns: how many items were deleted.
    @discardableResult
    public func prune(settledBefore cutoff: Date, keepSettled: Int) throws(OutboxError) -> Int {
        let stamp = Self.stamp(cutoff)
        return try write { db in
            try db.execute(sql: "DELETE FROM request WHERE state <> 'pending' AND settled_at < ?", arguments: [stamp])
            var deleted = db.changesCount
            try db.execute(sql: """
                DELETE FROM request WHERE state <> 'pending' AND kiosk_seq NOT IN (
                    SELECT kiosk_seq FROM request WHERE state <> 'pending' ORDER BY settled_at DESC, kiosk_seq DESC LIMIT ?
                )
                """, arguments: [max(0, keepSettled)])
            deleted += db.changesCount
            return deleted
        }
    }

    /// When the oldest pending item was queued; `nil` when nothing is pending.
    public func oldestPending() throws(OutboxError) -> Date? {
        try read { db in try Self.oldestPendingStamp(db).flatMap { try? Date($0, strategy: .iso8601) } }
    }

    /// Counts by state, for `/api/v1/status`.
    public func counts() throws(OutboxError) -> OutboxCounts {
        try read { db in try Self.counts(db) }
    }

    /// Counts by state in `db` (the pool's reader, or ``inspect(path:)``'s read-only connection).
    static func counts(_ db: Database) throws -> OutboxCounts {
        var counts = OutboxCounts(pending: 0, quarantined: 0, delivered: 0)
        for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM request GROUP BY state") {
            let n: Int = row["n"]
            switch row["state"] as String {
            case "pending": counts.pending = n
            case "quarantined": counts.quarantined = n
            default: counts.delivered = n
            }
        }
        return counts
    }

    /// The `created_at` stamp of the oldest pending item in `db`.
    static func oldestPendingStamp(_ db: Database) throws -> String? {
        try String.fetchOne(db, sql: "SELECT min(created_at) FROM request WHERE state = 'pending'")
    }

    /// Stores status changes from the central's feed so the screen can show them.
    ///
    /// Idempotent; an update for a key this outbox does not know is ignored. Returns how many items changed.
    @discardableResult
    public func apply(_ updates: [RequestStatusUpdate]) throws(OutboxError) -> Int {
        guard !updates.isEmpty else { return 0 }
        return try write { db in
            var changed = 0
            for u in updates {
                try db.execute(sql: """
                    UPDATE request SET central_status = ?, scheduled_at = ?, request_id = coalesce(request_id, ?)
                    WHERE idempotency_key = ?
                    """, arguments: [u.status, u.scheduledAt, u.requestID, u.idempotencyKey.lowercased()])
                changed += db.changesCount
            }
            return changed
        }
    }

    // MARK: Helpers

    private func read<T>(_ body: (Database) throws -> T) throws(OutboxError) -> T {
        do { return try pool.read(body) } catch { throw OutboxError(code: .database, path: path, detail: Self.describe(error)) }
    }

    private func write<T>(_ body: (Database) throws -> T) throws(OutboxError) -> T {
        do { return try pool.write(body) } catch { throw OutboxError(code: .database, path: path, detail: Self.describe(error)) }
    }

    static func item(_ row: Row) -> OutboxItem {
        let state: OutboxItem.State
        switch row["state"] as String {
        case "delivered":
            state = .delivered(outcome: DeliveryOutcome(rawValue: row["outcome"] ?? "") ?? .accepted, requestID: row["request_id"])
        case "quarantined":
            state = .quarantined(reason: row["reason"] ?? "")
        default:
            state = .pending
        }
        return OutboxItem(
            idempotencyKey: row["idempotency_key"], kioskSeq: row["kiosk_seq"], createdAt: row["created_at"],
            service: row["service"], cardNumber: row["card_number"],
            identity: Identity(rawValue: row["identity"] ?? "") ?? .unverified, detailsJSON: row["details"], state: state,
            attempts: row["attempts"], lastError: row["last_error"], centralStatus: row["central_status"], scheduledAt: row["scheduled_at"]
        )
    }

    /// RFC 3339 in UTC with whole seconds, the form the central accepts.
    static func stamp(_ date: Date) -> String { date.formatted(.iso8601) }

    static func describe(_ error: any Error) -> String {
        if let db = error as? DatabaseError { return db.message ?? "\(db.resultCode)" }
        return "\(error)"
    }
}
