import BenchmarkSupport
import CardCheck
import CardModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KioskCore
import Logging
import RegistryCSV
import Replica

/// Builds a large replica and measures the check path, the file size and kioskd's memory.
///
/// Environment: `BENCH_CARDS` (default 5000000), `BENCH_DIR` (default /tmp/cus-bench; the
/// replica is reused when it already holds the right number of cards), `BENCH_LOOKUPS`
/// (default 20000 per kind), `BENCH_BIN` (where kioskd is, for the daemon's figures).
enum ReplicaBenchmark {
    static let checks = ["check_uid_hit", "check_uid_miss", "check_number_hit", "check_number_miss", "checkpoint_uid_hit", "checkpoint_number_miss"]

    /// Every figure ``run()`` emits.
    static let figures: [Figure] = [
        Figure("replica_build_time", "s"), Figure("replica_build_rate", "cards/s", largerIsBetter: true),
        Figure("replica_cards", "cards"), Figure("replica_file_size", "MiB"), Figure("replica_bytes_per_card", "B"),
    ] + checks.flatMap { check in ["p50", "p99", "max"].map { Figure("\(check)_\($0)", "us") } } + [
        Figure("kioskd_startup", "s"), Figure("kioskd_integrity_check_done", "s"),
        Figure("kioskd_status_http_p50", "us"), Figure("kioskd_status_http_p99", "us"),
        Figure("kioskd_rss", "MiB"), Figure("kioskd_rss_peak", "MiB"),
    ]

    /// The benchmark's replica of `BENCH_CARDS` cards under `BENCH_DIR`, built on the first run.
    static func replica() throws -> (replica: Replica, path: String, dir: String, cards: Int) {
        let cards = setting("BENCH_CARDS", 5_000_000)
        let dir = ProcessInfo.processInfo.environment["BENCH_DIR"] ?? "/tmp/cus-bench"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/replica-\(cards).sqlite"
        var replica = try Replica(path: path)
        if try replica.stats(detailed: false).cards != cards {
            replica = try build(path: path, cards: cards)
        }
        return (replica, path, dir, cards)
    }

    static func run() async throws {
        let lookups = setting("BENCH_LOOKUPS", 20_000)
        let (replica, path, dir, cards) = try replica()
        let size = ["", "-wal"].compactMap { try? FileManager.default.attributesOfItem(atPath: path + $0)[.size] as? Int }.reduce(0, +)
        emit("replica_cards", Double(cards), "cards")
        emit("replica_file_size", Double(size) / 1_048_576, "MiB")
        emit("replica_bytes_per_card", Double(size) / Double(cards), "B")

        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let checkpoint = Checkpoint(replica: replica, logger: logger)
        let policy = CheckPolicy()
        let today = SystemClock().today()
        var rng = SystemRandomNumberGenerator()

        try warm(replica, cards: cards)

        func measure(_ name: String, _ body: (Int) async throws -> Void) async rethrows {
            var samples: [Double] = []
            samples.reserveCapacity(lookups)
            let clock = ContinuousClock()
            for i in 0..<lookups {
                let t0 = clock.now
                try await body(i)
                let d = clock.now - t0
                samples.append(Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6)
            }
            samples.sort()
            emit("\(name)_p50", samples[samples.count / 2], "us")
            emit("\(name)_p99", samples[Int(Double(samples.count) * 0.99)], "us")
            emit("\(name)_max", samples[samples.count - 1], "us")
        }

        // Hits are the replica's cards 0..<cards, misses the numbers and UIDs after them.
        let byUID: (Int) throws -> CardRecord? = { try replica.card(uid: uid($0)) }
        let byNumber: (Int) throws -> CardRecord? = { try replica.card(number: number($0)) }
        for (name, first, lookup) in [("check_uid_hit", 0, byUID), ("check_uid_miss", cards, byUID),
                                      ("check_number_hit", 0, byNumber), ("check_number_miss", cards, byNumber)] {
            try await measure(name) { _ in
                let r = try lookup(first + Int.random(in: 0..<cards, using: &rng))
                _ = policy.verdict(for: r, presentation: .typed(number(0)), today: today)
            }
        }
        // The whole path a tap takes: lookup, policy, session, recent taps, event fan-out.
        await measure("checkpoint_uid_hit") { _ in
            let u = uid(Int.random(in: 0..<cards, using: &rng))
            await checkpoint.check(.chip(uid: u, technology: .iso14443a, record: nil), source: .tap)
        }
        await measure("checkpoint_number_miss") { _ in
            await checkpoint.check(.typed(number(cards + Int.random(in: 0..<cards, using: &rng))), source: .check)
        }

        let bin = try requireBinaries(["kioskd"])
        try await daemonMemory(kioskd: bin + "/kioskd", replicaDir: dir, replicaPath: path, cards: cards)
    }

    /// Warms the page cache the way a running kiosk's is warm: 2,000 lookups of random chips.
    static func warm(_ replica: Replica, cards: Int) throws {
        for _ in 0..<2000 { _ = try replica.card(uid: uid(Int.random(in: 0..<cards))) }
    }

    static func uid(_ i: Int) -> ChipUID {
        // Multiplying by an odd constant is a bijection mod 2^48: distinct, scattered UIDs.
        let v = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15 & 0xFFFF_FFFF_FFFF
        let bytes: [UInt8] = [0x04] + (0..<6).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
        return (try? ChipUID(bytes: bytes)) ?? { preconditionFailure("7 bytes is a valid UID") }()
    }

    static func number(_ i: Int) -> CardNumber {
        (try? CardNumber(normalising: "B\(String(i + 10_000_000_000))")) ?? { preconditionFailure("valid number") }()
    }

    static func build(path: String, cards: Int) throws -> Replica {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let replica = try Replica(path: path)
        let clock = ContinuousClock()
        let start = clock.now
        let kinds: [(EntitlementKind, FamilyRole?)] = [(.senior60, nil), (.largeFamily, .parent), (.largeFamily, .child), (.disability, nil)]
        let statuses: [CardStatus] = Array(repeating: .active, count: 17) + [.suspended, .revoked, .lost]
        let from = (try? CivilDate(iso: "2022-01-01")) ?? { preconditionFailure() }()
        let until = (try? CivilDate(iso: "2030-09-30")) ?? { preconditionFailure() }()
        let chunk = 50_000
        var i = 0
        while i < cards {
            var rows: [RegistryRow] = []
            rows.reserveCapacity(chunk)
            for j in i..<min(cards, i + chunk) {
                let (kind, role) = kinds[j % kinds.count]
                rows.append(RegistryRow(
                    line: j + 2, cardNumber: number(j), uid: j % 10 == 9 ? nil : uid(j), entitlement: kind, role: role,
                    firstName: "Osoba", lastName: "Testowa", validFrom: from, validUntil: kind == .senior60 || role == .parent ? nil : until,
                    status: statuses[j % statuses.count]
                ))
            }
            let report = try replica.importRegistry(rows)
            guard report.refused.isEmpty else { throw BenchmarkError("rows refused while building: \(report.refused.prefix(3))") }
            i += chunk
            if i % 500_000 == 0 { FileHandle.standardError.write(Data("built \(i) cards\n".utf8)) }
        }
        let seconds = (clock.now - start).seconds
        emit("replica_build_time", seconds, "s")
        emit("replica_build_rate", Double(cards) / seconds, "cards/s")
        return replica
    }

    /// Starts kioskd on the big replica, sends it checks over HTTP, and reads its resident memory.
    static func daemonMemory(kioskd: String, replicaDir: String, replicaPath: String, cards: Int) async throws {
        let state = replicaDir + "/kioskd-state"
        try? FileManager.default.removeItem(atPath: state)
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: state + "/replica.sqlite", withDestinationPath: replicaPath)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: kioskd)
        var env = ProcessInfo.processInfo.environment
        env["KIOSK_STATE_DIR"] = state
        env["KIOSK_HTTP_ADDR"] = "127.0.0.1:0"
        env["KIOSK_NFC_DEVICE"] = "none"
        env["KIOSK_LOG_LEVEL"] = "info"
        p.environment = env
        let logPath = state + "/kioskd.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: logPath)
        let startedAt = ContinuousClock.now
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        var address = ""
        while address.isEmpty {
            guard p.isRunning, ContinuousClock.now - startedAt < .seconds(120) else { throw BenchmarkError("kioskd did not start") }
            address = (try? String(contentsOfFile: state + "/http.addr", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            try await Task.sleep(for: .milliseconds(50))
        }
        emit("kioskd_startup", (ContinuousClock.now - startedAt).seconds, "s")
        // The replica's integrity check runs in the background after the start; the figures below are taken after it.
        while !((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains("replica integrity check passed") {
            guard p.isRunning, ContinuousClock.now - startedAt < .seconds(300) else { throw BenchmarkError("kioskd's integrity check did not pass") }
            try await Task.sleep(for: .milliseconds(20))
        }
        emit("kioskd_integrity_check_done", (ContinuousClock.now - startedAt).seconds, "s")
        guard let url = URL(string: "http://\(address)/api/v1/check") else { return }
        for i in 0..<2000 {
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = Data("{\"number\":\"\(number((i * 7919) % (cards * 2)).value)\"}".utf8)
            _ = try await URLSession.shared.data(for: request)
        }
        // The status page on this replica (it shows the card count, kept by the replica, never counted per call).
        if let statusURL = URL(string: "http://\(address)/api/v1/status") {
            var samples: [Double] = []
            for _ in 0..<1000 {
                let start = ContinuousClock.now
                _ = try await URLSession.shared.data(from: statusURL)
                samples.append((ContinuousClock.now - start).seconds * 1_000_000)
            }
            samples.sort()
            emit("kioskd_status_http_p50", samples[samples.count / 2], "us")
            emit("kioskd_status_http_p99", samples[Int(Double(samples.count) * 0.99)], "us")
        }
        let status = (try? String(contentsOfFile: "/proc/\(p.processIdentifier)/status", encoding: .utf8)) ?? ""
        for (field, metric) in [("VmRSS", "kioskd_rss"), ("VmHWM", "kioskd_rss_peak")] {
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
               let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
                emit(metric, kb / 1024, "MiB")
            }
        }
    }
}
