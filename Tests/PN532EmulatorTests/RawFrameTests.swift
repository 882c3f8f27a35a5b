import Foundation
import Glibc
import PN532Emulator
import KioskTestSupport
import Testing

/// Talks PN532 frames to the emulator directly through its pseudo-terminal, without libnfc.
struct RawLine {
    let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
        var settings = termios()
        tcgetattr(fd, &settings)
        cfmakeraw(&settings)
        tcsetattr(fd, TCSANOW, &settings)
    }

    func close() { _ = Glibc.close(fd) }

    /// Sends a host command frame (TFI D4 added here).
    func send(_ command: [UInt8]) {
        let body: [UInt8] = [0xD4] + command
        let length = UInt8(body.count)
        let dcs = 0 &- body.reduce(0, &+)
        let frame: [UInt8] = [0x00, 0x00, 0xFF, length, 0 &- length] + body + [dcs, 0x00]
        _ = frame.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    /// Reads exactly `count` bytes, or fewer if nothing arrives for `timeoutMilliseconds`.
    func read(_ count: Int, timeoutMilliseconds: Int32 = 10_000) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while bytes.count < count {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, timeoutMilliseconds) > 0 else { break }
            let got = Glibc.read(fd, &buffer, count - bytes.count)
            guard got > 0 else { break }
            bytes += buffer[0..<got]
        }
        return bytes
    }
}

@Suite(.spawnsProcesses) struct RawFrameTests {
    static let ack: [UInt8] = [0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00]
    static let firmwareAnswer: [UInt8] = [0x00, 0x00, 0xFF, 0x06, 0xFA, 0xD5, 0x03, 0x32, 0x01, 0x06, 0x07, 0xE8, 0x00]

    @Test func wakeUpNoiseThenFirmwareVersion() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        let line = try RawLine(path: emulator.devicePath)
        defer { line.close() }

        _ = [UInt8]([0x55, 0x55, 0x00, 0x00, 0x00, 0x00]).withUnsafeBytes { write(line.fd, $0.baseAddress, $0.count) }
        line.send([0x02])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(13) == Self.firmwareAnswer)
    }

    @Test func badChecksumThenGarbageThenClean() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        let line = try RawLine(path: emulator.devicePath)
        defer { line.close() }

        emulator.inject(.badChecksum)
        line.send([0x02])
        #expect(line.read(6) == Self.ack)
        let corrupted = line.read(13)
        #expect(corrupted.count == 13)
        #expect(corrupted != Self.firmwareAnswer)
        #expect(Array(corrupted[0..<11]) == Array(Self.firmwareAnswer[0..<11]))

        emulator.inject(.garbageFrame)
        line.send([0x02])
        #expect(line.read(6) == Self.ack)
        let garbage = line.read(13)
        #expect(garbage.count == 13)
        #expect(garbage.first != 0x00)

        line.send([0x02])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(13) == Self.firmwareAnswer)
    }

    @Test func infiniteSelectAnswersWhenTheCardArrives() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        let line = try RawLine(path: emulator.devicePath)
        defer { line.close() }

        // Default MxRtyPassiveActivation is 0xFF: InListPassiveTarget waits for a card.
        line.send([0x4A, 0x01, 0x00])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(1, timeoutMilliseconds: 200).isEmpty)
        try emulator.place(EmulatedCard(kind: .ntag213, uid: "04112233445566"))
        let answer = line.read(22)
        #expect(Array(answer.prefix(7)) == [0x00, 0x00, 0xFF, 0x0F, 0xF1, 0xD5, 0x4B])
        #expect(Array(answer.dropFirst(7).prefix(12)) == [0x01, 0x01, 0x00, 0x44, 0x00, 0x07, 0x04, 0x11, 0x22, 0x33, 0x44, 0x55])

        // With one try only, an empty field answers 0 targets at once.
        emulator.removeCard()
        line.send([0x32, 0x05, 0x00, 0x01, 0x00])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(9) == [0x00, 0x00, 0xFF, 0x02, 0xFE, 0xD5, 0x33, 0xF8, 0x00])
        line.send([0x4A, 0x01, 0x00])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(10) == [0x00, 0x00, 0xFF, 0x03, 0xFD, 0xD5, 0x4B, 0x00, 0xE0, 0x00])
    }

    @Test func writeThenReadBackAndLockedWriteIsRefused() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        let line = try RawLine(path: emulator.devicePath)
        defer { line.close() }
        try emulator.place(EmulatedCard(kind: .ntag213, uid: "04112233445566"))

        line.send([0x4A, 0x01, 0x00])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(22).count == 22)
        line.send([0x40, 0x01, 0xA2, 0x05, 0xDE, 0xAD, 0xBE, 0xEF])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(10) == [0x00, 0x00, 0xFF, 0x03, 0xFD, 0xD5, 0x41, 0x00, 0xEA, 0x00])
        #expect(emulator.cardMemory().map { Array($0[20..<24]) } == [0xDE, 0xAD, 0xBE, 0xEF])

        try emulator.place(EmulatedCard(kind: .ntag213, uid: "04112233445566", locked: true))
        line.send([0x4A, 0x01, 0x00])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(22).count == 22)
        line.send([0x40, 0x01, 0xA2, 0x05, 0xDE, 0xAD, 0xBE, 0xEF])
        #expect(line.read(6) == Self.ack)
        #expect(line.read(10) == [0x00, 0x00, 0xFF, 0x03, 0xFD, 0xD5, 0x41, 0x14, 0xD6, 0x00])
    }
}
