import BenchmarkSupport
import Foundation

/// `cus-central registry import` of a CSV export, side by side with a plain Python `sqlite3` `executemany`
/// of the same rows into the central's schema (holders, cards, entitlements and one feed entry per card,
/// as the import writes them), in one transaction, in the same run; then the same file again (a nightly export
/// with nothing changed).
///
/// Both start from the same freshly migrated database (migrated by `cus-central` itself) and both parse the
/// CSV. Environment: `BENCH_ROWS` (200000), `BENCH_DATABASE` (a `postgres://` URL: the import is also timed
/// into a new schema of it), `BENCH_BIN` (where `cus-central` is).
enum RegistryImportBenchmark {
    /// Every figure ``run()`` emits.
    static let figures: [Figure] = [
        Figure("import_rows", "rows"), Figure("import_sqlite_time", "s"), Figure("import_sqlite_rate", "rows/s", largerIsBetter: true),
        Figure("import_python_sqlite3_time", "s"), Figure("import_python_sqlite3_rate", "rows/s", largerIsBetter: true),
        Figure("import_sqlite_vs_python", "x", largerIsBetter: true),
        Figure("import_postgres_time", "s"), Figure("import_postgres_rate", "rows/s", largerIsBetter: true),
        Figure("import_again_sqlite_time", "s"), Figure("import_again_postgres_time", "s"),
    ]

    static func run() async throws {
        let rows = setting("BENCH_ROWS", 200_000)
        let bin = try requireBinaries(["cus-central"])
        let work = NSTemporaryDirectory() + "cus-import-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }

        // A nightly export: one row per card and entitlement; most cards have a chip.
        let kinds = [("senior60", ""), ("large_family", "parent"), ("large_family", "child"), ("disability", "")]
        var csv = "card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status\n"
        csv.reserveCapacity(rows * 90)
        for i in 0..<rows {
            let (kind, role) = kinds[i % kinds.count]
            let v = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 & 0xFFFF_FFFF_FFFF
            let hex = String(v, radix: 16, uppercase: true)
            let uid = i % 10 == 9 ? "" : "04" + String(repeating: "0", count: 12 - hex.count) + hex
            let until = kind == "senior60" || role == "parent" ? "" : "2030-09-30"
            csv += "IMP\(1_000_000 + i),\(uid),\(kind),\(role),Anna,Kowalska,2024-01-01,\(until),active\n"
        }
        let csvPath = work + "/registry.csv"
        try csv.write(toFile: csvPath, atomically: true, encoding: .utf8)
        emit("import_rows", Double(rows), "rows")

        // The same freshly migrated file for both.
        let fresh = work + "/fresh.db"
        try runChecked(bin + "/cus-central", ["kiosk", "add", "bench", "--database", "sqlite:" + fresh])
        // The file and its WAL (what the migration wrote may not be checkpointed into the file yet).
        for copy in ["swift.db", "python.db"] {
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: fresh + suffix) {
                try FileManager.default.copyItem(atPath: fresh + suffix, toPath: work + "/" + copy + suffix)
            }
        }

        // Each run starts after a sync: with nothing of the run before it still being written out.
        let clock = ContinuousClock()
        func importSeconds(into database: String) throws -> Double {
            sync()
            let start = clock.now
            try runChecked(bin + "/cus-central", ["registry", "import", csvPath, "--database", database])
            return (clock.now - start).seconds
        }
        let swiftSeconds = try importSeconds(into: "sqlite:" + work + "/swift.db")
        emit("import_sqlite_time", swiftSeconds, "s")
        emit("import_sqlite_rate", Double(rows) / swiftSeconds, "rows/s")
        // The same export the next night: nothing changed.
        emit("import_again_sqlite_time", try importSeconds(into: "sqlite:" + work + "/swift.db"), "s")

        let script = work + "/import.py"
        try pythonScript.write(toFile: script, atomically: true, encoding: .utf8)
        sync()
        let python = try runChecked("/usr/bin/python3", [script, csvPath, work + "/python.db"])
        guard let pythonSeconds = Double(python) else { throw BenchmarkError("python3 printed \(python)") }
        emit("import_python_sqlite3_time", pythonSeconds, "s")
        emit("import_python_sqlite3_rate", Double(rows) / pythonSeconds, "rows/s")
        emit("import_sqlite_vs_python", pythonSeconds / swiftSeconds, "x")

        if let url = ProcessInfo.processInfo.environment["BENCH_DATABASE"], url.hasPrefix("postgres") {
            let database = url + (url.contains("?") ? "&" : "?") + "schema=import_\(getpid())"
            try runChecked(bin + "/cus-central", ["kiosk", "add", "bench", "--database", database])
            let seconds = try importSeconds(into: database)
            emit("import_postgres_time", seconds, "s")
            emit("import_postgres_rate", Double(rows) / seconds, "rows/s")
            emit("import_again_postgres_time", try importSeconds(into: database), "s")
        }
    }

    /// The baseline: what the import writes, for new cards, with `executemany` in one transaction.
    static let pythonScript = #"""
        import csv, json, sqlite3, sys, time, uuid
        source, target = sys.argv[1], sys.argv[2]
        t0 = time.perf_counter()
        db = sqlite3.connect(target, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        groups = {}
        with open(source, newline="") as f:
            for row in csv.DictReader(f):
                groups.setdefault(row["card_number"], []).append(row)
        db.execute("BEGIN IMMEDIATE")
        seq = db.execute("SELECT last_seq FROM feed_state WHERE id = 1").fetchone()[0]
        card_id = db.execute("SELECT coalesce(max(id), 0) FROM card").fetchone()[0]
        now = int(time.time() * 1000)
        persons, cards, entitlements, feed = [], [], [], []
        for number, rows in groups.items():
            person = str(uuid.uuid4())
            first = rows[0]
            name = first["first_name"] + " " + first["last_name"][:1] + "."
            persons.append((person, name))
            card_id += 1
            uid = first["uid"] or None
            until = None if any(not r["valid_until"] for r in rows) else max(r["valid_until"] for r in rows)
            since = min(r["valid_from"] for r in rows)
            technology = "iso14443a" if uid else "printed"
            cards.append((card_id, number, uid, technology, None, first["status"], since, until, None, person))
            views = []
            for r in rows:
                entitlements.append((person, r["entitlement"], r["role"] or None, r["valid_from"], r["valid_until"] or None))
                views.append({"kind": r["entitlement"], "role": r["role"] or None, "valid_from": r["valid_from"], "valid_until": r["valid_until"] or None})
            seq += 1
            view = {"number": number, "uid": uid, "technology": technology, "series": None, "status": first["status"],
                    "valid_from": since, "valid_until": until, "replaced_by_uid": None, "person_id": person,
                    "holder_display_name": name, "entitlements": views}
            feed.append((seq, "upsert", None, json.dumps(view, sort_keys=True, separators=(",", ":")), now))
        db.executemany("INSERT INTO person (id, display_name) VALUES (?, ?)", persons)
        db.executemany("INSERT INTO card (id, number, uid, technology, series, status, valid_from, valid_until, replaced_by, person_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cards)
        db.executemany("INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)", entitlements)
        db.executemany("INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (?, ?, ?, ?, ?)", feed)
        db.execute("UPDATE feed_state SET last_seq = ? WHERE id = 1", (seq,))
        db.execute("COMMIT")
        db.close()
        print(time.perf_counter() - t0)
        """#
}
