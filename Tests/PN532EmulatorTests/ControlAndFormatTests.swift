import Foundation
import PN532Emulator
import KioskTestSupport
import Testing

@Suite(.spawnsProcesses) struct ControlChannelTests {
    @Test func placeRemoveStatusRoundTrip() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        let socket = scratch.file("control.sock")
        let server = try EmulatorControlServer(emulator: emulator, socketPath: socket)
        server.start()
        defer { server.stop() }

        func status() throws -> EmulatorStatus {
            let json = try EmulatorControlClient.send(.status, socketPath: socket)
            return try JSONDecoder().decode(EmulatorStatus.self, from: Data(json.utf8))
        }

        #expect(try status().cardPresent == false)
        #expect(try EmulatorControlClient.send(.place(.ntag215), socketPath: socket) == "")
        let placed = try status()
        #expect(placed.cardPresent)
        #expect(placed.uid == "04A1B2C3D4E5F6")
        #expect(placed.kind == .ntag215)
        #expect(placed.connstring == emulator.connstring)

        _ = try EmulatorControlClient.send(.fault(.slowAnswer(milliseconds: 10)), socketPath: socket)
        _ = try EmulatorControlClient.send(.latency(milliseconds: 3), socketPath: socket)
        #expect(emulator.commandLatency == .milliseconds(3))
        #expect(try status().counters.faultsInjected == 1)

        _ = try EmulatorControlClient.send(.remove, socketPath: socket)
        #expect(try status().cardPresent == false)
        #expect(emulator.cardMemory() == nil)
    }

    @Test func badLinesGetErrorReplies() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        let socket = scratch.file("control.sock")
        let server = try EmulatorControlServer(emulator: emulator, socketPath: socket)
        server.start()
        defer { server.stop() }

        #expect(try EmulatorControlClient.sendLine("fly away", socketPath: socket).hasPrefix("error unknown command"))
        #expect(try EmulatorControlClient.sendLine("fault silent", socketPath: socket).hasPrefix("error fault silent needs"))
        let badUID = try EmulatorControlClient.sendLine(#"place {"kind":"ntag213","uid":"0102"}"#, socketPath: socket)
        #expect(badUID.hasPrefix("error uid \"0102\" is invalid"), "\(badUID)")
        #expect(try EmulatorControlClient.sendLine("fault melt 3", socketPath: socket).hasPrefix("error unknown fault"))
        // A typed client call whose card the emulator refuses surfaces as EmulatorError.controlReply.
        #expect(throws: EmulatorError.controlReply(#"uid "01" is invalid: it has 1 bytes; use 4 or 7"#)) {
            try EmulatorControlClient.send(.place(EmulatedCard(kind: .iso14443a, uid: "01")), socketPath: socket)
        }
    }

    @Test func unreachableSocketSaysWhatToDo() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        do {
            _ = try EmulatorControlClient.send(.status, socketPath: scratch.file("nobody.sock"))
            Issue.record("expected a connect error")
        } catch let error as EmulatorError {
            #expect(error.description.contains("is `pn532-emulator serve --control"))
        }
    }

    @Test func faultWordsRoundTrip() throws {
        let faults: [EmulatorFault] = [
            .silent(milliseconds: 1500), .garbageFrame, .badChecksum, .slowAnswer(milliseconds: 20),
            .vanish(milliseconds: 300), .tearAfterReads(2), .tearAfterWrites(5),
        ]
        for fault in faults {
            #expect(try EmulatorFault(words: fault.words) == fault)
            #expect(try EmulatorControlCommand(line: EmulatorControlCommand.fault(fault).line) == .fault(fault))
        }
        #expect(throws: ControlCommandError.self) { try EmulatorFault(words: ["melt"]) }
    }
}

@Suite(.spawnsProcesses) struct CardFileTests {
    @Test func validFileLoads() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let path = scratch.file("card.json")
        try #"{"kind":"mifare_ultralight","uid":"04-01-02-03-04-05-06","locked":true}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let card = try EmulatedCard.load(fromFile: path)
        #expect(card.kind == .ultralight)
        #expect(card.locked == true)
    }

    @Test(arguments: [
        (#"{"kind":"ntag215""#, "is not a valid card description"),
        (#"{"uid":"04A1B2C3D4E5F6"}"#, "missing key \"kind\""),
        (#"{"kind":"ntag999","uid":"04A1B2C3D4E5F6"}"#, "is not a valid card description"),
        (#"{"kind":"ntag215","uid":"DEADBEEF"}"#, "a ntag215 has a 7-byte UID"),
        (#"{"kind":"ntag213","uid":"04A1B2C3D4E5F6","ndef":"zz"}"#, "ndef is invalid"),
        (#"{"kind":"ntag213","uid":"04A1B2C3D4E5F6","ndef":"\#(String(repeating: "00", count: 200))"}"#, "a ntag213 holds 144"),
        (#"{"kind":"ntag213","uid":"04A1B2C3D4E5F6","pages":["0102"]}"#, "pages[0] \"0102\" is not 8 hex digits"),
    ])
    func invalidFileNamesFileAndProblem(json: String, problem: String) throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let path = scratch.file("card.json")
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try EmulatedCard.load(fromFile: path)
            Issue.record("expected \(json) to be refused")
        } catch {
            #expect(error.description.hasPrefix("card file \(path): "), "\(error)")
            #expect(error.description.contains(problem), "\(error)")
        }
    }

    @Test func missingFileIsNamed() {
        #expect(throws: CardFileError(path: "/nonexistent/card.json", problem: "cannot be read (does it exist, and is it readable?)")) {
            try EmulatedCard.load(fromFile: "/nonexistent/card.json")
        }
    }

    @Test func freshNTAG213MemoryLayout() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        try emulator.place(EmulatedCard(kind: .ntag213, uid: "04112233445566"))
        let memory = try #require(emulator.cardMemory())
        #expect(memory.count == 45 * 4)
        #expect(Array(memory[0..<4]) == [0x04, 0x11, 0x22, 0x88 ^ 0x04 ^ 0x11 ^ 0x22])
        #expect(Array(memory[8..<10]) == [0x33 ^ 0x44 ^ 0x55 ^ 0x66, 0x48])
        #expect(Array(memory[12..<16]) == [0xE1, 0x10, 0x12, 0x00])
        #expect(Array(memory[16..<20]) == [0x03, 0x00, 0xFE, 0x00])
        #expect(Array(memory[(41 * 4)..<(42 * 4)]) == [0x04, 0x00, 0x00, 0xFF])
    }
}
