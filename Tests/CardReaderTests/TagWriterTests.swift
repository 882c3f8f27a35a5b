import CardModel
import CardReader
import Foundation
import PN532Emulator
import Synchronization
import KioskTestSupport
import Testing

@Suite("TagWriter through libnfc and the PN532 emulator", .serialized, .spawnsProcesses)
struct TagWriterTests {
    static let uid = "04112233445566"

    private func writer(_ bench: Bench, tagWait: Duration = .seconds(3)) -> TagWriter {
        TagWriter(connstring: bench.connstring, lockDirectory: bench.directory, logger: bench.logger, tagWait: tagWait)
    }

    @Test("writes pages from page 4, verified, and the card's memory shows them")
    func writesPages() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid))
        let ndef = textNDEF(length: 21)
        let data = [0x03, UInt8(ndef.count)] + ndef + [0xFE]  // 31 bytes: 8 pages, the last padded
        #expect(data.count == 31)

        let written = try await writer(bench).write(userMemory: data)

        #expect(written == WrittenTag(uid: try ChipUID(hex: Self.uid), technology: .ntag213, pagesWritten: 8, locked: false))
        let memory = try #require(bench.emulator.cardMemory())
        #expect(Array(memory[16..<47]) == data)
        #expect(memory[47] == 0, "padded with zeros")
        #expect(memory[10] == 0 && memory[11] == 0, "not locked")
        #expect(!bench.logs.all.contains { $0.uppercased().contains(Self.uid) })
    }

    @Test("with lock, sets the static and dynamic lock bits after writing")
    func writesAndLocks() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag215, uid: Self.uid))
        let data: [UInt8] = [0x03, 0x03, 0xD0, 0x00, 0x00, 0xFE]

        let written = try await writer(bench).write(userMemory: data, lock: true)

        #expect(written.locked)
        #expect(written.technology == .ntag215)
        let memory = try #require(bench.emulator.cardMemory())
        #expect(Array(memory[16..<22]) == data)
        #expect(memory[10] == 0xFF && memory[11] == 0xFF, "static lock bytes")
        #expect(Array(memory[0x82 * 4..<0x82 * 4 + 3]) == [0xFF, 0xFF, 0xFF], "dynamic lock bytes")

        // Locked now: a second write is refused before touching the tag.
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [1, 2, 3, 4])
        }
        #expect(error?.code == .alreadyLocked)
        #expect(Array(try #require(bench.emulator.cardMemory())[16..<22]) == data)
    }

    @Test("refuses a tag that is already locked")
    func refusesLockedTag() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag216, uid: Self.uid, locked: true))
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [1, 2, 3, 4])
        }
        #expect(error?.code == .alreadyLocked)
    }

    @Test("refuses data larger than the tag")
    func refusesTooSmallTag() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid))
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [UInt8](repeating: 0x41, count: 145))
        }
        #expect(error?.code == .tooSmall)
        #expect(error?.message.contains("144") == true)
        // 144 bytes fit exactly.
        let written = try await writer(bench).write(userMemory: [UInt8](repeating: 0x41, count: 144))
        #expect(written.pagesWritten == 36)
    }

    @Test("refuses chips that are not NTAG21x", arguments: [
        EmulatedCard(kind: .ultralight, uid: "04AABBCCDDEEFF"),
        EmulatedCard(kind: .iso14443a, uid: "A1B2C3D4"),
    ])
    func refusesOtherChips(card: EmulatedCard) async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(card)
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [1, 2, 3, 4])
        }
        #expect(error?.code == .notNTAG)
    }

    @Test("no tag on the reader")
    func noTag() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench, tagWait: .milliseconds(300)).write(userMemory: [1, 2, 3, 4])
        }
        #expect(error?.code == .noTag)
    }

    @Test("a tag that leaves before the first page is written: write failed")
    func tagLeavesBeforeWriting() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag215, uid: Self.uid))
        // The writer reads page 2 and the dynamic lock page before writing: the card leaves
        // after those two READs, so the first WRITE gets no answer.
        bench.emulator.inject(.tearAfterReads(2))
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [UInt8](repeating: 0x42, count: 40))
        }
        #expect(error?.code == .writeFailed)
    }

    @Test("a tag pulled mid-write is reported torn, with how far it got")
    func tornWrite() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid))
        // The card leaves the field once five pages are written: deterministic, whatever the machine's load.
        bench.emulator.inject(.tearAfterWrites(5))
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [UInt8](repeating: 0x42, count: 144))
        }
        #expect(error?.code == .torn)
        #expect(error?.message.contains("of 36 pages") == true)
    }

    @Test("the writer cannot use a reader a reader loop holds")
    func writerRespectsLock() async throws {
        let bench = try Bench()
        defer { bench.close() }
        let running = RunningReader(NFCReader(configuration: bench.configuration(), interpreter: RecordingInterpreter(), logger: bench.logger))
        #expect(await eventually { running.reader.health.state == .ready })
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write(userMemory: [1, 2, 3, 4])
        }
        #expect(error?.code == .deviceInUse)
        await running.stop()
    }

    @Test("the bytes can depend on the tag: the builder gets its UID and type, and can refuse it")
    func contentBuiltForTheTag() async throws {
        let bench = try Bench()
        defer { bench.close() }
        try bench.emulator.place(EmulatedCard(kind: .ntag216, uid: Self.uid))
        let seen = RecordingBuilder()

        let written = try await writer(bench).write(lock: false) { uid, technology in
            seen.record(uid, technology)
            return uid.bytes  // 7 bytes: two pages, the second padded
        }

        #expect(seen.calls == [try ChipUID(hex: Self.uid)].map { "\($0.hex) \(CardTechnology.ntag216.rawValue)" })
        #expect(written.pagesWritten == 2)
        let memory = try #require(bench.emulator.cardMemory())
        #expect(Array(memory[16..<24]) == (try ChipUID(hex: Self.uid)).bytes + [0])

        // A builder that refuses the tag: its error comes back and nothing is written.
        try bench.emulator.place(EmulatedCard(kind: .ntag213, uid: Self.uid))
        let before = bench.emulator.cardMemory()
        let error = await #expect(throws: TagWriteError.self) {
            try await writer(bench).write { _, technology throws(TagWriteError) in
                throw TagWriteError(code: .tooSmall, message: "no room on a \(technology.rawValue)")
            }
        }
        #expect(error == TagWriteError(code: .tooSmall, message: "no room on a ntag213"))
        #expect(bench.emulator.cardMemory() == before)
    }
}

/// Remembers what a content builder was called with.
final class RecordingBuilder: Sendable {
    private let seen = Mutex<[String]>([])

    func record(_ uid: ChipUID, _ technology: CardTechnology) {
        seen.withLock { $0.append("\(uid.hex) \(technology.rawValue)") }
    }

    var calls: [String] { seen.withLock { $0 } }
}
