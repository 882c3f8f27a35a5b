import CardModel
@testable import CardReader
import Testing

@Suite("Type 2 TLV walking")
struct TLVExtentTests {
    @Test("a short NDEF TLV ends after its value")
    func shortNDEF() {
        #expect(TLVExtent(scanning: [0x03, 0x02, 0xAA, 0xBB, 0xFE]) == .complete(4))
        #expect(TLVExtent(scanning: [0x03, 0x05, 0xAA]) == .needs(7))
    }

    @Test("NULL and lock-control TLVs before the NDEF TLV are skipped")
    func skipsOtherTLVs() {
        let memory: [UInt8] = [0x00, 0x01, 0x03, 0xA0, 0x0C, 0x34, 0x03, 0x01, 0xD0, 0xFE]
        #expect(TLVExtent(scanning: memory) == .complete(9))
    }

    @Test("a three-byte length is read, asking for more bytes when cut")
    func longLength() {
        #expect(TLVExtent(scanning: [0x03, 0xFF]) == .needs(4))
        #expect(TLVExtent(scanning: [0x03, 0xFF, 0x01, 0x00]) == .needs(260))
    }

    @Test("a terminator with no NDEF TLV ends the walk")
    func terminatorOnly() {
        #expect(TLVExtent(scanning: [0x00, 0xFE, 0x03]) == .complete(2))
        #expect(TLVExtent(scanning: []) == .needs(1))
    }

    @Test("GET_VERSION answers map to chips")
    func profiles() {
        #expect(TagProfile(version: [0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x0F, 0x03])?.technology == .ntag213)
        #expect(TagProfile(version: [0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x11, 0x03])?.lastUserPage == 129)
        #expect(TagProfile(version: [0x00, 0x04, 0x04, 0x02, 0x01, 0x00, 0x13, 0x03])?.userBytes == 888)
        #expect(TagProfile(version: [0x00, 0x04, 0x03, 0x01, 0x01, 0x00, 0x0B, 0x03])?.technology == .ultralight)
        #expect(TagProfile(version: [0x00, 0x04, 0x04, 0x01, 0x01, 0x00, 0x0B, 0x03]) == nil, "NTAG210 is UID-only")
        #expect(TagProfile(version: [0x00, 0x05, 0x04, 0x02, 0x01, 0x00, 0x0F, 0x03]) == nil, "not NXP")
    }
}
