import CentralWire
import Foundation
import ServiceRules

/// The central's schema: the same forward-only migrations on SQLite and PostgreSQL.
///
/// Each migration is written once; `{PK}` becomes the dialect's auto-increment primary key.
enum CentralSchema {
    /// `PRAGMA application_id` of a central SQLite file ("CUSC").
    static let applicationID: Int32 = 0x4355_5343

    struct Migration: Sendable {
        var id: String
        var statements: [Step]
    }

    /// One step of a migration: SQL for both dialects, SQL for one, or code (for values that need binds).
    enum Step: Sendable, ExpressibleByStringLiteral {
        /// The same statement on SQLite and PostgreSQL.
        case sql(String)
        /// A statement for one dialect only (e.g. PostgreSQL's `ALTER … DROP NOT NULL` vs an SQLite table rebuild).
        case only(SQLDialect, String)
        /// Code run inside the migration's transaction.
        case code(@Sendable (any SQLConnection, SQLDialect) async throws -> Void)

        init(stringLiteral value: String) { self = .sql(value) }
    }

    static let migrations: [Migration] = [
        Migration(id: "v1 registry, feed, principals, requests", statements: [
            // The feed's one global sequence; writers lock this row first, so sequence order is commit order.
            """
            CREATE TABLE feed_state (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                last_seq BIGINT NOT NULL,
                pruned_through BIGINT NOT NULL
            )
            """,
            "INSERT INTO feed_state (id, last_seq, pruned_through) VALUES (1, 0, 0)",
            // A person is a pseudonymous id and a display name (first name + initial). No PESEL, no last name.
            "CREATE TABLE person (id TEXT PRIMARY KEY, display_name TEXT NOT NULL)",
            """
            CREATE TABLE card (
                id {PK},
                number TEXT NOT NULL,
                uid TEXT,
                technology TEXT NOT NULL
                    CHECK (technology IN ('printed','iso14443a','ntag213','ntag215','ntag216','mifare_ultralight')),
                series TEXT,
                status TEXT NOT NULL CHECK (status IN ('active','suspended','revoked','lost')),
                valid_from TEXT,
                valid_until TEXT,
                replaced_by BIGINT REFERENCES card(id) ON DELETE SET NULL,
                person_id TEXT NOT NULL REFERENCES person(id)
            )
            """,
            "CREATE INDEX card_by_number ON card(number)",
            "CREATE UNIQUE INDEX card_by_uid ON card(uid) WHERE uid IS NOT NULL",
            "CREATE INDEX card_by_person ON card(person_id)",
            """
            CREATE TABLE entitlement (
                id {PK},
                person_id TEXT NOT NULL REFERENCES person(id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('senior60','large_family','disability','staff')),
                role TEXT CHECK (role IN ('parent','child')),
                valid_from TEXT NOT NULL,
                valid_until TEXT,
                CHECK ((kind = 'large_family') = (role IS NOT NULL))
            )
            """,
            "CREATE INDEX entitlement_by_person ON entitlement(person_id)",
            // Kiosks and staff; only the SHA-256 of a token is kept.
            """
            CREATE TABLE principal (
                id {PK},
                kind TEXT NOT NULL CHECK (kind IN ('kiosk','staff')),
                name TEXT NOT NULL,
                token_hash TEXT NOT NULL UNIQUE,
                created_at_ms BIGINT NOT NULL,
                revoked_at_ms BIGINT,
                UNIQUE (kind, name)
            )
            """,
            // kiosk_id is set for entries only that kiosk may see (request statuses).
            """
            CREATE TABLE registry_change (
                seq BIGINT PRIMARY KEY,
                op TEXT NOT NULL CHECK (op IN ('upsert','remove','request_status')),
                kiosk_id BIGINT REFERENCES principal(id),
                payload TEXT NOT NULL,
                at_ms BIGINT NOT NULL
            )
            """,
            "CREATE INDEX registry_change_by_time ON registry_change(at_ms)",
            """
            CREATE TABLE service_request (
                id {PK},
                idempotency_key TEXT NOT NULL UNIQUE,
                kiosk_id BIGINT NOT NULL REFERENCES principal(id),
                kiosk_seq BIGINT NOT NULL,
                created_at TEXT NOT NULL,
                received_at_ms BIGINT NOT NULL,
                service TEXT NOT NULL,
                card_number TEXT NOT NULL,
                details TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('received','scheduled','done','declined')),
                scheduled_at TEXT,
                status_reason TEXT,
                status_changed_at_ms BIGINT
            )
            """,
            "CREATE INDEX service_request_by_status ON service_request(status, id)",
            // The first outcome of every idempotency key seen, accepted or rejected: a retry gets the same answer.
            """
            CREATE TABLE request_receipt (
                idempotency_key TEXT PRIMARY KEY,
                kiosk_id BIGINT NOT NULL REFERENCES principal(id),
                outcome TEXT NOT NULL CHECK (outcome IN ('accepted','rejected')),
                request_id BIGINT REFERENCES service_request(id),
                reason TEXT,
                received_at_ms BIGINT NOT NULL
            )
            """,
        ]),
        // Whether the resident tapped the card or typed its number (staff then confirm by phone).
        // Requests stored before this migration were all tapped.
        Migration(id: "v2 request identity", statements: [
            """
            ALTER TABLE service_request ADD COLUMN identity TEXT NOT NULL DEFAULT 'verified'
                CHECK (identity IN ('verified','unverified'))
            """,
        ]),
        // The catalogue as data (versioned, replicated through the feed), kiosk numbers for tickets,
        // call-backs without a card, tickets, and the reasons a request was declined.
        Migration(id: "v3 catalogue, tickets, declines", statements: [
            // card_number becomes nullable and the feed learns the op `catalogue`. PostgreSQL alters
            // in place; SQLite rebuilds the tables (request_receipt too, since it points at
            // service_request: foreign keys stay on, and a rename carries references along).
            .only(.postgres, "ALTER TABLE service_request ALTER COLUMN card_number DROP NOT NULL"),
            .only(.postgres, "ALTER TABLE registry_change DROP CONSTRAINT registry_change_op_check"),
            .only(.postgres, "ALTER TABLE registry_change ADD CONSTRAINT registry_change_op_check CHECK (op IN ('upsert','remove','request_status','catalogue'))"),
            .only(.sqlite, "ALTER TABLE service_request RENAME TO service_request_v2"),
            .only(.sqlite, """
                CREATE TABLE service_request (
                    id {PK},
                    idempotency_key TEXT NOT NULL UNIQUE,
                    kiosk_id BIGINT NOT NULL REFERENCES principal(id),
                    kiosk_seq BIGINT NOT NULL,
                    created_at TEXT NOT NULL,
                    received_at_ms BIGINT NOT NULL,
                    service TEXT NOT NULL,
                    card_number TEXT,
                    details TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('received','scheduled','done','declined')),
                    scheduled_at TEXT,
                    status_reason TEXT,
                    status_changed_at_ms BIGINT,
                    identity TEXT NOT NULL DEFAULT 'verified' CHECK (identity IN ('verified','unverified'))
                )
                """),
            .only(.sqlite, """
                INSERT INTO service_request (id, idempotency_key, kiosk_id, kiosk_seq, created_at, received_at_ms, service, card_number,
                                             details, status, scheduled_at, status_reason, status_changed_at_ms, identity)
                SELECT id, idempotency_key, kiosk_id, kiosk_seq, created_at, received_at_ms, service, card_number,
                       details, status, scheduled_at, status_reason, status_changed_at_ms, identity
                FROM service_request_v2
                """),
            .only(.sqlite, "ALTER TABLE request_receipt RENAME TO request_receipt_v2"),
            .only(.sqlite, """
                CREATE TABLE request_receipt (
                    idempotency_key TEXT PRIMARY KEY,
                    kiosk_id BIGINT NOT NULL REFERENCES principal(id),
                    outcome TEXT NOT NULL CHECK (outcome IN ('accepted','rejected')),
                    request_id BIGINT REFERENCES service_request(id),
                    reason TEXT,
                    received_at_ms BIGINT NOT NULL
                )
                """),
            .only(.sqlite, """
                INSERT INTO request_receipt (idempotency_key, kiosk_id, outcome, request_id, reason, received_at_ms)
                SELECT idempotency_key, kiosk_id, outcome, request_id, reason, received_at_ms FROM request_receipt_v2
                """),
            .only(.sqlite, "DROP TABLE request_receipt_v2"),
            .only(.sqlite, "DROP TABLE service_request_v2"),
            .only(.sqlite, "CREATE INDEX service_request_by_status ON service_request(status, id)"),
            .only(.sqlite, "ALTER TABLE registry_change RENAME TO registry_change_v2"),
            .only(.sqlite, """
                CREATE TABLE registry_change (
                    seq BIGINT PRIMARY KEY,
                    op TEXT NOT NULL CHECK (op IN ('upsert','remove','request_status','catalogue')),
                    kiosk_id BIGINT REFERENCES principal(id),
                    payload TEXT NOT NULL,
                    at_ms BIGINT NOT NULL
                )
                """),
            .only(.sqlite, "INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) SELECT seq, op, kiosk_id, payload, at_ms FROM registry_change_v2"),
            .only(.sqlite, "DROP TABLE registry_change_v2"),
            .only(.sqlite, "CREATE INDEX registry_change_by_time ON registry_change(at_ms)"),

            // Every version of the catalogue staff published; the newest is the one in force.
            """
            CREATE TABLE catalogue_version (
                version BIGINT PRIMARY KEY,
                document TEXT NOT NULL,
                created_at_ms BIGINT NOT NULL,
                created_by TEXT
            )
            """,
            // A kiosk's number is the first part of its tickets and of its token; 0 is the central's own.
            "ALTER TABLE principal ADD COLUMN number BIGINT",
            "UPDATE principal SET number = id WHERE kind = 'kiosk'",
            "CREATE UNIQUE INDEX principal_by_number ON principal(number) WHERE number IS NOT NULL",

            "ALTER TABLE service_request ADD COLUMN ticket TEXT",
            "ALTER TABLE service_request ADD COLUMN kind TEXT NOT NULL DEFAULT 'service' CHECK (kind IN ('service','bundle','callback'))",
            "ALTER TABLE service_request ADD COLUMN phone TEXT",
            "ALTER TABLE service_request ADD COLUMN catalogue_version BIGINT",
            "ALTER TABLE service_request ADD COLUMN scheduled_for TEXT",
            "ALTER TABLE service_request ADD COLUMN reason_code TEXT",
            "ALTER TABLE service_request ADD COLUMN reason_text TEXT",
            "CREATE UNIQUE INDEX service_request_by_ticket ON service_request(ticket) WHERE ticket IS NOT NULL",
            // A holder's requests, and the quota count, by card number.
            "CREATE INDEX service_request_by_card ON service_request(card_number, id)",
            // Appointments made before: the day as written.
            "UPDATE service_request SET scheduled_for = substr(scheduled_at, 1, 10) WHERE scheduled_at IS NOT NULL",
            .code { db, _ in
                // Declines made before: the coordinator's words, in every language.
                for row in try await db.query("SELECT id, status_reason FROM service_request WHERE status = 'declined'", []) {
                    let words = row.optionalText("status_reason") ?? ""
                    let reason = StatusReason.coordinator(words)
                    try await db.execute(
                        "UPDATE service_request SET reason_code = ?, reason_text = ? WHERE id = ?",
                        [.text(reason.code), .text(try RelationalCentralStore.json(reason.text)), .int(try row.int("id"))]
                    )
                }
                // The standard catalogue is version 1, and every kiosk sees it in the feed.
                let catalogue = StandardCatalogue.catalogue
                let document = try RelationalCentralStore.json(catalogue)
                let now = Clock.nowMillis()
                try await db.execute(
                    "INSERT INTO catalogue_version (version, document, created_at_ms, created_by) VALUES (?, ?, ?, ?)",
                    [.int(catalogue.version), .text(document), .int(now), .text("cus-central (the standard catalogue)")]
                )
                guard let seq = try await db.one("UPDATE feed_state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq")?.optionalInt("last_seq") else {
                    throw CentralStoreError.corrupt("the feed_state row is missing")
                }
                try await db.execute(
                    "INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (?, 'catalogue', NULL, ?, ?)",
                    [.int(seq), .text(document), .int(now)]
                )
            },
        ]),
    ]

    /// `statement` in `dialect`.
    static func render(_ statement: String, _ dialect: SQLDialect) -> String {
        let pk = switch dialect {
        case .sqlite: "INTEGER PRIMARY KEY"
        case .postgres: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        }
        return statement.replacingOccurrences(of: "{PK}", with: pk)
    }

    /// Applies the migrations not yet applied, in one transaction; with `last`, only up to that one (for tests of upgrades).
    static func migrate(_ backend: any SQLBackend, through last: String? = nil) async throws {
        try await backend.transaction(.write) { db in
            if backend.dialect == .postgres {
                // Two centrals starting at once must not both migrate.
                try await db.execute("SELECT pg_advisory_xact_lock(4355534301)")
            }
            try await db.execute("CREATE TABLE IF NOT EXISTS schema_migration (id TEXT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)")
            let applied = Set(try await db.query("SELECT id FROM schema_migration", []).compactMap { $0.optionalText("id") })
            let known = Set(migrations.map(\.id))
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw CentralStoreError.unavailable("the database was migrated by a newer cus-central (migration \"\(unknown)\"); install that version")
            }
            let wanted = last.flatMap { id in migrations.firstIndex { $0.id == id }.map { Array(migrations[...$0]) } } ?? migrations
            for migration in wanted where !applied.contains(migration.id) {
                if backend.dialect == .sqlite {
                    try await db.execute("PRAGMA application_id = \(applicationID)")
                }
                for step in migration.statements {
                    switch step {
                    case .sql(let statement):
                        try await db.execute(render(statement, backend.dialect))
                    case .only(let dialect, let statement):
                        if dialect == backend.dialect { try await db.execute(render(statement, dialect)) }
                    case .code(let body):
                        try await body(db, backend.dialect)
                    }
                }
                try await db.execute(
                    "INSERT INTO schema_migration (id, applied_at_ms) VALUES (?, ?)",
                    [.text(migration.id), .int(Clock.nowMillis())]
                )
            }
        }
    }
}
