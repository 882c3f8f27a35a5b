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

    @Test("an NTAG21x capability container names the chip; any other CC leaves it to GET_VERSION")
    func capabilityContainers() {
        #expect(TagProfile(capabilityContainer: [0xE1, 0x10, 0x12, 0x00]) == TagProfile(technology: .ntag213, lastUserPage: 39))
        #expect(TagProfile(capabilityContainer: [0xE1, 0x10, 0x3E, 0x00]) == TagProfile(technology: .ntag215, lastUserPage: 129))
        #expect(TagProfile(capabilityContainer: [0xE1, 0x10, 0x6D, 0x0F]) == TagProfile(technology: .ntag216, lastUserPage: 225))
        #expect(TagProfile(capabilityContainer: [0xE1, 0x10, 0x06, 0x00]) == nil, "Ultralight EV1 MF0UL11 or NTAG210")
        #expect(TagProfile(capabilityContainer: [0xE1, 0x10, 0x10, 0x00]) == nil, "Ultralight EV1 MF0UL21 or NTAG212")
        #expect(TagProfile(capabilityContainer: [0x00, 0x00, 0x00, 0x00]) == nil, "blank")
        #expect(TagProfile(capabilityContainer: [0xE1, 0x20, 0x12, 0x00]) == nil, "unknown major version")
        #expect(TagProfile(capabilityContainer: [0xE1, 0x10]) == nil)
    }
}
