import Foundation

/// The central's schema: the same forward-only migrations on SQLite and PostgreSQL.
///
/// Each migration is written once; `{PK}` becomes the dialect's auto-increment primary key.
enum CentralSchema {
    /// `PRAGMA application_id` of a central SQLite file ("CUSC").
    static let applicationID: Int32 = 0x4355_5343

    struct Migration: Sendable {
        var id: String
        var statements: [String]
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
    ]

    /// `statement` in `dialect`.
    static func render(_ statement: String, _ dialect: SQLDialect) -> String {
        let pk = switch dialect {
        case .sqlite: "INTEGER PRIMARY KEY"
        case .postgres: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        }
        return statement.replacingOccurrences(of: "{PK}", with: pk)
    }

    /// Applies the migrations not yet applied, each in its own transaction.
    static func migrate(_ backend: any SQLBackend) async throws {
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
            for migration in migrations where !applied.contains(migration.id) {
                if backend.dialect == .sqlite {
                    try await db.execute("PRAGMA application_id = \(applicationID)")
                }
                for statement in migration.statements {
                    try await db.execute(render(statement, backend.dialect))
                }
                try await db.execute(
                    "INSERT INTO schema_migration (id, applied_at_ms) VALUES (?, ?)",
                    [.text(migration.id), .int(Clock.nowMillis())]
                )
            }
        }
    }
}
