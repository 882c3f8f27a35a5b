import Foundation
import PN532Emulator
import KioskTestSupport
import Testing

/// End-to-end: Debian's real libnfc 1.8.0 tools drive an in-process emulator.
@Suite(.enabled(if: LibnfcTool.isInstalled, "needs Debian's libnfc-bin (nfc-list, nfc-mfultralight)"), .spawnsProcesses)
struct LibnfcTests {
    @Test func listsTheReaderAndAnNTAG215() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        try emulator.place(.ntag215)

        // All modulations: also exercises FeliCa, type B, B', SRx, CTx, iClass, Jewel and Barcode probing.
        let run = try LibnfcTool.run("nfc-list", [], connstring: emulator.connstring)
        #expect(!run.timedOut)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("NFC device: user defined device opened"), "\(run.output)")
        #expect(run.output.contains("1 ISO14443A passive target(s) found"), "\(run.output)")
        #expect(run.output.contains("ATQA (SENS_RES): 00  44"), "\(run.output)")
        #expect(run.output.contains("UID (NFCID1): 04  a1  b2  c3  d4  e5  f6"), "\(run.output)")
        #expect(run.output.contains("SAK (SEL_RES): 00"), "\(run.output)")
        #expect(emulator.status().counters.selects >= 1)
    }

    @Test func emptyFieldListsNoTarget() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()

        let run = try LibnfcTool.run("nfc-list", ["-v", "-t", "1"], connstring: emulator.connstring)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("NFC device: user defined device opened"), "\(run.output)")
        #expect(run.output.contains("0 ISO14443A passive target(s) found"), "\(run.output)")
        #expect(!run.output.contains("UID (NFCID1)"), "\(run.output)")
    }

    @Test func uidOnlyFourByteCardShowsAsClassicLike() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        try emulator.place(EmulatedCard(kind: .iso14443a, uid: "DE:AD:BE:EF"))

        let run = try LibnfcTool.run("nfc-list", ["-t", "1"], connstring: emulator.connstring)
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("ATQA (SENS_RES): 00  04"), "\(run.output)")
        #expect(run.output.contains("UID (NFCID1): de  ad  be  ef"), "\(run.output)")
        #expect(run.output.contains("SAK (SEL_RES): 08"), "\(run.output)")
    }

    @Test func stableLinkPathWorksAsConnstring() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let emulator = try PN532Emulator(linkPath: scratch.file("reader"))
        defer { emulator.stop() }
        emulator.start()
        try emulator.place(EmulatedCard(kind: .ntag213, uid: "04112233445566"))

        #expect(emulator.connstring == "pn532_uart:" + scratch.file("reader"))
        let run = try LibnfcTool.run("nfc-list", ["-t", "1"], connstring: emulator.connstring)
        #expect(run.output.contains("UID (NFCID1): 04  11  22  33  44  55  66"), "\(run.output)")
    }

    @Test func nfcMfultralightReadsTheWholeNTAG215() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        try emulator.place(.ntag215)

        let dump = scratch.file("dump.mfd")
        let run = try LibnfcTool.run("nfc-mfultralight", ["r", dump], connstring: emulator.connstring)
        #expect(run.output.contains("NTAG Type: NTAG215"), "\(run.output)")
        #expect(run.output.contains("135 of 135 pages read (0 pages failed)"), "\(run.output)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dump)))
        let memory = try #require(emulator.cardMemory())
        #expect(bytes.count == 135 * 4)
        // PWD (page 133) reads back as zeros; everything else matches the card's memory.
        #expect(Array(bytes[0..<(133 * 4)]) == Array(memory[0..<(133 * 4)]))
        #expect(Array(bytes[16..<28]) == [0x03, 0x08, 0xD1, 0x01, 0x0B, 0x55, 0x04, 0x63, 0x75, 0x73, 0xFE, 0x00])
    }

    @Test func tornReadFailsPartWay() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        try emulator.place(.ntag215)
        emulator.inject(.tearAfterReads(5))

        let run = try LibnfcTool.run("nfc-mfultralight", ["r", scratch.file("dump.mfd")], connstring: emulator.connstring)
        // The tool reads 4 pages per READ; after 5 READs the card is gone and the rest fail.
        #expect(!run.output.contains("135 of 135 pages read"), "\(run.output)")
        #expect(emulator.cardMemory() == nil)
        #expect(emulator.status().counters.reads == 5)
    }

    @Test func vanishedDeviceComesBackRelinked() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let link = scratch.file("reader")
        let emulator = try PN532Emulator(linkPath: link)
        defer { emulator.stop() }
        emulator.start()
        try emulator.place(.ntag215)
        #expect(symlinkTarget(link) == emulator.ptsPath)

        emulator.inject(.vanish(milliseconds: 1500))
        #expect(eventually { symlinkTarget(link) == nil }, "the link should disappear while the device is gone")
        let during = try LibnfcTool.run("nfc-list", ["-t", "1"], connstring: emulator.connstring)
        #expect(!during.output.contains("UID (NFCID1)"), "\(during.output)")

        #expect(eventually { symlinkTarget(link) != nil }, "the link should come back")
        let target = try #require(symlinkTarget(link))
        #expect(target == emulator.ptsPath)
        #expect(FileManager.default.fileExists(atPath: target))
        let after = try LibnfcTool.run("nfc-list", ["-t", "1"], connstring: emulator.connstring)
        #expect(after.output.contains("UID (NFCID1): 04  a1  b2  c3  d4  e5  f6"), "\(after.output)")
        #expect(emulator.status().counters.vanishes == 1)
    }

    @Test func silentReaderCannotBeOpened() throws {
        let emulator = try PN532Emulator()
        defer { emulator.stop() }
        emulator.start()
        emulator.inject(.silent(milliseconds: 5000))

        let run = try LibnfcTool.run("nfc-list", ["-t", "1"], connstring: emulator.connstring)
        #expect(!run.output.contains("NFC device: user defined device opened"), "\(run.output)")
        #expect(emulator.status().counters.droppedWhileSilent > 0)
    }
}
