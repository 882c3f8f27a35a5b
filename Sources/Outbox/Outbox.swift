public import CardModel
import CentralWire
import Crypto
public import Foundation
import GRDB
import StateFiles
import Synchronization

/// The kiosk's durable queue of residents' service requests: `state_dir/outbox.sqlite`.
///
/// A file of its own, never the replica (which may be re-bootstrapped at any time), mode 0600. WAL
/// mode with `PRAGMA synchronous = FULL` on the writer connection: the WAL is fsynced at every commit,
/// so ``enqueue(_:ticketKiosk:at:)`` returns only after the request is on disk, and a request the
/// resident saw accepted survives a power cut.
///
/// **Card numbers and phones.** The central needs the card number (and the phone, when given) to act
/// on a request, so each pending item keeps them. When the central acknowledges the item, both are
/// set to NULL in the same transaction that records the answer; the outbox runs with
/// `PRAGMA secure_delete = ON` and checkpoints its WAL with `TRUNCATE` afterwards, so the digits are
/// gone from `outbox.sqlite`, `-wal` and `-shm`. An item the central cannot read (quarantined) keeps
/// them until staff re-queue or discard it (`kioskctl outbox`). To count a card's requests after
/// delivery (quotas offline), each item keeps a ``OutboxItem/cardTag``: an HMAC of the number under a
/// random key that never leaves this file. Nothing here is ever logged.
///
/// **Threads.** What the daemon calls (queueing, uploads, statuses, counts, pruning) is `async`: its
/// SQLite work runs on GRDB's reader and writer queues while the calling task is suspended, so an fsync
/// never holds one of the few threads of Swift's cooperative pool. The synchronous rest serves `kioskctl`.
public final class Outbox: Sendable {
    /// The database file.
    public let path: String
    let pool: DatabasePool
    /// The key of ``OutboxItem/cardTag`` (32 random bytes made when the outbox was created or migrated).
    private let tagKey: SymmetricKey
    /// Set when a delivery or a discard erased numbers but the WAL could not be truncated yet (a reader held it).
    private let checkpointOwed = Mutex(false)

    /// `PRAGMA application_id` of an outbox ("CUSO").
    static let applicationID: Int32 = 0x4355_534F
    /// The most bytes `details` may take as JSON (the central's limit).
    public static let maxDetailsBytes = 4096

    /// Opens the outbox at `path`, creating it if no file is there, and migrates it.
    ///
    /// Safe while another process (kioskd, `kioskctl outbox`) has it open: SQLite's WAL and busy timeout
    /// serialise their writes.
    /// - Throws: ``OutboxError`` when the file is someone else's or cannot be opened; it is never replaced.
    public init(path: String) throws(OutboxError) {
        self.path = path
        var config = Configuration()
        config.label = "outbox"
        config.busyMode = .timeout(10)
        config.maximumReaderCount = 2
        // Deleted and overwritten content is zeroed, on every connection: an erased phone number must
        // not linger in a free block of a page.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
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
            let key = try pool.read { db in try Data.fetchOne(db, sql: "SELECT tag_key FROM outbox_meta WHERE id = 1") }
            guard let key, key.count == 32 else { throw OutboxError(code: .database, path: path, detail: "the card-tag key is missing") }
            tagKey = SymmetricKey(data: key)
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
        /// Requests the central could not read, waiting for staff.
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

    /// The `request` table as of v3: kinds, tickets, phones, card tags, months and the central's status and reason.
    static let requestTableV3 = """
        CREATE TABLE request (
            kiosk_seq INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'service' CHECK (kind IN ('service','bundle','callback')),
            service TEXT,
            ticket TEXT,
            -- the card number and phone: kept while pending or quarantined, NULL once delivered or discarded
            card_number TEXT,
            phone TEXT,
            -- HMAC-SHA256(outbox_meta.tag_key, card number), hex; and the Warsaw month (YYYY-MM), for quotas
            card_tag TEXT,
            month TEXT,
            details TEXT NOT NULL,
            identity TEXT NOT NULL DEFAULT 'verified' CHECK (identity IN ('verified','unverified')),
            catalogue_version INTEGER,
            state TEXT NOT NULL CHECK (state IN ('pending','delivered','quarantined','discarded')),
            outcome TEXT CHECK (outcome IN ('accepted','duplicate')),
            request_id INTEGER,
            -- why it was quarantined (the central's words)
            reason TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            settled_at TEXT,
            central_status TEXT,
            scheduled_at TEXT,
            scheduled_for TEXT,
            -- why the central declined it: a code and {pl, uk, en} as JSON
            reason_code TEXT,
            reason_text TEXT,
            CHECK (kind = 'callback' OR service IS NOT NULL),
            CHECK (kind <> 'callback' OR card_number IS NULL),
            CHECK (kind = 'callback' OR state <> 'pending' OR card_number IS NOT NULL),
            CHECK (state IN ('pending','quarantined') OR (card_number IS NULL AND phone IS NULL))
        );
        CREATE INDEX request_pending ON request(kiosk_seq) WHERE state = 'pending';
        CREATE INDEX request_card ON request(card_tag, month) WHERE card_tag IS NOT NULL;
        CREATE INDEX request_ticket ON request(ticket) WHERE ticket IS NOT NULL;
        """

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
        migrator.registerMigration("v3 requests") { db in
            // SQLite cannot change a table's CHECK constraints: the table is rebuilt, every row kept.
            var random = SystemRandomNumberGenerator()
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) })
            try db.execute(sql: "ALTER TABLE outbox_meta ADD COLUMN tag_key BLOB")
            try db.execute(sql: "UPDATE outbox_meta SET tag_key = ? WHERE id = 1", arguments: [key])
            let old = try Row.fetchAll(db, sql: "SELECT * FROM request ORDER BY kiosk_seq")
            try db.execute(sql: "DROP TABLE request")
            try db.execute(sql: requestTableV3)
            let symmetric = SymmetricKey(data: key)
            for row in old {
                let number: String? = row["card_number"]
                let created: String = row["created_at"]
                let month = (try? Date(created, strategy: .iso8601)).map(Self.month(of:))
                try db.execute(sql: """
                    INSERT INTO request (kiosk_seq, idempotency_key, created_at, kind, service, card_number, card_tag, month, details,
                        identity, state, outcome, request_id, reason, attempts, last_error, settled_at, central_status, scheduled_at)
                    VALUES (?, ?, ?, 'service', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [
                        row["kiosk_seq"] as Int64, row["idempotency_key"] as String, created, row["service"] as String, number,
                        number.map { Self.tag($0, key: symmetric) }, month, row["details"] as String, row["identity"] as String,
                        row["state"] as String, row["outcome"] as String?, row["request_id"] as Int64?, row["reason"] as String?,
                        row["attempts"] as Int, row["last_error"] as String?, row["settled_at"] as String?,
                        row["central_status"] as String?, row["scheduled_at"] as String?,
                    ])
            }
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
    ///   - request: what to queue (the caller has checked it against the catalogue).
    ///   - ticketKiosk: the kiosk's number for the ticket (``Ticket/init(kiosk:sequence:)`` with this item's
    ///     `kiosk_seq`); `nil` queues the item without a ticket.
    /// - Throws: ``OutboxError`` `.invalid` for details that are not a small JSON object or a card number
    ///   where none belongs; `.database` if it could not be stored.
    @discardableResult
    public func enqueue(_ request: NewRequest, ticketKiosk: Int?, at now: Date = Date()) async throws(OutboxError) -> OutboxItem {
        let data = Data(request.detailsJSON.utf8)
        guard data.count <= Self.maxDetailsBytes else {
            throw OutboxError(code: .invalid, path: path, detail: "details must be at most \(Self.maxDetailsBytes) bytes of JSON")
        }
        guard case .object? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw OutboxError(code: .invalid, path: path, detail: "details must be a JSON object")
        }
        switch request.kind {
        case .callback:
            guard request.cardNumber == nil else { throw OutboxError(code: .invalid, path: path, detail: "a call-back carries no card number") }
            guard request.phone?.isEmpty == false else { throw OutboxError(code: .invalid, path: path, detail: "a call-back needs a phone number") }
        case .service, .bundle:
            guard request.service?.isEmpty == false, request.cardNumber?.isEmpty == false else {
                throw OutboxError(code: .invalid, path: path, detail: "service and card number are required")
            }
        }
        if let phone = request.phone, phone.isEmpty || phone.count > 20 {
            throw OutboxError(code: .invalid, path: path, detail: "the phone number must be 1 to 20 characters")
        }
        let key = UUIDv7.make()
        let created = Self.stamp(now)
        let month = Self.month(of: now)
        let tag = request.cardNumber.map { Self.tag($0, key: tagKey) }
        do {
            return try await pool.write { db in
                try db.execute(sql: "UPDATE outbox_meta SET last_seq = last_seq + 1 WHERE id = 1")
                let seq = try Int64.fetchOne(db, sql: "SELECT last_seq FROM outbox_meta WHERE id = 1") ?? 0
                let ticket = ticketKiosk.map { Ticket(kiosk: $0, sequence: seq).code }
                try db.execute(sql: """
                    INSERT INTO request (kiosk_seq, idempotency_key, created_at, kind, service, ticket, card_number, phone, card_tag, month,
                        details, identity, catalogue_version, state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')
                    """, arguments: [
                        seq, key, created, request.kind.rawValue, request.service, ticket, request.cardNumber, request.phone, tag, month,
                        request.detailsJSON, request.identity.rawValue, request.catalogueVersion,
                    ])
                return OutboxItem(
                    idempotencyKey: key, kioskSeq: seq, createdAt: created, kind: request.kind, service: request.service, ticket: ticket,
                    cardNumber: request.cardNumber, phone: request.phone, cardTag: tag, month: month, identity: request.identity,
                    detailsJSON: request.detailsJSON, catalogueVersion: request.catalogueVersion, state: .pending, attempts: 0,
                    lastError: nil, centralStatus: nil, scheduledAt: nil, scheduledFor: nil, reason: nil, settledAt: nil
                )
            }
        } catch {
            throw OutboxError(code: .database, path: path, detail: Self.describe(error))
        }
    }

    /// Queues a request for one service without a ticket (tools, benchmarks and tests of the queue itself).
    @discardableResult
    public func enqueue(
        service: String, cardNumber: String, identity: Identity = .verified, detailsJSON: String = "{}", at now: Date = Date()
    ) async throws(OutboxError) -> OutboxItem {
        try await enqueue(
            NewRequest(kind: .service, service: service, cardNumber: cardNumber, identity: identity, detailsJSON: detailsJSON),
            ticketKiosk: nil, at: now
        )
    }

    /// The oldest pending items, oldest first (by `kiosk_seq`).
    public func pending(limit: Int) async throws(OutboxError) -> [OutboxItem] {
        try await reading { db in
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

    /// The item with this idempotency key or this ticket (as typed or read aloud: case and spaces do not matter).
    public func item(keyOrTicket text: String) throws(OutboxError) -> OutboxItem? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let found = try item(key: trimmed) { return found }
        guard let ticket = Ticket(parsing: trimmed) else { return nil }
        return try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM request WHERE ticket = ?", arguments: [ticket.code]).map(Self.item)
        }
    }

    /// Every item in one of `states` (`pending`, `delivered`, `quarantined`, `discarded`), oldest first.
    public func items(inStates states: [String]) throws(OutboxError) -> [OutboxItem] {
        guard !states.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: states.count).joined(separator: ",")
        return try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM request WHERE state IN (\(marks)) ORDER BY kiosk_seq", arguments: StatementArguments(states))
                .map(Self.item)
        }
    }

    /// This card's items (by ``OutboxItem/cardTag``, so delivered ones too), newest first, discarded ones left out.
    ///
    /// - Parameter month: only those made in this Warsaw month (`YYYY-MM`), when given.
    public func items(forCard number: String, month: String? = nil) throws(OutboxError) -> [OutboxItem] {
        let tag = Self.tag(number, key: tagKey)
        return try read { db in
            if let month {
                return try Row.fetchAll(db, sql: """
                    SELECT * FROM request WHERE card_tag = ? AND month = ? AND state <> 'discarded' ORDER BY kiosk_seq DESC
                    """, arguments: [tag, month]).map(Self.item)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM request WHERE card_tag = ? AND state <> 'discarded' ORDER BY kiosk_seq DESC",
                                    arguments: [tag]).map(Self.item)
        }
    }

    /// The card tag this outbox gives `number`: HMAC-SHA256 under its own key, in hex.
    public func cardTag(for number: String) -> String { Self.tag(number, key: tagKey) }

    /// Records the result of one upload, each item by its own answer, in one transaction.
    ///
    /// Only pending items change: a result for an item already settled is ignored, so recording the
    /// same answers twice (after a crash) changes nothing. A delivered item's card number and phone are
    /// erased in the same transaction, and the WAL is then truncated so the digits leave the files.
    public func record(_ results: [String: DeliveryResult], at now: Date = Date()) async throws(OutboxError) {
        guard !results.isEmpty else { return }
        let stamp = Self.stamp(now)
        let erased: Bool = try await writing { db in
            var erased = false
            for (key, result) in results {
                switch result {
                case .delivered(let outcome, let requestID, let status, let reason, let ticket):
                    try db.execute(sql: """
                        UPDATE request SET state = 'delivered', outcome = ?, request_id = ?, card_number = NULL, phone = NULL,
                               attempts = attempts + 1, last_error = NULL, settled_at = ?,
                               central_status = coalesce(?, central_status), reason_code = coalesce(?, reason_code),
                               reason_text = coalesce(?, reason_text), ticket = coalesce(?, ticket)
                        WHERE idempotency_key = ? AND state = 'pending'
                        """, arguments: [
                            outcome.rawValue, requestID, stamp, status.map { String($0.prefix(20)) }, reason.map { String($0.code.prefix(40)) },
                            reason.flatMap(Self.reasonJSON), ticket, key,
                        ])
                    erased = erased || db.changesCount > 0
                case .rejected(let reason):
                    try Self.quarantine(db, key: key, reason: reason, stamp: stamp)
                case .failed(let error):
                    try db.execute(sql: """
                        UPDATE request SET attempts = attempts + 1, last_error = ? WHERE idempotency_key = ? AND state = 'pending'
                        """, arguments: [String(error.prefix(500)), key])
                }
            }
            return erased
        }
        if erased { checkpointOwed.withLock { $0 = true } }
        await truncateWALIfOwed()
    }

    /// Moves a pending item to quarantine: never sent again unless staff re-queue it; kept with
    /// `reason`, its card number and phone, for a person to deal with.
    public func quarantine(key: String, reason: String, at now: Date = Date()) throws(OutboxError) {
        let stamp = Self.stamp(now)
        try write { db in try Self.quarantine(db, key: key, reason: reason, stamp: stamp) }
    }

    private static func quarantine(_ db: Database, key: String, reason: String, stamp: String) throws {
        try db.execute(sql: """
            UPDATE request SET state = 'quarantined', reason = ?, attempts = attempts + 1, settled_at = ?
            WHERE idempotency_key = ? AND state = 'pending'
            """, arguments: [String(reason.prefix(500)), stamp, key])
    }

    /// Puts a quarantined item back in the queue (`kioskctl outbox requeue`): pending again, attempts reset.
    ///
    /// - Throws: ``OutboxError`` `.notFound` for no such key or ticket; `.wrongState` when it is not
    ///   quarantined, or was quarantined by an older kioskd that did not keep the card number.
    @discardableResult
    public func requeue(keyOrTicket: String) throws(OutboxError) -> OutboxItem {
        guard let found = try item(keyOrTicket: keyOrTicket) else { throw OutboxError(code: .notFound, path: path, detail: keyOrTicket) }
        guard case .quarantined = found.state else {
            throw OutboxError(code: .wrongState, path: path, detail: "request \(found.idempotencyKey) is \(found.state.name), not quarantined")
        }
        if found.kind != .callback, found.cardNumber == nil {
            throw OutboxError(code: .wrongState, path: path, detail: """
                request \(found.idempotencyKey) was quarantined by an older kioskd, which did not keep the card number, so it cannot be \
                sent again; discard it (kioskctl outbox discard) and ask the resident to request again
                """)
        }
        try write { db in
            try db.execute(sql: """
                UPDATE request SET state = 'pending', attempts = 0, last_error = NULL, reason = NULL, settled_at = NULL
                WHERE idempotency_key = ? AND state = 'quarantined'
                """, arguments: [found.idempotencyKey])
        }
        return try item(key: found.idempotencyKey) ?? found
    }

    /// Settles a quarantined item for good (`kioskctl outbox discard`): its card number and phone are
    /// erased and the WAL truncated, as after a delivery.
    ///
    /// - Throws: ``OutboxError`` `.notFound` for no such key or ticket; `.wrongState` when it is not quarantined.
    @discardableResult
    public func discard(keyOrTicket: String, at now: Date = Date()) throws(OutboxError) -> OutboxItem {
        guard let found = try item(keyOrTicket: keyOrTicket) else { throw OutboxError(code: .notFound, path: path, detail: keyOrTicket) }
        guard case .quarantined = found.state else {
            throw OutboxError(code: .wrongState, path: path, detail: """
                request \(found.idempotencyKey) is \(found.state.name); only quarantined requests can be discarded \
                (a pending one is still on its way to the central)
                """)
        }
        let stamp = Self.stamp(now)
        try write { db in
            try db.execute(sql: """
                UPDATE request SET state = 'discarded', card_number = NULL, phone = NULL, settled_at = ?
                WHERE idempotency_key = ? AND state = 'quarantined'
                """, arguments: [stamp, found.idempotencyKey])
        }
        checkpointOwed.withLock { $0 = true }
        truncateWALIfOwedNow()
        return try item(key: found.idempotencyKey) ?? found
    }

    /// Truncates the WAL (`PRAGMA wal_checkpoint(TRUNCATE)`) if erased numbers may still be in it.
    ///
    /// Tried after each delivery and discard; when a reader holds the WAL (another process reading)
    /// the checkpoint cannot finish, and it is tried again at the next call (sync, housekeeping).
    /// - Returns: whether nothing erased is left in the WAL.
    @discardableResult
    public func truncateWALIfOwed() async -> Bool {
        guard checkpointOwed.withLock({ $0 }) else { return true }
        do {
            try await pool.writeWithoutTransaction { db in try Self.truncateWAL(db) }
            checkpointOwed.withLock { $0 = false }
            return true
        } catch {
            return false
        }
    }

    /// ``truncateWALIfOwed()`` for `kioskctl` (a discard).
    private func truncateWALIfOwedNow() {
        guard checkpointOwed.withLock({ $0 }) else { return }
        if (try? pool.writeWithoutTransaction({ db in try Self.truncateWAL(db) })) != nil { checkpointOwed.withLock { $0 = false } }
    }

    private static func truncateWAL(_ db: Database) throws {
        // Wait briefly for a reader, not the 10 s a write would.
        try db.execute(sql: "PRAGMA busy_timeout = 1000")
        defer { try? db.execute(sql: "PRAGMA busy_timeout = 10000") }
        try db.checkpoint(.truncate)
    }

    /// Deletes delivered and discarded items settled before `cutoff`, and the oldest of them beyond the
    /// newest `keepSettled`. Pending and quarantined items are never deleted, nor delivered ones made in
    /// `keepMonth` or later (the kiosk counts them against this month's quotas).
    /// - Parameter keepMonth: a Warsaw month `YYYY-MM`; by default the current one.
    /// - Returns: how many items were deleted.
    @discardableResult
    public func prune(settledBefore cutoff: Date, keepSettled: Int, keepMonth: String? = nil) async throws(OutboxError) -> Int {
        let stamp = Self.stamp(cutoff)
        let month = keepMonth ?? Self.month(of: Date())
        let removable = "state IN ('delivered','discarded') AND NOT (state = 'delivered' AND coalesce(month, '') >= ?)"
        return try await writing { db in
            try db.execute(sql: "DELETE FROM request WHERE \(removable) AND settled_at < ?", arguments: [month, stamp])
            var deleted = db.changesCount
            try db.execute(sql: """
                DELETE FROM request WHERE \(removable) AND kiosk_seq NOT IN (
                    SELECT kiosk_seq FROM request WHERE state IN ('delivered','discarded') ORDER BY settled_at DESC, kiosk_seq DESC LIMIT ?
                )
                """, arguments: [month, max(0, keepSettled)])
            deleted += db.changesCount
            return deleted
        }
    }

    /// When the oldest pending item was queued; `nil` when nothing is pending.
    public func oldestPending() async throws(OutboxError) -> Date? {
        try await reading { db in try Self.oldestPendingStamp(db).flatMap { try? Date($0, strategy: .iso8601) } }
    }

    /// Counts by state, for `/api/v1/status`.
    public func counts() async throws(OutboxError) -> OutboxCounts {
        try await reading { db in try Self.counts(db) }
    }

    /// Counts by state in `db` (the pool's reader, or ``inspect(path:)``'s read-only connection).
    static func counts(_ db: Database) throws -> OutboxCounts {
        var counts = OutboxCounts(pending: 0, quarantined: 0, delivered: 0)
        for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM request GROUP BY state") {
            let n: Int = row["n"]
            switch row["state"] as String {
            case "pending": counts.pending = n
            case "quarantined": counts.quarantined = n
            case "discarded": counts.discarded = n
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
    public func apply(_ updates: [RequestStatusUpdate]) async throws(OutboxError) -> Int {
        guard !updates.isEmpty else { return 0 }
        return try await writing { db in
            var changed = 0
            for u in updates {
                try db.execute(sql: """
                    UPDATE request SET central_status = ?, scheduled_at = ?, scheduled_for = ?, reason_code = ?, reason_text = ?,
                           request_id = coalesce(request_id, ?), ticket = coalesce(?, ticket)
                    WHERE idempotency_key = ?
                    """, arguments: [
                        u.status, u.scheduledAt, u.scheduledFor, u.reason.map { String($0.code.prefix(40)) }, u.reason.flatMap(Self.reasonJSON),
                        u.requestID, u.ticket, u.idempotencyKey.lowercased(),
                    ])
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

    /// A read on GRDB's reader queue, the calling task suspended meanwhile (never a thread of the cooperative pool held).
    private func reading<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(OutboxError) -> T {
        do { return try await pool.read(body) } catch { throw OutboxError(code: .database, path: path, detail: Self.describe(error)) }
    }

    /// A write transaction on GRDB's writer queue, the calling task suspended meanwhile.
    private func writing<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(OutboxError) -> T {
        do { return try await pool.write(body) } catch { throw OutboxError(code: .database, path: path, detail: Self.describe(error)) }
    }

    static func item(_ row: Row) -> OutboxItem {
        let state: OutboxItem.State
        switch row["state"] as String {
        case "delivered":
            state = .delivered(outcome: DeliveryOutcome(rawValue: row["outcome"] ?? "") ?? .accepted, requestID: row["request_id"])
        case "quarantined":
            state = .quarantined(reason: row["reason"] ?? "")
        case "discarded":
            state = .discarded
        default:
            state = .pending
        }
        var reason: StatusReason?
        if let code: String = row["reason_code"] {
            let text = (row["reason_text"] as String?).flatMap { try? JSONDecoder().decode(LocalizedText.self, from: Data($0.utf8)) }
            reason = StatusReason(code: code, text: text ?? LocalizedText(pl: code, uk: code, en: code))
        }
        return OutboxItem(
            idempotencyKey: row["idempotency_key"], kioskSeq: row["kiosk_seq"], createdAt: row["created_at"],
            kind: RequestKind(rawValue: row["kind"] ?? "") ?? .service, service: row["service"], ticket: row["ticket"],
            cardNumber: row["card_number"], phone: row["phone"], cardTag: row["card_tag"], month: row["month"],
            identity: Identity(rawValue: row["identity"] ?? "") ?? .unverified, detailsJSON: row["details"],
            catalogueVersion: row["catalogue_version"], state: state, attempts: row["attempts"], lastError: row["last_error"],
            centralStatus: row["central_status"], scheduledAt: row["scheduled_at"], scheduledFor: row["scheduled_for"],
            reason: reason, settledAt: row["settled_at"]
        )
    }

    static func reasonJSON(_ reason: StatusReason) -> String? {
        let trimmed = LocalizedText(pl: String(reason.text.pl.prefix(500)), uk: String(reason.text.uk.prefix(500)), en: String(reason.text.en.prefix(500)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(trimmed)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func tag(_ number: String, key: SymmetricKey) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(number.utf8), using: key).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The calendar month in Warsaw that `date` falls in, `YYYY-MM` (the quota period).
    public static func month(of date: Date) -> String { String(CivilDate(date, in: .warsaw).iso.prefix(7)) }

    /// RFC 3339 in UTC with whole seconds, the form the central accepts.
    static func stamp(_ date: Date) -> String { date.formatted(.iso8601) }

    static func describe(_ error: any Error) -> String {
        if let db = error as? DatabaseError { return db.message ?? "\(db.resultCode)" }
        return "\(error)"
    }
}
