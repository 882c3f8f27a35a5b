import BenchmarkSupport
import CardFormat
import CardModel
import CardReader
import CNFC
import Foundation
import KioskCore
import Logging
import PN532Emulator
import Replica
import Synchronization

/// Tap → verdict latency of the kiosk's reader path, side by side with a minimal libnfc program
/// reading the same card from the same emulated PN532 in the same run.
///
/// Each tap: wait a random 50–450 ms, place the card, time until (kiosk) the verdict event is
/// published, or (baseline) the card's NDEF pages are read; remove the card.
/// Environment: `BENCH_TAPS` (1000), `BENCH_LATENCY_MS` (per-command emulator latency, 5).
enum TapBenchmark {
    /// Every figure ``run()`` emits.
    static let figures: [Figure] = [
        Figure("emulator_command_latency", "ms"), Figure("taps", "taps"),
        Figure("baseline_libnfc_samples", "taps"), Figure("kiosk_tap_to_verdict_samples", "taps"),
    ] + ["baseline_libnfc", "kiosk_tap_to_verdict"].flatMap { name in
        ["p50", "p99", "mean"].map { Figure("\(name)_\($0)", "us") }
    } + ["ratio_p50", "ratio_p99", "ratio_mean"].map { Figure($0, "x") }

    static func run() async throws {
        let taps = setting("BENCH_TAPS", 1000)
        let latency = setting("BENCH_LATENCY_MS", 5)
        setenv("LIBNFC_LOG_LEVEL", "0", 1)
        let dir = NSTemporaryDirectory() + "cus-tapbench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // One signed NTAG215 card, as issued.
        let key = CardSigningKey.generate(keyID: 1)
        let uid = try ChipUID(hex: "04112233445566")
        let content = CardRecordContent(number: try CardNumber(normalising: "KDR-7001-2026"), entitlements: [.largeFamily], role: .child, validUntil: try CivilDate(iso: "2034-09-30"))
        let message = try CardRecordEncoder.ndefMessage(for: content, uid: uid, key: key)
        let card = EmulatedCard(kind: .ntag215, uid: uid.hex, ndef: message.map { String(format: "%02X", $0) }.joined())
        let userBytes = try CardRecordEncoder.userMemory(for: content, uid: uid, key: key, tag: .ntag215).count
        let pagesToRead = (userBytes + 3) / 4

        let emulator = try PN532Emulator(linkPath: dir + "/pn532")
        emulator.commandLatency = .milliseconds(latency)
        emulator.start()
        defer { emulator.stop() }

        let baseline = try await measureBaseline(emulator: emulator, card: card, pages: pagesToRead, taps: taps)
        let kiosk = try await measureKiosk(emulator: emulator, card: card, keys: TrustedKeys([key]), dir: dir, taps: taps)

        emit("emulator_command_latency", Double(latency), "ms")
        emit("taps", Double(taps), "taps")
        emit("baseline_libnfc_samples", Double(baseline.count), "taps")
        emit("kiosk_tap_to_verdict_samples", Double(kiosk.count), "taps")
        for (name, samples) in [("baseline_libnfc", baseline), ("kiosk_tap_to_verdict", kiosk)] {
            emit("\(name)_p50", percentile(samples, 0.5) * 1000, "us")
            emit("\(name)_p99", percentile(samples, 0.99) * 1000, "us")
            emit("\(name)_mean", samples.reduce(0, +) / Double(samples.count) * 1000, "us")
        }
        emit("ratio_p50", percentile(kiosk, 0.5) / percentile(baseline, 0.5), "x")
        emit("ratio_p99", percentile(kiosk, 0.99) / percentile(baseline, 0.99), "x")
        emit("ratio_mean", (kiosk.reduce(0, +) / Double(kiosk.count)) / (baseline.reduce(0, +) / Double(baseline.count)), "x")
    }

    /// A minimal libnfc client: infinite select, then FAST_READ of the card's NDEF pages.
    static func measureBaseline(emulator: PN532Emulator, card: EmulatedCard, pages: Int, taps: Int) async throws -> [Double] {
        let shared = Shared()
        let thread = Thread {
            defer { shared.finished.withLock { $0 = true } }
            var context: OpaquePointer?
            nfc_init(&context)
            guard let context, let device = nfc_open(context, emulator.connstring) else { return }
            defer { nfc_close(device); nfc_exit(context) }
            _ = nfc_initiator_init(device)
            _ = nfc_device_set_property_bool(device, NP_INFINITE_SELECT, true)
            var target = nfc_target()
            let modulation = cnfc_iso14443a_106()
            var answer = [UInt8](repeating: 0, count: 4 * pages + 8)
            let command: [UInt8] = [0x3A, 4, UInt8(3 + pages)]
            // Until the driver is done (a tap the client missed must not keep it polling the
            // emulator while the kiosk is measured).
            while !shared.stop.withLock({ $0 }) && shared.done.withLock({ $0.count }) < taps {
                guard nfc_initiator_select_passive_target(device, modulation, nil, 0, &target) > 0 else { continue }
                let n = command.withUnsafeBufferPointer { tx in
                    answer.withUnsafeMutableBufferPointer { rx in
                        nfc_initiator_transceive_bytes(device, tx.baseAddress, tx.count, rx.baseAddress, rx.count, 500)
                    }
                }
                let end = ContinuousClock.now
                if n >= 4 * pages, let start = shared.placedAt.withLock({ p in defer { p = nil }; return p }) {
                    shared.done.withLock { $0.append(ms(end - start)) }
                }
                // Wait until the card is gone, as a real client would.
                while nfc_initiator_target_is_present(device, nil) == 0 { usleep(5_000) }
            }
        }
        thread.start()
        try await Task.sleep(for: .milliseconds(300))
        try await drive(emulator: emulator, card: card, taps: taps, shared: shared) { shared.done.withLock { $0.count } }
        // Stop the client and wait until it has closed the device before the kiosk opens it.
        shared.stop.withLock { $0 = true }
        // A client that missed a tap is back in its endless select: a card it can read lets it see the stop.
        var waited = 0
        while !shared.finished.withLock({ $0 }) {
            try await Task.sleep(for: .milliseconds(20))
            waited += 1
            if waited % 50 == 0 {
                try emulator.place(card)
                try await Task.sleep(for: .milliseconds(200))
                emulator.removeCard()
            }
        }
        return shared.done.withLock { $0 }
    }

    /// The kiosk's own path: NFCReader → CardFormat → Checkpoint → verdict published.
    static func measureKiosk(emulator: PN532Emulator, card: EmulatedCard, keys: TrustedKeys, dir: String, taps: Int) async throws -> [Double] {
        var logger = Logger(label: "tapbench")
        logger.logLevel = .critical
        let replica = try Replica(path: dir + "/replica.sqlite")
        let checkpoint = Checkpoint(replica: replica, logger: logger)
        let reader = NFCReader(
            configuration: ReaderConfiguration(connstring: emulator.connstring, lockDirectory: dir),
            interpreter: Interpreter(verifier: CardRecordVerifier(trustedKeys: keys)), logger: logger
        )
        let shared = Shared()
        let events = checkpoint.events.subscribe()
        let collector = Task {
            for await case .check(let event) in events where event.type == .tap {
                let end = ContinuousClock.now
                if event.verdict == .valid, let start = shared.placedAt.withLock({ p in defer { p = nil }; return p }) {
                    shared.done.withLock { $0.append(ms(end - start)) }
                }
            }
        }
        let running = Task { try await reader.run { await checkpoint.check($0, source: .tap) } }
        while reader.health.state != .ready { try await Task.sleep(for: .milliseconds(20)) }
        try await drive(emulator: emulator, card: card, taps: taps, shared: shared) { shared.done.withLock { $0.count } }
        running.cancel()
        collector.cancel()
        return shared.done.withLock { $0 }
    }

    /// Places the card at random moments, waits for each tap to be counted, removes it.
    static func drive(
        emulator: PN532Emulator, card: EmulatedCard, taps: Int, shared: Shared,
        counted: () -> Int
    ) async throws {
        var rng = SystemRandomNumberGenerator()
        for i in 0..<taps {
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...450, using: &rng)))
            shared.placedAt.withLock { $0 = ContinuousClock.now }
            try emulator.place(card)
            let deadline = ContinuousClock.now + .seconds(5)
            while counted() <= i && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            emulator.removeCard()
            try await Task.sleep(for: .milliseconds(150))
        }
    }

    /// What the tap driver and the measuring side share.
    final class Shared: Sendable {
        let placedAt = Mutex<ContinuousClock.Instant?>(nil)
        let done = Mutex<[Double]>([])
        /// The driver is done: the baseline client stops.
        let stop = Mutex(false)
        /// The baseline client has closed the device.
        let finished = Mutex(false)
    }

    struct Interpreter: CardInterpreter {
        let verifier: CardRecordVerifier
        func interpret(uid: ChipUID, technology: CardTechnology, userMemory: [UInt8]) -> Presentation {
            verifier.presentation(userMemory: userMemory, uid: uid, technology: technology)
        }
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

    static func percentile(_ samples: [Double], _ p: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }
}
