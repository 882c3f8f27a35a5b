import CardModel
import CardReader
import Foundation
import PN532Emulator
import Synchronization
import KioskTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The reader loop through the real libnfc and the PN532 emulator. Serialized: every test
/// measures time on a shared 2-core machine, and the margins assume it is not also running
/// the other tests' readers.
@Suite("NFCReader through libnfc and the PN532 emulator", .serialized, .spawnsProcesses)
struct NFCReaderTests {
    static let uid = "04A1B2C3D4E5F6"

    @Test("a tap delivers one presentation, read only as far as the NDEF TLV")
    func tapDeliversOnePresentation() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let interpreter = RecordingInterpreter()
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: interpreter, logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        let ndef = textNDEF(length: 30)
        try bench.emulator.place(EmulatedCard(kind: .ntag215, uid: Self.uid, ndef: hex(ndef)))
        #expect(await eventually { running.taps.count == 1 })
        try await Task.sleep(for: .milliseconds(500))
        await running.stop()

        let expectedUID = try ChipUID(hex: Self.uid)
        #expect(running.taps.all == [.chip(uid: expectedUID, technology: .ntag215, record: nil)])
        let call = try #require(interpreter.calls.first)
        #expect(call.technology == .ntag215)
        let tlv = [0x03, UInt8(ndef.count)] + ndef
        #expect(call.userMemory.starts(with: tlv))
        #expect(call.userMemory.count % 4 == 0)
        #expect(call.userMemory.count < tlv.count + 4, "reads only the pages the TLV needs")
        // No full UID in any log line; the masked one is there.
        #expect(!bench.logs.all.contains { $0.uppercased().contains(Self.uid) })
        #expect(bench.logs.all.contains { $0.contains(expectedUID.masked) })
    }

    @Test("a card held on the reader is one tap; removed and presented again it is a second")
    func heldCardIsOneTapAndRepresentIsTwo() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        let card = EmulatedCard(kind: .ntag213, uid: Self.uid, ndef: hex(textNDEF(length: 10)))
        try bench.emulator.place(card)
        #expect(await eventually { running.taps.count == 1 })
        try await Task.sleep(for: .milliseconds(1200))
        #expect(running.taps.count == 1, "held card tapped again")

        bench.emulator.removeCard()
        try await Task.sleep(for: .milliseconds(500))
        #expect(running.taps.count == 1)
        try bench.emulator.place(card)
        #expect(await eventually { running.taps.count == 2 })
        try await Task.sleep(for: .milliseconds(500))
        #expect(running.taps.count == 2)
        await running.stop()
    }

    @Test("UID-only and Ultralight chips are told apart")
    func chipTypes() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let interpreter = RecordingInterpreter()
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: interpreter, logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        try bench.emulator.place(EmulatedCard(kind: .iso14443a, uid: "A1B2C3D4"))
        #expect(await eventually { running.taps.count == 1 })
        bench.emulator.removeCard()
        try await Task.sleep(for: .milliseconds(400))
        try bench.emulator.place(EmulatedCard(kind: .ultralight, uid: Self.uid, ndef: hex(textNDEF(length: 8))))
        #expect(await eventually { running.taps.count == 2 })
        await running.stop()

        #expect(running.taps.all == [
            .chip(uid: try ChipUID(hex: "A1B2C3D4"), technology: .iso14443a, record: nil),
            .chip(uid: try ChipUID(hex: Self.uid), technology: .ultralight, record: nil),
        ])
        #expect(interpreter.calls.map(\.technology) == [.ultralight], "a UID-only chip is not interpreted")
    }

    @Test("an NTAG21x is read in one command when its TLV fits in 144 bytes, in two when longer; named by its CC")
    func ntagReadInFewestCommands() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let interpreter = CountingInterpreter(emulator: bench.emulator)
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: interpreter, logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        // 129 bytes of TLV, as large as a CUS record gets on an NTAG213: one FAST_READ, no GET_VERSION.
        let short = textNDEF(length: 120)
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid, ndef: hex(short)))
        #expect(await eventually { running.taps.count == 1 })
        bench.emulator.removeCard()
        try await Task.sleep(for: .milliseconds(400))
        // 211 bytes of TLV on an NTAG216: the speculative read and one more FAST_READ.
        let readsBefore = bench.emulator.status().counters.reads
        let long = textNDEF(length: 200)
        try bench.emulator.place(EmulatedCard(kind: .ntag216, uid: Self.uid, ndef: hex(long)))
        #expect(await eventually { running.taps.count == 2 })
        await running.stop()

        let seen = interpreter.seen
        try #require(seen.count == 2)
        #expect(seen[0].technology == .ntag213)
        #expect(seen[0].reads == 1, "one FAST_READ for the whole tap")
        #expect(seen[0].selects == 1, "never selected again")
        let shortTLV = [0x03, UInt8(short.count)] + short
        #expect(seen[0].userMemory.starts(with: shortTLV))
        #expect(seen[0].userMemory.count < shortTLV.count + 4, "only the pages the TLV needs reach the interpreter")
        #expect(seen[1].technology == .ntag216)
        #expect(seen[1].reads - readsBefore == 2)
        let longTLV = [0x03, UInt8(long.count)] + long
        #expect(seen[1].userMemory.starts(with: longTLV))
        #expect(seen[1].userMemory.count < longTLV.count + 4)
    }

    @Test("a first-generation Ultralight (no FAST_READ, no GET_VERSION) is selected again after each refusal and read")
    func ultralightEV0() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let interpreter = RecordingInterpreter()
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: interpreter, logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        // The emulator's 7-byte-UID iso14443a card is an MF0ICU1: 16 pages, NAKs FAST_READ and GET_VERSION.
        let ndef = textNDEF(length: 20)
        try bench.emulator.place(EmulatedCard(kind: .iso14443a, uid: Self.uid, ndef: hex(ndef)))
        #expect(await eventually { running.taps.count == 1 })
        try await Task.sleep(for: .milliseconds(300))
        await running.stop()

        #expect(running.taps.all == [.chip(uid: try ChipUID(hex: Self.uid), technology: .ultralight, record: nil)])
        let call = try #require(interpreter.calls.first)
        #expect(call.userMemory.starts(with: [0x03, UInt8(ndef.count)] + ndef))
        #expect(running.reader.health.state != .error)
    }

    @Test("a card pulled mid-read is unreadable, never a verdict on partial data")
    func tornReadIsUnreadable() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let interpreter = RecordingInterpreter()
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: interpreter, logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        // 200 bytes of NDEF need more than the first read (CC + 144 bytes); the card leaves after it.
        bench.emulator.inject(.tearAfterReads(1))
        try bench.emulator.place(EmulatedCard(kind: .ntag215, uid: Self.uid, ndef: hex(textNDEF(length: 200))))
        #expect(await eventually { running.taps.count == 1 })
        try await Task.sleep(for: .milliseconds(300))
        await running.stop()

        #expect(running.taps.all == [.unreadable(technology: .ntag215)])
        #expect(interpreter.calls.isEmpty)
    }

    @Test("after a garbage frame the loop recovers and reads the next tap", arguments: [EmulatorFault.garbageFrame, .badChecksum])
    func recoversFromCorruptFrame(fault: EmulatorFault) async throws {
        let bench = try Bench()
        defer { bench.close() }
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        bench.emulator.inject(fault)
        try await Task.sleep(for: .milliseconds(300))
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid, ndef: hex(textNDEF(length: 40))))
        #expect(await eventually { running.taps.count == 1 })
        // The fault hit a select or the read; either way the tap is complete.
        #expect(running.taps.all == [.chip(uid: try ChipUID(hex: Self.uid), technology: .ntag213, record: nil)])
        #expect(bench.emulator.status().counters.faultsInjected == 1)
        #expect(running.reader.health.state == .ready)
        await running.stop()
    }

    @Test("a corrupt frame during the read itself still gives one complete tap")
    func corruptFrameMidRead() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })

        // Slow every answer so the fault lands inside the read with high probability.
        bench.emulator.commandLatency = .milliseconds(15)
        try bench.emulator.place(EmulatedCard(kind: .ntag216, uid: Self.uid, ndef: hex(textNDEF(length: 200))))
        try await Task.sleep(for: .milliseconds(40))
        bench.emulator.inject(.garbageFrame)
        #expect(await eventually { running.taps.count == 1 })
        try await Task.sleep(for: .milliseconds(300))
        #expect(running.taps.count == 1)
        let tap = try #require(running.taps.all.first)
        #expect(tap == .chip(uid: try ChipUID(hex: Self.uid), technology: .ntag216, record: nil) || tap == .unreadable(technology: .ntag216))
        await running.stop()
    }

    @Test("a vanished reader is reported and is ready again within 2 s of returning")
    func vanishAndReturn() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let reader = NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger)
        let running = RunningReader(reader)
        #expect(await eventually { reader.health.state == .ready })

        let changes = reader.healthChanges()
        let gone = Duration.milliseconds(1500)
        bench.emulator.inject(.vanish(milliseconds: 1500))
        let injected = ContinuousClock.now
        #expect(await eventually(within: .seconds(2)) { [.absent, .error].contains(reader.health.state) })
        #expect(reader.health.lastError != nil)
        // Back: the device returns at injected + 1.5 s; ready within 2 s of that (+ 1.5 s margin for a loaded box).
        #expect(await eventually(within: .seconds(5)) { reader.health.state == .ready })
        let back = ContinuousClock.now - injected
        #expect(back < gone + .seconds(2) + .milliseconds(1500), "ready again after \(back)")
        #expect(back > gone - .milliseconds(100), "cannot be ready while the device is gone (\(back))")

        var seen: [ReaderState] = []
        for await health in changes {
            seen.append(health.state)
            if seen.count > 1, health.state == .ready { break }
        }
        #expect(seen.first == .ready)
        #expect(seen.contains { $0 == .absent || $0 == .error })

        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid, ndef: hex(textNDEF(length: 5))))
        #expect(await eventually { running.taps.count == 1 })
        await running.stop()
    }

    @Test("a silent reader cannot hang the loop: reported as error, ready once it answers again")
    func silentReader() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let reader = NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger)
        let running = RunningReader(reader)
        #expect(await eventually { reader.health.state == .ready })

        bench.emulator.inject(.silent(milliseconds: 2500))
        #expect(await eventually(within: .seconds(2.5)) { reader.health.state == .error })
        #expect(await eventually(within: .seconds(6)) { reader.health.state == .ready })
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid, ndef: hex(textNDEF(length: 5))))
        #expect(await eventually { running.taps.count == 1 })
        let stopTook = await running.stop()
        #expect(stopTook < .seconds(2))
    }

    @Test("a second reader on the same device is refused with a lock error naming the holder")
    func secondReaderIsRefused() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let first = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { first.reader.health.state == .ready })

        let second = NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger)
        let error = await #expect(throws: ReaderError.self) {
            try await second.run { _ in }
        }
        #expect(error?.code == .deviceInUse)
        #expect(error?.message.contains("already used by process \(getpid())") == true)
        #expect(error?.message.contains(bench.connstring) == true)
        #expect(first.reader.health.state == .ready, "the first reader is not disturbed")

        // Once the first stops, the device is free again.
        await first.stop()
        let third = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { third.reader.health.state == .ready })
        await third.stop()
        #expect(await third.task.value == nil)
    }

    @Test("cancelling run closes the device and returns within a second")
    func cancellationIsPrompt() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid))
        #expect(await eventually { running.taps.count == 1 })
        let took = await running.stop()
        #expect(took < .milliseconds(1000), "run returned after \(took)")
        #expect(running.reader.health.state != .ready)
    }

    @Test("a reader that is not there is absent, and ready once it appears")
    func absentUntilPluggedIn() async throws {
        _ = quietLibnfc
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cardreader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/reader"
        let reader = NFCReader(
            configuration: ReaderConfiguration(connstring: "pn532_uart:" + link, lockDirectory: dir),
            interpreter: RecordingInterpreter(), logger: Bench.quietLogger)
        let running = RunningReader(reader)
        #expect(await eventually(within: .seconds(2)) { reader.health.state == .absent && reader.health.lastError != nil })

        let emulator = try PN532Emulator(linkPath: link)
        emulator.start()
        defer { emulator.stop() }
        let plugged = ContinuousClock.now
        #expect(await eventually(within: .seconds(4)) { reader.health.state == .ready })
        #expect(ContinuousClock.now - plugged < .seconds(3.5))
        await running.stop()
    }

    @Test("the watchdog aborts a libnfc call that makes no progress, and the loop carries on")
    func watchdogRestartsStalledCall() async throws {
        let bench = try Bench()
        defer { bench.close() }
        // A watchdog shorter than a select on a silent reader (~300 ms) makes every such select a stall.
        var configuration = bench.configuration()
        configuration.watchdogTimeout = .milliseconds(150)
        let reader = NFCReader(configuration: configuration, interpreter: RecordingInterpreter(), logger: bench.logger)
        let running = RunningReader(reader)
        #expect(await eventually { reader.health.state == .ready })

        bench.emulator.inject(.silent(milliseconds: 1200))
        #expect(await eventually(within: .seconds(3)) { reader.health.lastError?.contains("made no progress") == true })
        #expect(bench.logs.all.contains { $0.contains("made no progress") })
        #expect(await eventually(within: .seconds(6)) { reader.health.state == .ready })
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid, ndef: hex(textNDEF(length: 5))))
        #expect(await eventually { running.taps.count == 1 })
        await running.stop()
    }

    @Test("with no connstring and no reader to be found, the reader is absent and keeps looking")
    func noReaderFound() async throws {
        _ = quietLibnfc
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cardreader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reader = NFCReader(
            configuration: ReaderConfiguration(connstring: nil, lockDirectory: dir),
            interpreter: RecordingInterpreter(), logger: Bench.quietLogger)
        let running = RunningReader(reader)
        #expect(await eventually(within: .seconds(3)) { reader.health.lastError?.contains("no NFC reader found") == true })
        #expect(reader.health.state == .absent)
        #expect(reader.health.device == nil)
        let took = await running.stop()
        #expect(took < .seconds(1.5))
    }
}

/// Remembers, for each tap, what it was given and the emulator's counters at that moment (the
/// interpreter runs on the reader thread right after the read, before any presence check).
final class CountingInterpreter: CardInterpreter {
    struct Seen: Sendable {
        var technology: CardTechnology
        var userMemory: [UInt8]
        var reads: Int
        var selects: Int
    }

    let emulator: PN532Emulator
    private let recorded = Mutex<[Seen]>([])

    init(emulator: PN532Emulator) { self.emulator = emulator }

    var seen: [Seen] { recorded.withLock { $0 } }

    func interpret(uid: ChipUID, technology: CardTechnology, userMemory: [UInt8]) -> Presentation {
        let counters = emulator.status().counters
        recorded.withLock { $0.append(Seen(technology: technology, userMemory: userMemory, reads: counters.reads, selects: counters.selects)) }
        return .chip(uid: uid, technology: technology, record: nil)
    }
}
