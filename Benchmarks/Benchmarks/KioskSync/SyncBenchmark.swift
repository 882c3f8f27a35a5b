import BenchmarkSupport
import CardModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import KioskCore
import Logging
import Outbox
import Replica
import Sync
import Synchronization

/// Measures the kiosk's sync paths against a real `cus-central` on 127.0.0.1.
///
/// 1. Snapshot bootstrap: `kioskd` (a real process, empty state dir) bootstraps N cards from `cus-central serve`
///    (gzip NDJSON over HTTP → replica on disk), timed until its status shows the sync done; then a second
///    kioskd the same way, which gets the snapshot the central kept from the first; side by side with
///    a plain Python `sqlite3` `executemany` of the same rows (the same NDJSON, decompressed to a file) into
///    the replica's schema, in one transaction. kioskd's resident memory is sampled during the bootstrap.
/// 2. A 10,000-change delta applied to that replica, in feed pages of 500.
/// 3. 10,000 queued requests drained from an outbox to the central.
///
/// Environment: `BENCH_CARDS` (default 5000000), `BENCH_DIR` (default /tmp/cus-bench; the central's registry
/// and the NDJSON are kept there between runs), `BENCH_BIN` (where `kioskd` and `cus-central` are; default:
/// the root package's .build/release), `BENCH_TIMEOUT` (seconds, default 1800: the whole run stops by itself after it),
/// `BENCH_ONLY=delta` (the delta alone, again, on the replica the last full run left; `BENCH_ROUNDS` times, default 1).
enum SyncBenchmark {
    /// Every figure ``run()`` emits.
    static let figures: [Figure] = [
        Figure("central_registry_build_time", "s"),
        Figure("bootstrap_cards", "cards"), Figure("bootstrap_swift_time", "s"),
        Figure("bootstrap_kioskd_rss_peak_sampled", "MiB"), Figure("bootstrap_kioskd_rss_hwm", "MiB"),
        Figure("bootstrap_download_size", "MiB"), Figure("bootstrap_plain_ndjson_size", "MiB"),
        Figure("bootstrap_swift_rate", "cards/s", largerIsBetter: true),
        Figure("bootstrap_python_sqlite3_time", "s"), Figure("bootstrap_python_sqlite3_rate", "cards/s", largerIsBetter: true),
        Figure("bootstrap_swift_vs_python", "x", largerIsBetter: true),
        Figure("bootstrap_kept_snapshot_time", "s"), Figure("bootstrap_kept_snapshot_kioskd_rss_hwm", "MiB"),
        Figure("bootstrap_kept_snapshot_vs_python", "x", largerIsBetter: true),
        Figure("delta_10000_apply_time", "s"), Figure("delta_apply_rate", "changes/s", largerIsBetter: true),
        Figure("delta_wal_fold_after_time", "s"), Figure("delta_10000_with_fold_time", "s"), Figure("delta_1000_removals_time", "s"),
        Figure("outbox_10000_drain_time", "s"), Figure("outbox_drain_rate", "requests/s", largerIsBetter: true),
        Figure("outbox_delivered", "requests", largerIsBetter: true), Figure("outbox_quarantined", "requests"),
        Figure("outbox_left_pending", "requests"),
    ]

    static func run() async throws {
        let env = ProcessInfo.processInfo.environment
        let cards = setting("BENCH_CARDS", 5_000_000)
        let dir = env["BENCH_DIR"] ?? "/tmp/cus-bench"
        let limit = Double(env["BENCH_TIMEOUT"] ?? "") ?? 1800
        let bin = try requireBinaries(["kioskd", "cus-central"])
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Bounded in time: whatever happens, the run ends.
        let watchdog = Thread {
            Thread.sleep(forTimeInterval: limit)
            FileHandle.standardError.write(Data("SyncBenchmark: time limit of \(Int(limit)) s reached; stopping\n".utf8))
            Children.killAll()
            exit(2)
        }
        watchdog.start()

        // BENCH_ONLY=delta: the delta alone, again, on the replica the last full run bootstrapped (each round
        // writes other values, so nothing is skipped as unchanged).
        if env["BENCH_ONLY"] == "delta" {
            let replica = try Replica(path: dir + "/kioskd-sync-state/replica.sqlite")
            let last = Int((try? String(contentsOfFile: dir + "/delta-round", encoding: .utf8)) ?? "") ?? 0
            for round in last + 1...last + max(1, setting("BENCH_ROUNDS", 1)) {
                try await deltaApply(replica: replica, cards: cards, round: round, dir: dir)
            }
            return
        }

        let central = try await Central.start(bin: bin, dir: dir, cards: cards)
        defer { central.stop() }

        // 1. Bootstrap, kioskd end to end.
        let state = dir + "/kioskd-sync-state"
        let token = try central.enrol()
        let first = try await bootstrapKioskd(bin: bin, state: state, central: central.url, token: token, cards: cards)
        let swiftSeconds = first.seconds
        emit("bootstrap_cards", Double(cards), "cards")
        emit("bootstrap_swift_time", swiftSeconds, "s")
        emit("bootstrap_kioskd_rss_peak_sampled", first.peakSampled, "MiB")
        emit("bootstrap_kioskd_rss_hwm", first.hwm, "MiB")
        // 1a. A second kiosk right after: the central sends the snapshot it kept from the first one.
        let second = dir + "/kioskd-sync-state-2"
        let kept = try await bootstrapKioskd(bin: bin, state: second, central: central.url, token: try central.enrol(), cards: cards)
        try? FileManager.default.removeItem(atPath: second)
        emit("bootstrap_kept_snapshot_time", kept.seconds, "s")
        emit("bootstrap_kept_snapshot_kioskd_rss_hwm", kept.hwm, "MiB")

        // 1b. The same rows through Python's sqlite3.
        let ndjson = try central.plainSnapshot(token: token)
        emit("bootstrap_download_size", Double(try central.snapshotDownloadBytes(token: token)) / 1_048_576, "MiB")
        emit("bootstrap_plain_ndjson_size", Double((try FileManager.default.attributesOfItem(atPath: ndjson)[.size] as? Int) ?? 0) / 1_048_576, "MiB")
        let pySeconds = try pythonInsert(ndjson: ndjson, dir: dir)
        emit("bootstrap_swift_rate", Double(cards) / swiftSeconds, "cards/s")
        emit("bootstrap_python_sqlite3_time", pySeconds, "s")
        emit("bootstrap_python_sqlite3_rate", Double(cards) / pySeconds, "cards/s")
        emit("bootstrap_swift_vs_python", pySeconds / swiftSeconds, "x")
        emit("bootstrap_kept_snapshot_vs_python", pySeconds / kept.seconds, "x")

        // 2. A 10,000-change delta on the bootstrapped replica.
        let replica = try Replica(path: state + "/replica.sqlite")
        try await deltaApply(replica: replica, cards: cards, round: 0, dir: dir)

        // 3. Drain 10,000 requests to the central.
        try await outboxDrain(replica: replica, dir: dir, central: central.url, token: central.enrol())
        Children.killAll()
    }

    // MARK: 1. Bootstrap

    /// What one kioskd bootstrap took: seconds to its first successful sync, and memory in MiB.
    struct Bootstrap {
        var seconds: Double
        var peakSampled: Double
        var hwm: Double
    }

    /// Bootstraps a kioskd from an empty state directory `state` (made anew) and checks it stored every card.
    static func bootstrapKioskd(bin: String, state: String, central: String, token: String, cards: Int) async throws -> Bootstrap {
        try? FileManager.default.removeItem(atPath: state)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/kioskd")
        var env = ProcessInfo.processInfo.environment
        env["KIOSK_STATE_DIR"] = state
        env["KIOSK_HTTP_ADDR"] = "127.0.0.1:0"
        env["KIOSK_NFC_DEVICE"] = "none"
        env["KIOSK_LOG_LEVEL"] = "error"
        env["KIOSK_CENTRAL_URL"] = central
        env["KIOSK_CENTRAL_TOKEN"] = token
        p.environment = env
        p.standardError = FileHandle(forWritingAtPath: state + ".log") ?? {
            _ = FileManager.default.createFile(atPath: state + ".log", contents: nil)
            return FileHandle(forWritingAtPath: state + ".log") ?? FileHandle.nullDevice
        }()
        p.standardOutput = FileHandle.nullDevice
        let clock = ContinuousClock()
        let start = clock.now
        try p.run()
        Children.add(p)
        var address = ""
        var peakSampled = 0.0
        var done = false
        while !done {
            guard p.isRunning else { throw BenchmarkError("kioskd exited; see \(state).log") }
            try await Task.sleep(for: .milliseconds(100))
            peakSampled = max(peakSampled, memory(p.processIdentifier, "VmRSS"))
            if address.isEmpty {
                address = (try? String(contentsOfFile: state + "/http.addr", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                continue
            }
            guard let url = URL(string: "http://\(address)/api/v1/status"),
                  let (data, _) = try? await URLSession.shared.data(from: url),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let c = json["central"] as? [String: Any]
            else { continue }
            done = c["last_successful_sync"] != nil && !(c["last_successful_sync"] is NSNull)
        }
        let seconds = (clock.now - start).seconds
        let hwm = memory(p.processIdentifier, "VmHWM")
        p.terminate()
        p.waitUntilExit()
        let stored = try Replica(path: state + "/replica.sqlite").stats(detailed: false)
        guard stored.cards == cards else { throw BenchmarkError("kioskd's replica has \(stored.cards) cards, expected \(cards)") }
        return Bootstrap(seconds: seconds, peakSampled: peakSampled, hwm: hwm)
    }

    /// A /proc/PID/status field in MiB.
    static func memory(_ pid: Int32, _ field: String) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }

    static func pythonInsert(ndjson: String, dir: String) throws -> Double {
        let target = dir + "/python-replica.sqlite"
        let schemaFile = dir + "/replica-schema.sql"
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + s) }
        // The replica's own schema and indexes, from a fresh replica.
        let empty = dir + "/schema-replica.sqlite"
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: empty + s) }
        let schema = try DatabaseQueue(path: { _ = try Replica(path: empty); return empty }()).read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'grdb%' ORDER BY rowid")
        }
        try (schema.joined(separator: ";\n") + ";\n").write(toFile: schemaFile, atomically: true, encoding: .utf8)
        let script = dir + "/python-insert.py"
        try pythonScript.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try runTool("/usr/bin/python3", [script, ndjson, target, schemaFile])
        guard r.status == 0, let seconds = Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchmarkError("python3 failed: \(r.stderr.suffix(1000))")
        }
        return seconds
    }

    static let pythonScript = #"""
        import json, sqlite3, sys, time
        ndjson, target, schema = sys.argv[1], sys.argv[2], sys.argv[3]
        t0 = time.perf_counter()
        db = sqlite3.connect(target, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(open(schema).read())
        persons = {}
        def rows(f):
            for line in f:
                yield json.loads(line)
        db.execute("BEGIN")
        with open(ndjson, "rb") as f:
            header = json.loads(f.readline())
            batch_p, batch_c, batch_e = [], [], []
            def flush():
                db.executemany("INSERT INTO person (id, ref, display_name) VALUES (?, ?, ?)", batch_p)
                db.executemany("INSERT INTO card (number, uid, technology, series, status, valid_from, valid_until, person_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch_c)
                db.executemany("INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)", batch_e)
                batch_p.clear(); batch_c.clear(); batch_e.clear()
            n = 0
            for c in rows(f):
                pid = persons.get(c["person_id"])
                if pid is None:
                    pid = len(persons) + 1
                    persons[c["person_id"]] = pid
                    batch_p.append((pid, c["person_id"], c["holder_display_name"]))
                    for e in c["entitlements"]:
                        batch_e.append((pid, e["kind"], e.get("role"), e["valid_from"], e.get("valid_until")))
                uid = bytes.fromhex(c["uid"].replace(":", "")) if c.get("uid") else None
                batch_c.append((c["number"], uid, c["technology"], c.get("series"), c["status"], c.get("valid_from"), c.get("valid_until"), pid))
                n += 1
                if len(batch_c) >= 10000:
                    flush()
            flush()
        db.execute("UPDATE sync_state SET cursor = ? WHERE id = 1", (header["seq"],))
        db.execute("COMMIT")
        db.close()
        assert n == header["cards"], (n, header["cards"])
        print(time.perf_counter() - t0)
        """#

    // MARK: 2. Delta

    /// Round `round` of the delta: every change differs from what the round before it wrote (status and holder name
    /// alternate), so nothing is skipped as unchanged; the round is kept in `dir/delta-round` for the next run.
    static func deltaApply(replica: Replica, cards: Int, round: Int, dir: String) async throws {
        let from = try CivilDate(iso: "2022-01-01")
        var changes: [SyncedChange] = []
        for k in 0..<10_000 {
            let i = (k &* 7919 &+ 13) % cards
            let card = SyncedCard(
                number: Central.number(i), uid: Central.hasChip(i) ? Central.uid(i) : nil,
                technology: Central.hasChip(i) ? .ntag215 : .printed, series: nil, status: (k + round) % 2 == 0 ? .suspended : .active,
                validFrom: nil, validUntil: nil, replacedByUID: nil, holderDisplayName: "Osoba \(round % 2 == 0 ? "D" : "E").",
                personRef: Central.personRef(i),
                entitlements: [Entitlement(kind: .senior60, role: nil, validFrom: from, validUntil: nil)]
            )
            changes.append(.upsert(card))
        }
        let cursor = try replica.syncCursor() ?? 0
        let clock = ContinuousClock()
        let start = clock.now
        // The cursor stays the central's head: the outbox sync that follows must not find it ahead of the central.
        for page in stride(from: 0, to: changes.count, by: 500) {
            try await replica.applyChanges(Array(changes[page..<min(page + 500, changes.count)]), cursor: cursor)
        }
        let seconds = (clock.now - start).seconds
        emit("delta_10000_apply_time", seconds, "s")
        emit("delta_apply_rate", 10_000 / seconds, "changes/s")
        // What the sync does after the new cursor: the WAL the pages left, copied into the file.
        let foldStart = clock.now
        await replica.foldWAL()
        emit("delta_wal_fold_after_time", (clock.now - foldStart).seconds, "s")
        emit("delta_10000_with_fold_time", (clock.now - start).seconds, "s")
        try String(round).write(toFile: dir + "/delta-round", atomically: true, encoding: .utf8)

        // Chips the central withdrew (a removal takes the holder with it when it was their last card).
        var removals: [SyncedChange] = []
        for k in 0..<1_000 {
            let i = (k &* 104_729 &+ 7) % cards
            removals.append(.remove(SyncedCard(
                number: Central.number(i), uid: Central.hasChip(i) ? Central.uid(i) : nil,
                technology: Central.hasChip(i) ? .ntag215 : .printed, series: nil, status: .revoked,
                validFrom: nil, validUntil: nil, replacedByUID: nil, holderDisplayName: "Osoba D.", personRef: Central.personRef(i),
                entitlements: []
            )))
        }
        let removeStart = clock.now
        for page in stride(from: 0, to: removals.count, by: 500) {
            try await replica.applyChanges(Array(removals[page..<min(page + 500, removals.count)]), cursor: cursor)
        }
        let removeSeconds = (clock.now - removeStart).seconds
        emit("delta_1000_removals_time", removeSeconds, "s")
    }

    // MARK: 3. Outbox

    static func outboxDrain(replica: Replica, dir: String, central: String, token: String) async throws {
        let path = dir + "/outbox-bench.sqlite"
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
        let outbox = try Outbox(path: path)
        for i in 0..<10_000 {
            _ = try await outbox.enqueue(service: "home_care", cardNumber: Central.number(i).value, detailsJSON: #"{"note":"bench"}"#)
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let client = try HTTPCentralClient(url: central, token: token, caFile: nil)
        let engine = SyncEngine(replica: replica, outbox: outbox, catalog: ServiceCatalog(), central: client, url: central, logger: logger)
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = await engine.syncNow()
        let seconds = (clock.now - start).seconds
        await client.shutdown()
        guard outcome.ok else { throw BenchmarkError("the outbox sync failed: \(outcome.error ?? "?")") }
        emit("outbox_10000_drain_time", seconds, "s")
        emit("outbox_drain_rate", 10_000 / seconds, "requests/s")
        emit("outbox_delivered", Double(outcome.requestsDelivered), "requests")
        emit("outbox_quarantined", Double(outcome.requestsQuarantined), "requests")
        emit("outbox_left_pending", Double(try await outbox.counts().pending), "requests")
    }
}

/// A `cus-central serve` on 127.0.0.1 with an N-card registry, prepared once and kept under BENCH_DIR.
struct Central {
    let bin: String
    let database: String
    let dir: String
    let cards: Int
    let process: Process
    let url: String

    static func start(bin: String, dir: String, cards: Int) async throws -> Central {
        let path = dir + "/central-\(cards).db"
        if !FileManager.default.fileExists(atPath: path) { try build(bin: bin, path: path, cards: cards) }
        let (p, url) = try await serveCentral(
            bin: bin, database: "sqlite:" + path, addressFile: dir + "/central.addr", within: .seconds(120), started: Children.add
        )
        return Central(bin: bin, database: "sqlite:" + path, dir: dir, cards: cards, process: p, url: url)
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    /// A new kiosk token (a new kiosk each time).
    func enrol() throws -> String {
        let r = try runTool(bin + "/cus-central", ["kiosk", "add", "bench-\(UUID().uuidString.prefix(8).lowercased())", "--database", database])
        guard r.status == 0 else { throw BenchmarkError("cus-central kiosk add: \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The central's snapshot, downloaded and decompressed to a file (kept between runs).
    func plainSnapshot(token: String) throws -> String {
        let file = dir + "/snapshot-\(cards).ndjson"
        if FileManager.default.fileExists(atPath: file) { return file }
        let r = try runTool("/bin/sh", ["-c", "curl -sf -H \"Authorization: Bearer $TOKEN\" \"$URL/v1/registry/snapshot\" | gzip -dc > \"$OUT.tmp\" && mv \"$OUT.tmp\" \"$OUT\""],
                        environment: ["TOKEN": token, "URL": url, "OUT": file])
        guard r.status == 0 else { throw BenchmarkError("downloading the snapshot failed: \(r.stderr)") }
        return file
    }

    /// The bytes a kiosk downloads for the snapshot (gzip NDJSON, as the central sends it).
    func snapshotDownloadBytes(token: String) throws -> Int {
        let r = try runTool("/bin/sh", ["-c", "curl -sf -H \"Authorization: Bearer $TOKEN\" -o /dev/null -w '%{size_download}' \"$URL/v1/registry/snapshot\""],
                        environment: ["TOKEN": token, "URL": url])
        guard r.status == 0, let bytes = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BenchmarkError("downloading the snapshot failed: \(r.stderr)")
        }
        return bytes
    }

    // MARK: The registry

    static func number(_ i: Int) -> CardNumber {
        (try? CardNumber(normalising: "B\(String(i + 10_000_000_000))")) ?? { preconditionFailure("valid number") }()
    }

    static func hasChip(_ i: Int) -> Bool { i % 10 != 9 }

    static func uid(_ i: Int) -> ChipUID {
        let v = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 & 0xFFFF_FFFF_FFFF
        let bytes: [UInt8] = [0x04] + (0..<6).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
        return (try? ChipUID(bytes: bytes)) ?? { preconditionFailure("7 bytes is a valid UID") }()
    }

    /// A scattered, UUID-shaped pseudonymous id, as the central makes them.
    static func personRef(_ i: Int) -> String {
        let v = UInt64(truncatingIfNeeded: i) &* 0xBF58_476D_1CE4_E5B9 & 0xFFFF_FFFF_FFFF
        let hex = String(v, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// Migrations through `cus-central` itself (it migrates a new file when it enrols a kiosk), then batched inserts
    /// with the secondary indexes dropped and re-created from the migrations' own SQL.
    static func build(bin: String, path: String, cards: Int) throws {
        let tmp = path + ".building"
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: tmp + s) }
        let r = try runTool(bin + "/cus-central", ["kiosk", "add", "bench-setup", "--database", "sqlite:" + tmp])
        guard r.status == 0 else { throw BenchmarkError("cus-central could not create its database: \(r.stderr)") }
        let clock = ContinuousClock()
        let start = clock.now
        let queue = try DatabaseQueue(path: tmp)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA cache_size = -262144")
            let indexes = try Row.fetchAll(db, sql: """
                SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('person','card','entitlement')
                """)
            try db.inTransaction {
                for index in indexes { try db.execute(sql: "DROP INDEX \(index["name"] as String)") }
                let kinds: [(String, String?)] = [("senior60", nil), ("large_family", "parent"), ("large_family", "child"), ("disability", nil)]
                let statuses = Array(repeating: "active", count: 17) + ["suspended", "revoked", "lost"]
                let person = try db.makeStatement(sql: "INSERT INTO person (id, display_name) VALUES (?, 'Osoba T.')")
                let card = try db.makeStatement(sql: """
                    INSERT INTO card (id, number, uid, technology, series, status, valid_from, valid_until, person_id)
                    VALUES (?, ?, ?, ?, NULL, ?, '2022-01-01', NULL, ?)
                    """)
                let entitlement = try db.makeStatement(sql: """
                    INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, '2022-01-01', ?)
                    """)
                for i in 0..<cards {
                    let ref = personRef(i)
                    let (kind, role) = kinds[i % kinds.count]
                    try person.execute(arguments: [ref])
                    try card.execute(arguments: [
                        i + 1, number(i).value, hasChip(i) ? uid(i).hex : nil, hasChip(i) ? "ntag215" : "printed",
                        statuses[i % statuses.count], ref,
                    ])
                    try entitlement.execute(arguments: [ref, kind, role, kind == "senior60" || role == "parent" ? nil : "2030-09-30"])
                    if i % 1_000_000 == 999_999 { FileHandle.standardError.write(Data("central registry: \(i + 1) cards\n".utf8)) }
                }
                for index in indexes { try db.execute(sql: index["sql"] as String) }
                try db.execute(sql: "UPDATE feed_state SET last_seq = 1 WHERE id = 1")
                return .commit
            }
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        try queue.close()
        for s in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: tmp + s) }
        try FileManager.default.moveItem(atPath: tmp, toPath: path)
        emit("central_registry_build_time", (clock.now - start).seconds, "s")
    }
}

/// Child processes, ended when the run ends or its time runs out.
enum Children {
    static let pids = Mutex<[Int32]>([])
    static func add(_ p: Process) { pids.withLock { $0.append(p.processIdentifier) } }
    static func killAll() { pids.withLock { for pid in $0 { kill(pid, SIGKILL) } } }
}

/// Runs `program` to its end; the process is ended with the others if the run's time runs out.
func runTool(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Finished {
    try runProgram(program, arguments, environment: environment, started: Children.add)
}
