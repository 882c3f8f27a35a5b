import BenchmarkSupport
import CardModel
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Outbox
import Sync
import Synchronization

/// A fleet of kiosks against one real `cus-central serve`, each simulated kiosk using the kiosk's own
/// HTTP client (`HTTPCentralClient`) on a connection of its own:
///
/// - every kiosk polls the change feed every `BENCH_POLL_SECONDS` (30), from a random first moment, and
///   follows the pages to the feed's head;
/// - every 10 s a burst: `BENCH_BURST_KIOSKS` (100) kiosks each send a batch of 3 requests at once;
/// - a few kiosks bootstrap the whole registry during the run (`BENCH_BOOTSTRAPS`, 3);
/// - a coordinator suspends and reactivates a card every second through the staff API, so polls find changes.
///
/// Environment: `BENCH_KIOSKS` (1000), `BENCH_CARDS` (20000, the registry), `BENCH_SECONDS` (120),
/// `BENCH_DATABASE` (a `postgres://` URL: the run uses a new schema of its own in it; default a new SQLite file),
/// `BENCH_BIN` (where `cus-central` is).
enum FleetBenchmark {
    /// Every figure ``run()`` emits.
    static let figures: [Figure] = [
        Figure("fleet_kiosks", "kiosks"), Figure("fleet_cards", "cards"), Figure("fleet_seconds", "s"),
        Figure("fleet_requests", "requests", largerIsBetter: true), Figure("fleet_errors", "requests"),
        Figure("fleet_all_calls_p50", "ms"), Figure("fleet_all_calls_p99", "ms"), Figure("fleet_all_calls_max", "ms"),
    ] + ["poll", "submit", "staff"].flatMap { kind in
        [Figure("fleet_\(kind)_calls", "requests", largerIsBetter: true)]
            + ["p50", "p99", "max"].map { Figure("fleet_\(kind)_\($0)", "ms") }
    } + [Figure("fleet_bootstraps", "kiosks"), Figure("fleet_bootstrap_max", "s"), Figure("fleet_changes_delivered", "changes", largerIsBetter: true)]

    /// Latencies by kind of call, and the calls that failed.
    final class Tally: Sendable {
        let samples = Mutex<[String: [Double]]>([:])
        let errors = Mutex<[String]>([])
        let changes = Mutex(0)

        func time<T>(_ kind: String, _ body: () async throws -> T) async -> T? {
            let start = ContinuousClock.now
            do {
                let value = try await body()
                let ms = (ContinuousClock.now - start).seconds * 1000
                samples.withLock { $0[kind, default: []].append(ms) }
                return value
            } catch {
                errors.withLock { $0.append("\(kind): \(error)") }
                return nil
            }
        }
    }

    static func run() async throws {
        let kiosks = setting("BENCH_KIOSKS", 1000)
        let cards = setting("BENCH_CARDS", 20_000)
        let seconds = setting("BENCH_SECONDS", 120)
        let pollSeconds = setting("BENCH_POLL_SECONDS", 30)
        let burstKiosks = min(kiosks, setting("BENCH_BURST_KIOSKS", 100))
        let bootstraps = min(kiosks, setting("BENCH_BOOTSTRAPS", 3))
        let bin = try requireBinaries(["cus-central"])
        let work = NSTemporaryDirectory() + "cus-fleet-\(getpid())"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let database: String
        if let url = ProcessInfo.processInfo.environment["BENCH_DATABASE"], url.hasPrefix("postgres") {
            database = url + (url.contains("?") ? "&" : "?") + "schema=fleet_\(getpid())"
        } else {
            database = "sqlite:\(work)/central.db"
        }
        let central = Central(bin: bin, database: database)

        // The registry, the kiosks' tokens and a coordinator's.
        var csv = "card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status\n"
        for i in 0..<cards { csv += "\(number(i)),,senior60,,Anna,Kowalska,2024-01-01,,active\n" }
        try csv.write(toFile: work + "/cards.csv", atomically: true, encoding: .utf8)
        try central.cli(["registry", "import", work + "/cards.csv"])
        let clock = ContinuousClock()
        let enrolStart = clock.now
        let tokens = try await withThrowingTaskGroup(of: [String].self) { group in
            // Two enrolment processes at a time (one per core).
            for lane in 0..<2 {
                group.addTask {
                    try stride(from: lane, to: kiosks, by: 2).map { try central.cli(["kiosk", "add", "fleet-\($0)"]) }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let staffToken = try central.cli(["staff", "add", "fleet-coordinator"])
        FileHandle.standardError.write(Data("fleet: \(kiosks) kiosks enrolled in \(Int((clock.now - enrolStart).seconds)) s\n".utf8))

        // The requests the bursts send, from a kiosk's own outbox.
        let outbox = try Outbox(path: work + "/outbox.sqlite")
        let bursts = max(1, seconds / 10)
        var batches: [[OutboxItem]] = []
        for b in 0..<(bursts * burstKiosks) {
            var batch: [OutboxItem] = []
            for r in 0..<3 {
                batch.append(try await outbox.enqueue(service: "home_care", cardNumber: number((b * 3 + r) % cards), detailsJSON: #"{"note":"fleet"}"#))
            }
            batches.append(batch)
        }

        let (server, url) = try await serveCentral(bin: bin, database: database, addressFile: work + "/address", within: .seconds(60))
        defer { server.terminate(); server.waitUntilExit() }
        let clients = try tokens.map { try HTTPCentralClient(url: url, token: $0, caFile: nil) }
        defer { for client in clients { Task { await client.shutdown() } } }

        // Every kiosk starts at the feed's head (current kiosks, as after a night of polls).
        var head: Int64 = 0
        while true {
            let page = try await clients[0].changes(after: head, limit: 1000)
            head = page.nextAfter
            if !page.hasMore { break }
        }

        let tally = Tally()
        let (start, requestBatches) = (head, batches)
        let end = clock.now + .seconds(seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in clients {
                group.addTask {
                    var cursor = start
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0..<(pollSeconds * 1000))))
                    while clock.now < end {
                        let next = clock.now + .seconds(pollSeconds)
                        var more = true
                        while more {
                            guard let page = await tally.time("poll", { try await client.changes(after: cursor, limit: 500) }) else { break }
                            cursor = page.nextAfter
                            more = page.hasMore
                            tally.changes.withLock { $0 += page.count }
                        }
                        try await Task.sleep(until: next)
                    }
                }
            }
            // Request bursts: kiosks coming back online with their outboxes at once.
            group.addTask {
                for b in 0..<bursts {
                    try await Task.sleep(until: end - .seconds(seconds) + .seconds(10 * b + 5))
                    await withTaskGroup(of: Void.self) { burst in
                        for (i, k) in (0..<kiosks).shuffled().prefix(burstKiosks).enumerated() {
                            let batch = requestBatches[b * burstKiosks + i]
                            burst.addTask { _ = await tally.time("submit", { try await clients[k].submit(batch) }) }
                        }
                    }
                }
            }
            // A few kiosks bootstrap the whole registry.
            group.addTask {
                for n in 0..<bootstraps {
                    try await Task.sleep(until: end - .seconds(seconds) + .seconds(seconds * (n + 1) / (bootstraps + 1)))
                    let client = clients[Int.random(in: 0..<kiosks)]
                    _ = await tally.time("bootstrap", { try await client.snapshot(batchSize: 1000) { _, _ in } })
                }
            }
            // A coordinator at work: the feed gets a change every second.
            group.addTask {
                var i = 0
                while clock.now < end {
                    let action = i % 2 == 0 ? "suspend" : "reactivate"
                    let card = number((i / 2 * 7919) % cards)
                    _ = await tally.time("staff", { try await staffCall(url: url, token: staffToken, path: "/v1/staff/cards/\(card)/\(action)") })
                    i += 1
                    try await Task.sleep(for: .seconds(1))
                }
            }
            try await group.waitForAll()
        }

        let samples = tally.samples.withLock { $0 }
        let errors = tally.errors.withLock { $0 }
        emit("fleet_kiosks", Double(kiosks), "kiosks")
        emit("fleet_cards", Double(cards), "cards")
        emit("fleet_seconds", Double(seconds), "s")
        let calls = ["poll", "submit", "staff"].flatMap { samples[$0] ?? [] }
        emit("fleet_requests", Double(calls.count + (samples["bootstrap"]?.count ?? 0)), "requests")
        emit("fleet_errors", Double(errors.count), "requests")
        report("fleet_all_calls", calls, count: false)
        for kind in ["poll", "submit", "staff"] { report("fleet_\(kind)", samples[kind] ?? [], count: true) }
        emit("fleet_bootstraps", Double(samples["bootstrap"]?.count ?? 0), "kiosks")
        emit("fleet_bootstrap_max", (samples["bootstrap"]?.max() ?? .nan) / 1000, "s")
        emit("fleet_changes_delivered", Double(tally.changes.withLock { $0 }), "changes")
        for error in errors.prefix(5) { FileHandle.standardError.write(Data("fleet: failed call: \(error)\n".utf8)) }
    }

    static func report(_ name: String, _ samples: [Double], count: Bool) {
        if count { emit("\(name)_calls", Double(samples.count), "requests") }
        guard !samples.isEmpty else { return }
        let sorted = samples.sorted()
        emit("\(name)_p50", sorted[sorted.count / 2], "ms")
        emit("\(name)_p99", sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))], "ms")
        emit("\(name)_max", sorted[sorted.count - 1], "ms")
    }

    static func number(_ i: Int) -> String { "FLT" + String(100_000 + i) }

    static func staffCall(url: String, token: String, path: String) async throws {
        guard let target = URL(string: url + path) else { throw BenchmarkError("bad URL \(url + path)") }
        var request = URLRequest(url: target)
        request.httpMethod = "POST"
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (_, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else { throw BenchmarkError("HTTP \(status) for POST \(path)") }
    }
}

/// The `cus-central` binary on one database.
struct Central: Sendable {
    let bin: String
    let database: String

    /// Runs an admin command; its standard output (a token, for `add`).
    @discardableResult
    func cli(_ arguments: [String]) throws -> String {
        try runChecked(bin + "/cus-central", arguments + ["--database", database])
    }
}
