import KioskTestSupport
import CardFormat
import CardModel
import Testing

@Suite("Tag memory: TLVs and NDEF framing")
struct TLVTests {
    let verifier = CardRecordVerifier(trustedKeys: TrustedKeys([Fixture.key1]))

    func message() throws -> [UInt8] {
        try CardRecordEncoder.ndefMessage(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
    }

    @Test("NULL, lock-control, memory-control and proprietary TLVs before the message are skipped")
    func skipsOtherTLVs() throws {
        let m = try message()
        let memory: [UInt8] = [0x00, 0x00, 0x01, 0x03, 0xA0, 0x10, 0x44, 0x02, 0x03, 0xAC, 0x10, 0x06, 0xFD, 0x01, 0x77, 0x00]
            + [0x03, UInt8(m.count)] + m + [0xFE]
        #expect(try NDEFTLV.firstMessage(in: memory) == m)
        guard case .verified = try verifier.check(userMemory: memory, uid: Fixture.uid) else {
            Issue.record("the record after other TLVs must verify")
            return
        }
    }

    @Test("a 3-byte length (FF hi lo) is read")
    func threeByteLength() throws {
        let m = try message()
        let memory: [UInt8] = [0x03, 0xFF, 0x00, UInt8(m.count)] + m + [0xFE]
        #expect(try NDEFTLV.firstMessage(in: memory) == m)
        let long = [UInt8](repeating: 0xAB, count: 300)
        let area = NDEFTLV.area(wrapping: long)
        #expect(Array(area.prefix(4)) == [0x03, 0xFF, 0x01, 0x2C])
        #expect(try NDEFTLV.firstMessage(in: area) == long)
    }

    @Test("a terminator, zeros or no NDEF TLV at all mean no CUS record")
    func noMessage() throws {
        let m = try message()
        let terminatorFirst: [UInt8] = [0xFE, 0x03, UInt8(m.count)] + m
        #expect(try NDEFTLV.firstMessage(in: terminatorFirst) == nil)
        #expect(try verifier.check(userMemory: terminatorFirst, uid: Fixture.uid) == .noRecord)
        #expect(try verifier.check(userMemory: [UInt8](repeating: 0, count: 144), uid: Fixture.uid) == .noRecord)
        #expect(try verifier.check(userMemory: [], uid: Fixture.uid) == .noRecord)
        #expect(try verifier.check(userMemory: [0x03, 0x00, 0xFE], uid: Fixture.uid) == .noRecord)
    }

    @Test("a tag carrying only a URI record is checked by its UID")
    func otherRecordsOnly() throws {
        let uri = NDEFRecord(format: .wellKnown, type: Array("U".utf8), payload: [0x04] + Array("cus.example/karta".utf8))
        let memory = NDEFTLV.area(wrapping: uri.messageBytes)
        #expect(try verifier.check(userMemory: memory, uid: Fixture.uid) == .noRecord)
    }

    @Test("a CUS record after another record is found, and two CUS records are malformed")
    func recordPosition() throws {
        let payload = try CardRecordEncoder.payload(for: Fixture.content, uid: Fixture.uid, key: Fixture.key1)
        let uriHeader: [UInt8] = [0x91, 0x01, 0x02, UInt8(ascii: "U"), 0x04, UInt8(ascii: "x")] // MB, SR, well-known
        let cusTail: [UInt8] = [0x54, 24, UInt8(payload.count)] + Array("CUS-Starachowice.PL:Card".utf8) + payload // ME, SR, external
        let second = NDEFTLV.area(wrapping: uriHeader + cusTail)
        guard case .verified = try verifier.check(userMemory: second, uid: Fixture.uid) else {
            Issue.record("a CUS record in second place (type in mixed case) must verify")
            return
        }
        let cusFirst: [UInt8] = [0x94, 24, UInt8(payload.count)] + CardRecordFormat.recordType + payload // MB, SR, external
        let twice = NDEFTLV.area(wrapping: cusFirst + cusTail)
        #expect(try verifier.check(userMemory: twice, uid: Fixture.uid) == .counterfeit(.malformed))
    }

    @Test("every cut of a valid image before its end is a typed error, never a crash or a verdict")
    func truncations() throws {
        let m = try message()
        let image = NDEFTLV.area(wrapping: m)
        for length in 1..<(2 + m.count) {
            #expect(throws: CardMemoryError.truncatedTLV(offset: 0), "cut at \(length)") {
                try verifier.check(userMemory: image.prefix(length), uid: Fixture.uid)
            }
        }
        #expect(throws: CardMemoryError.truncatedTLV(offset: 0)) { try NDEFTLV.firstMessage(in: [0x03, 0xFF, 0x00]) }
        #expect(throws: CardMemoryError.truncatedTLV(offset: 2)) { try NDEFTLV.firstMessage(in: [0x00, 0x00, 0x01]) }
        #expect(throws: CardMemoryError.reservedTLVLength(offset: 1)) { try NDEFTLV.firstMessage(in: [0x00, 0x03, 0xFF, 0xFF, 0xFF]) }
    }

    @Test("records that run past their message are typed errors")
    func truncatedRecords() throws {
        let m = try message()
        for length in 1..<m.count {
            #expect(throws: CardMemoryError.truncatedRecord(offset: 0), "cut at \(length)") {
                try NDEFRecord.records(inMessage: Array(m.prefix(length)))
            }
        }
        // A long-form record claiming a 4 GiB payload.
        #expect(throws: CardMemoryError.truncatedRecord(offset: 0)) {
            try NDEFRecord.records(inMessage: [0xC4, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x41])
        }
        // First record without Message Begin.
        #expect(throws: CardMemoryError.badMessageStructure(offset: 0)) {
            try NDEFRecord.records(inMessage: [0x54, 0x01, 0x00, 0x41])
        }
        // Second record with Message Begin again.
        #expect(throws: CardMemoryError.badMessageStructure(offset: 4)) {
            try NDEFRecord.records(inMessage: [0x94, 0x01, 0x00, 0x41, 0xD4, 0x01, 0x00, 0x41])
        }
    }

    @Test("random bytes never crash the parser and never verify")
    func garbage() {
        var rng = SplitMix64(seed: 0xC05_57A2)
        var outcomes: Set<String> = []
        for _ in 0..<5000 {
            let count = Int(rng.next() % 160)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half the time start with an NDEF TLV so the record parser gets exercised too.
            if rng.next() % 2 == 0, bytes.count > 2 { bytes[0] = 0x03 }
            do {
                let result = try verifier.check(userMemory: bytes, uid: Fixture.uid)
                if case .verified = result { Issue.record("garbage verified: \(bytes)") }
                outcomes.insert("\(result)")
            } catch {
                outcomes.insert("\(error)".prefix(20).description)
            }
        }
        #expect(outcomes.count > 3, "the fuzzer must reach several outcomes: \(outcomes)")
    }
}
