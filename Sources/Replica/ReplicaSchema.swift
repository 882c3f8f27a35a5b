import GRDB

/// The replica's schema, as a sequence of migrations that only ever go forward.
enum ReplicaSchema {
    /// `PRAGMA application_id` of a replica ("CUSR"): tells it apart from any other SQLite file.
    static let applicationID: Int32 = 0x4355_5352

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1 people, cards, entitlements, sync") { db in
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            // A person is a pseudonymous id and the name shown on screen (first name + initial).
            // No PESEL, no full last name, no address: the check does not need them.
            try db.execute(sql: """
                CREATE TABLE person (
                    id INTEGER PRIMARY KEY,
                    -- the central registry's pseudonymous id, once synced; NULL for CSV imports
                    ref TEXT,
                    display_name TEXT NOT NULL
                );
                CREATE UNIQUE INDEX person_by_ref ON person(ref) WHERE ref IS NOT NULL;

                CREATE TABLE card (
                    id INTEGER PRIMARY KEY,
                    number TEXT NOT NULL,
                    uid BLOB,
                    technology TEXT NOT NULL
                        CHECK (technology IN ('printed','iso14443a','ntag213','ntag215','ntag216','mifare_ultralight')),
                    series TEXT,
                    status TEXT NOT NULL CHECK (status IN ('active','suspended','revoked','lost')),
                    valid_from TEXT,
                    valid_until TEXT,
                    replaced_by INTEGER REFERENCES card(id) ON DELETE SET NULL,
                    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE
                );
                CREATE INDEX card_by_number ON card(number);
                CREATE UNIQUE INDEX card_by_uid ON card(uid) WHERE uid IS NOT NULL;

                CREATE TABLE entitlement (
                    id INTEGER PRIMARY KEY,
                    person_id INTEGER NOT NULL REFERENCES person(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('senior60','large_family','disability','staff')),
                    role TEXT CHECK (role IN ('parent','child')),
                    valid_from TEXT NOT NULL,
                    valid_until TEXT,
                    CHECK ((kind = 'large_family') = (role IS NOT NULL))
                );
                CREATE INDEX entitlement_by_person ON entitlement(person_id);

                CREATE TABLE sync_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    cursor INTEGER,
                    last_sync_at TEXT,
                    last_import_at TEXT
                );
                INSERT INTO sync_state (id) VALUES (1);
                """)
        }
        migrator.registerMigration("v2 card count kept by triggers") { db in
            // `GET /api/v1/status` shows the number of cards; counting 5 M rows on every call is too slow.
            // The count is kept in the replica itself, by triggers, in the same transaction as every insert and
            // delete of a card (import, bootstrap, feed pages, cascades): whatever commits, commits with its count,
            // and a kill -9 at any moment leaves both as they were. Starts from the rows already there.
            try db.execute(sql: """
                CREATE TABLE card_count (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    n INTEGER NOT NULL CHECK (n >= 0)
                );
                INSERT INTO card_count (id, n) SELECT 1, count(*) FROM card;
                """)
            try db.execute(sql: cardCountTriggers)
        }
        migrator.registerMigration("v3 screen preferences") { db in
            // What a holder asked the kiosk to remember at their tap, by card number: the number is already
            // in `card`; the row goes when no card of that number is left, or when the holder says "forget".
            try db.execute(sql: """
                CREATE TABLE preference (
                    number TEXT PRIMARY KEY,
                    lang TEXT NOT NULL CHECK (lang IN ('pl','uk','en')),
                    large_text INTEGER NOT NULL CHECK (large_text IN (0,1)),
                    speech INTEGER NOT NULL CHECK (speech IN (0,1)),
                    saved_at TEXT NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4 indexes for removals") { db in
            // Removing a chip (or a holder) must not read the whole registry: SQLite finds the chips that point at
            // a removed chip (`replaced_by … ON DELETE SET NULL`) and a holder's chips (`ON DELETE CASCADE`, the
            // orphan check) through these; without them every removal scanned every card (about 50 ms at
            // 500,000 cards, half a second at 5 million). A one-time build on an existing replica.
            try db.execute(sql: """
                CREATE INDEX card_by_person ON card(person_id);
                CREATE INDEX card_by_replacement ON card(replaced_by) WHERE replaced_by IS NOT NULL;
                """)
        }
        return migrator
    }

    /// The triggers that keep `card_count` (migration v2). A snapshot load drops them for its own transaction
    /// (a trigger a row on millions of rows) and puts them back with the count it stored.
    static let cardCountTriggers = """
        CREATE TRIGGER card_count_insert AFTER INSERT ON card
        BEGIN UPDATE card_count SET n = n + 1 WHERE id = 1; END;
        CREATE TRIGGER card_count_delete AFTER DELETE ON card
        BEGIN UPDATE card_count SET n = n - 1 WHERE id = 1; END;
        """
}
