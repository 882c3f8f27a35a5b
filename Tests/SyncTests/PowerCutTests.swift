import Foundation
import GRDB
import KioskTestSupport
import Outbox
import PN532Emulator
import Replica
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Power cuts: `kioskd` is SIGKILLed at random instants — while starting, while cards are tapped on the
/// emulated reader, while residents' requests are taken and while it syncs with a real `cus-central` —
/// again and again on one state directory. Afterwards the databases pass `PRAGMA integrity_check` and
/// every request the kiosk acknowledged (a 201 this test received) is at the central exactly once.
///
/// `KIOSK_POWERCUT_ROUNDS` (default 200) sets the number of cuts, `KIOSK_POWERCUT_SEED` replays a run's
/// random choices (the seed is printed; the instants themselves also depend on the machine's timing).
@Suite("Power cuts", .serialized, .spawnsProcesses)
struct PowerCutTests {
    static let card = EmulatedCard(kind: .iso14443a, uid: "04:A1:10:22:33:44:80")  // SKS-0001 in registryCSV()

    @Test func killedAtRandomInstantsLosesNoAcknowledgedRequestAndCorruptsNothing() async throws {
        let environment = ProcessInfo.processInfo.environment
        let rounds = environment["KIOSK_POWERCUT_ROUNDS"].flatMap { Int($0) } ?? 200
        let seed = environment["KIOSK_POWERCUT_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
        print("power cut: \(rounds) rounds, seed \(seed) (replay with KIOSK_POWERCUT_SEED=\(seed))")
        var rng = SplitMix64(seed: seed)

        let dir = TempDir(prefix: "powercut")
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("powercut-1")
        let staff = try await central.admin(["staff", "add", "powercut-staff"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await central.start()
        defer { central.stop() }
        let emulator = try PN532Emulator(linkPath: dir.file("pn532"))
        emulator.start()
        defer { emulator.stop() }
        let state = dir.file("kiosk")
        let readerEnvironment = ["KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0", "KIOSK_LOG_LEVEL": "notice"]

        // A first, clean start fetches the registry, so typed numbers are known from the first cut on.
        let baseCards: Int
        do {
            let kiosk = try Kiosk(state: state, central: central.url, token: token, extraEnvironment: readerEnvironment)
            try await kiosk.waitUntilListening()
            _ = try await kiosk.syncUntilOK()
            baseCards = try await kiosk.cardCount()
            kiosk.terminate()
        }

        let tally = Tally()
        let began = ContinuousClock.now
        var added = 0
        for round in 0..<rounds {
            // Now and then the registry grows, so that syncs also apply feed pages when the power goes.
            if round % 25 == 0 {
                try await central.importRegistry(bigRegistryCSV(count: 500, prefix: "PC\(round)"))
                added += 500
            }
            try await Self.round(round, rng: &rng, state: state, central: central.url, token: token,
                                 environment: readerEnvironment, emulator: emulator, tally: tally)
        }
        emulator.removeCard()
        let cutTime = ContinuousClock.now - began

        // Power back for good: everything queued reaches the central.
        let kiosk = try Kiosk(state: state, central: central.url, token: token, extraEnvironment: readerEnvironment)
        try await kiosk.waitUntilListening()
        try await eventually("every queued request delivered", timeout: .seconds(180)) {
            _ = try? await kiosk.sync()
            return ((try await kiosk.status())["outbox"] as? [String: Any])?["pending"] as? Int == 0
        }
        #expect(try await kiosk.cardCount() == baseCards + added, "every feed page applied once")
        kiosk.terminate()
        let t = tally.snapshot
        let seconds = Double(cutTime.components.seconds) + Double(cutTime.components.attoseconds) / 1e18
        print("power cut: \(rounds) cuts in \(Int(seconds)) s; \(t.startupCuts) during start-up; \(t.acknowledged.count) requests acknowledged, \(t.taps) taps read, \(t.syncs) syncs completed")

        // The files are sound, read through a connection of their own.
        for file in ["replica.sqlite", "outbox.sqlite"] {
            let db = try DatabaseQueue(path: state + "/" + file)
            let integrity = try await db.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            #expect(integrity == ["ok"], "\(file): \(integrity)")
            try db.close()
        }
        #expect(try Replica(path: state + "/replica.sqlite").consistencyProblems() == [])

        // Every acknowledged request is at the central exactly once, and nothing is there twice.
        let inbox = try await central.allRequests(staffToken: staff)
        let keys = inbox.compactMap { $0["idempotency_key"] as? String }
        let perKey = Dictionary(keys.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(keys.count == inbox.count)
        #expect(perKey.filter { $0.value > 1 }.isEmpty, "requests stored twice: \(perKey.filter { $0.value > 1 }.keys.sorted())")
        let lost = t.acknowledged.subtracting(perKey.keys)
        #expect(lost.isEmpty, "acknowledged but never reached the central: \(lost.sorted())")
        #expect(Set(inbox.compactMap { $0["kiosk_seq"] as? Int }).count == inbox.count, "a kiosk_seq used twice")
        // And the kiosk's outbox agrees: all of it delivered, the same keys as the central's.
        let outbox = try DatabaseQueue(path: state + "/outbox.sqlite")
        let rows = try outbox.read { db in try Row.fetchAll(db, sql: "SELECT idempotency_key, state FROM request") }
        try outbox.close()
        #expect(rows.allSatisfy { $0["state"] as String == "delivered" })
        #expect(Set(rows.map { $0["idempotency_key"] as String }) == Set(keys))
        // The test did what it says: cuts hit taps, intake and sync.
        #expect(t.acknowledged.count > 0 && t.taps > 0 && t.syncs > 0)
    }

    /// One start and one cut.
    static func round(
        _ round: Int, rng: inout SplitMix64, state: String, central: String, token: String,
        environment: [String: String], emulator: PN532Emulator, tally: Tally
    ) async throws {
        // The cut comes at a random instant in the second after the start: a few in a hundred fall before kioskd listens.
        let delay = Duration.milliseconds(Int.random(in: 0...1000, using: &rng))
        let seeds = (0..<3).map { _ in rng.next() }
        let kiosk = try Kiosk(state: state, central: central, token: token, extraEnvironment: environment)
        let pid = kiosk.process.processIdentifier
        let started = ContinuousClock.now
        let cut = Flag()
        let killer = Task {
            try? await Task.sleep(until: started + delay)
            kill(pid, SIGKILL)
            cut.set()
        }
        // Listening yet? Read the address file often: the cut may come at any moment.
        var address: String?
        while !cut.isSet, address == nil {
            if let text = try? String(contentsOfFile: state + "/http.addr", encoding: .utf8), text.hasSuffix("\n") {
                address = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        if let address {
            let base = "http://\(address)/api/v1"
            async let intake: Void = Self.intake(base: base, round: round, seed: seeds[0], cut: cut, tally: tally)
            async let taps: Void = Self.taps(base: base, seed: seeds[1], emulator: emulator, cut: cut, tally: tally)
            async let syncs: Void = Self.syncs(base: base, seed: seeds[2], cut: cut, tally: tally)
            _ = await (intake, taps, syncs)
        } else {
            tally.startupCut()
        }
        await killer.value
        guard await waitForExit(kiosk.process) else {
            throw TestFailure("round \(round): kioskd (pid \(kiosk.process.processIdentifier)) was not seen to end within 60 s of the cut")
        }
        // It died of the cut, not of anything before it.
        guard kiosk.process.terminationReason == .uncaughtSignal, kiosk.process.terminationStatus == SIGKILL else {
            throw TestFailure("round \(round): kioskd exited by itself (\(kiosk.process.terminationStatus)) before the cut: \(kiosk.log.suffix(3000))")
        }
    }

    /// A resident types the card number and requests a service, again and again; every 201 is remembered.
    static func intake(base: String, round: Int, seed: UInt64, cut: Flag, tally: Tally) async {
        var rng = SplitMix64(seed: seed)
        var i = 0
        while !cut.isSet {
            i += 1
            guard let check = try? await http("POST", base + "/check", body: #"{"number":"SKS-0001"}"#, timeout: 5),
                  let session = check.json?["session"] as? String
            else { return }
            let body = #"{"session":"\#(session)","service":"psychologist","details":{"note":"round \#(round), request \#(i)"}}"#
            if let created = try? await http("POST", base + "/requests", body: body, timeout: 5), created.status == 201,
               let id = (created.json?["request"] as? [String: Any])?["id"] as? String {
                tally.acknowledged(id)
            }
            try? await Task.sleep(for: .milliseconds(Int.random(in: 0...40, using: &rng)))
        }
    }

    /// The card is tapped on the emulated reader and taken off; the taps kioskd read are counted.
    static func taps(base: String, seed: UInt64, emulator: PN532Emulator, cut: Flag, tally: Tally) async {
        var rng = SplitMix64(seed: seed)
        var seen = 0
        while !cut.isSet {
            try? emulator.place(card)
            try? await Task.sleep(for: .milliseconds(Int.random(in: 60...200, using: &rng)))
            emulator.removeCard()
            try? await Task.sleep(for: .milliseconds(Int.random(in: 30...100, using: &rng)))
            if let taps = try? await http("GET", base + "/taps?limit=1000", timeout: 5).json?["taps"] as? [[String: Any]] {
                seen = max(seen, taps.filter { $0["type"] as? String == "tap" }.count)
            }
        }
        tally.tapsRead(seen)
    }

    /// Syncs on demand, besides the sync kioskd starts by itself.
    static func syncs(base: String, seed: UInt64, cut: Flag, tally: Tally) async {
        var rng = SplitMix64(seed: seed)
        while !cut.isSet {
            if let r = try? await http("POST", base + "/sync", timeout: 10), r.status == 200 { tally.synced() }
            try? await Task.sleep(for: .milliseconds(Int.random(in: 20...150, using: &rng)))
        }
    }
}

/// A one-way flag shared between the killer and the round's tasks.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// What the rounds did, gathered from their tasks.
final class Tally: Sendable {
    struct Counts {
        var acknowledged: Set<String> = []
        var taps = 0
        var syncs = 0
        var startupCuts = 0
    }

    private let counts = Mutex(Counts())
    var snapshot: Counts { counts.withLock { $0 } }
    func acknowledged(_ id: String) { _ = counts.withLock { $0.acknowledged.insert(id) } }
    func tapsRead(_ n: Int) { counts.withLock { $0.taps += n } }
    func synced() { counts.withLock { $0.syncs += 1 } }
    func startupCut() { counts.withLock { $0.startupCuts += 1 } }
}
