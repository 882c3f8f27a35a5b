public import CardModel

/// The NFC Forum Type 2 tags a CUS card can be, with their NDEF data area.
public enum TagType: String, Sendable, Hashable, CaseIterable {
    /// NXP NTAG213: 144 bytes of user memory (pages 4–39).
    case ntag213
    /// NXP NTAG215: 504 bytes of user memory, 496 declared in the capability container.
    case ntag215
    /// NXP NTAG216: 888 bytes of user memory, 872 declared in the capability container.
    case ntag216
    /// MIFARE Ultralight (MF0ICU1) or Ultralight EV1 MF0UL11: 48 bytes, too small for a signed record.
    case ultralight
    /// MIFARE Ultralight EV1 MF0UL21: 128 bytes (pages 4–35).
    case ultralightEV1
    /// MIFARE Ultralight C: 144 bytes (pages 4–39).
    case ultralightC

    /// The capability container's data-area size byte (CC byte 2): the area is 8 × this.
    public var dataAreaSizeByte: UInt8 {
        switch self {
        case .ntag213: 0x12
        case .ntag215: 0x3E
        case .ntag216: 0x6D
        case .ultralight: 0x06
        case .ultralightEV1: 0x10
        case .ultralightC: 0x12
        }
    }

    /// Bytes of NDEF data area from page 4 on: the most a TLV image may take.
    public var dataAreaSize: Int { Int(dataAreaSizeByte) * 8 }

    /// The capability container for page 3: `E1 10 size 00` (NDEF, version 1.0, read/write).
    ///
    /// Page 3 is one-time programmable: writing ORs bits in. NTAG21x leave the factory with
    /// this CC already set; write it only to a tag whose page 3 reads `00 00 00 00`.
    public var capabilityContainer: [UInt8] { [0xE1, 0x10, dataAreaSizeByte, 0x00] }

    /// The card technology the kiosk records for this tag.
    public var technology: CardTechnology {
        switch self {
        case .ntag213: .ntag213
        case .ntag215: .ntag215
        case .ntag216: .ntag216
        case .ultralight, .ultralightEV1, .ultralightC: .ultralight
        }
    }

    /// The NTAG type for a chip the reader identified; `nil` for chips a CUS record is not written to.
    public init?(technology: CardTechnology) {
        switch technology {
        case .ntag213: self = .ntag213
        case .ntag215: self = .ntag215
        case .ntag216: self = .ntag216
        case .printed, .iso14443a, .ultralight: return nil
        }
    }

    /// The NDEF data-area size in bytes declared by a capability container read from page 3.
    ///
    /// Tells a reader how many bytes from page 4 on to read.
    /// - Throws: ``CardMemoryError/notNDEFFormatted`` without the `E1` magic or with a major version other than 1.
    public static func dataAreaSize(capabilityContainer cc: some Collection<UInt8>) throws(CardMemoryError) -> Int {
        let b = Array(cc.prefix(4))
        guard b.count == 4, b[0] == 0xE1, b[1] >> 4 == 1 else { throw .notNDEFFormatted }
        return Int(b[2]) * 8
    }
}
