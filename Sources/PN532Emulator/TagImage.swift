/// Memory layout facts of one card kind.
struct TagLayout: Sendable {
    /// Total pages of 4 bytes.
    var pageCount: Int
    /// First page after the user area.
    var userEnd: Int
    /// Page holding the dynamic lock bytes, if the chip has one.
    var dynamicLockPage: Int?
    /// First configuration page (CFG0), if any.
    var configPage: Int?
    /// PWD and PACK pages: written but read back as zeros.
    var secretPages: [Int]
    /// GET_VERSION answer; nil when the chip NAKs GET_VERSION.
    var version: [UInt8]?
    /// Capability container byte 2: data area size / 8, as NXP formats it.
    var ccSize: UInt8 = 0x06

    /// User memory in bytes (from page 4).
    var userBytes: Int { (userEnd - 4) * 4 }

    static func of(_ kind: EmulatedCard.Kind, uidLength: Int, explicitPages: Int?) -> TagLayout {
        switch kind {
        case .ntag213:
            ntag(pageCount: 45, versionStorage: 0x0F, ccSize: 0x12)
        case .ntag215:
            ntag(pageCount: 135, versionStorage: 0x11, ccSize: 0x3E)
        case .ntag216:
            ntag(pageCount: 231, versionStorage: 0x13, ccSize: 0x6D)
        case .ultralight:
            TagLayout(
                pageCount: 20, userEnd: 16, dynamicLockPage: nil, configPage: 16, secretPages: [18, 19],
                version: [0x00, 0x04, 0x03, 0x01, 0x01, 0x00, 0x0B, 0x03]
            )
        case .iso14443a:
            if let explicitPages {
                TagLayout(pageCount: explicitPages, userEnd: max(4, explicitPages), dynamicLockPage: nil, configPage: nil, secretPages: [], version: nil)
            } else if uidLength == 7 {
                // Behaves like a first-generation MIFARE Ultralight (MF0ICU1): 16 pages, no GET_VERSION.
                TagLayout(pageCount: 16, userEnd: 16, dynamicLockPage: nil, configPage: nil, secretPages: [], version: nil)
            } else {
                TagLayout(pageCount: 0, userEnd: 4, dynamicLockPage: nil, configPage: nil, secretPages: [], version: nil)
            }
        }
    }

    private static func ntag(pageCount: Int, versionStorage: UInt8, ccSize: UInt8) -> TagLayout {
        // Last five pages: dynamic lock, CFG0, CFG1, PWD, PACK.
        TagLayout(
            pageCount: pageCount, userEnd: pageCount - 5, dynamicLockPage: pageCount - 5, configPage: pageCount - 4,
            secretPages: [pageCount - 2, pageCount - 1],
            version: [0x00, 0x04, 0x04, 0x02, 0x01, 0x00, versionStorage, 0x03], ccSize: ccSize
        )
    }
}

/// What a card answers to one ISO 14443-3 / NFC Forum Type 2 command.
enum TagAnswer: Equatable, Sendable {
    /// Data bytes (READ, FAST_READ, GET_VERSION, READ_SIG, ...).
    case data([UInt8])
    /// The 4-bit ACK (0x0A) of a WRITE.
    case ack
    /// A 4-bit NAK: address out of range, page locked, or command not supported.
    case nak
    /// No answer at all (HALT, or a card that does not speak this command set).
    case none
}

/// The memory and identity of a card in the field, and its Type 2 command set.
struct TagImage: Sendable, Equatable {
    let kind: EmulatedCard.Kind
    let uid: [UInt8]
    let layout: TagLayout
    private(set) var memory: [UInt8]

    static func == (lhs: TagImage, rhs: TagImage) -> Bool {
        lhs.kind == rhs.kind && lhs.uid == rhs.uid && lhs.memory == rhs.memory
    }

    /// SENS_RES as the PN532 reports it (first byte first).
    var atqa: [UInt8] { uid.count == 4 ? [0x00, 0x04] : [0x00, 0x44] }
    /// SEL_RES.
    var sak: UInt8 { uid.count == 4 ? 0x08 : 0x00 }
    /// The UID with the 0x88 cascade tag, as libnfc sends it to select a specific card.
    var cascadedUID: [UInt8] { uid.count == 7 ? [0x88] + uid : uid }

    init(card: EmulatedCard) throws(CardDescriptionError) {
        let uid = try card.uidBytes()
        var explicit: [[UInt8]]?
        if let pages = card.pages {
            explicit = []
            for (index, page) in pages.enumerated() {
                guard let bytes = Hex.decode(page), bytes.count == 4 else {
                    throw .invalidPage(index: index, value: page)
                }
                explicit?.append(bytes)
            }
        }
        let layout = TagLayout.of(card.kind, uidLength: uid.count, explicitPages: explicit?.count)
        if let explicit, explicit.count > layout.pageCount {
            throw .tooManyPages(count: explicit.count, pageCount: layout.pageCount, kind: card.kind)
        }
        self.kind = card.kind
        self.uid = uid
        self.layout = layout
        self.memory = [UInt8](repeating: 0, count: layout.pageCount * 4)
        guard layout.pageCount > 0 else { return }

        let locked = card.locked ?? false
        if uid.count == 7 {
            memory.replaceSubrange(0..<4, with: [uid[0], uid[1], uid[2], 0x88 ^ uid[0] ^ uid[1] ^ uid[2]])
            memory.replaceSubrange(4..<8, with: uid[3..<7])
            memory.replaceSubrange(8..<12, with: [uid[3] ^ uid[4] ^ uid[5] ^ uid[6], 0x48, locked ? 0xFF : 0x00, locked ? 0xFF : 0x00])
        }
        if layout.pageCount > 4 {
            let size = layout.ccSize
            memory.replaceSubrange(12..<16, with: [0xE1, 0x10, size, locked ? 0x0F : 0x00])
            var tlv: [UInt8] = [0x03]
            if let ndefHex = card.ndef {
                guard let message = Hex.decode(ndefHex) else { throw .invalidNDEF(reason: "it is not hex") }
                if message.count < 0xFF {
                    tlv.append(UInt8(message.count))
                } else {
                    tlv += [0xFF, UInt8(message.count >> 8), UInt8(message.count & 0xFF)]
                }
                tlv += message
            } else {
                tlv.append(0x00)
            }
            tlv.append(0xFE)
            guard tlv.count <= layout.userBytes else {
                throw .ndefTooLarge(bytes: tlv.count, capacity: layout.userBytes, kind: card.kind)
            }
            memory.replaceSubrange(16..<(16 + tlv.count), with: tlv)
        }
        if let page = layout.dynamicLockPage {
            memory.replaceSubrange(page * 4..<page * 4 + 4, with: locked ? [0xFF, 0xFF, 0xFF, 0xBD] : [0x00, 0x00, 0x00, 0xBD])
        }
        if let page = layout.configPage {
            let cfg0: [UInt8] = kind == .ultralight ? [0x00, 0x00, 0x00, 0xFF] : [0x04, 0x00, 0x00, 0xFF]
            memory.replaceSubrange(page * 4..<page * 4 + 8, with: cfg0 + [0x00, 0x05, 0x00, 0x00])
        }
        if let pwd = layout.secretPages.first {
            memory.replaceSubrange(pwd * 4..<pwd * 4 + 4, with: [0xFF, 0xFF, 0xFF, 0xFF])
        }
        for (index, page) in (explicit ?? []).enumerated() {
            memory.replaceSubrange(index * 4..<index * 4 + 4, with: page)
        }
    }

    /// Whether a command is a READ or FAST_READ (counted for the tear fault).
    static func isRead(_ command: [UInt8]) -> Bool {
        command.first == 0x30 || command.first == 0x3A
    }

    /// Answers one command, updating memory for writes.
    mutating func handle(_ command: [UInt8]) -> TagAnswer {
        guard let code = command.first else { return .none }
        guard layout.pageCount > 0 else {
            // A UID-only card (MIFARE Classic-like) refuses unauthenticated memory access.
            return code == 0x50 ? .none : .nak
        }
        switch code {
        case 0x30 where command.count >= 2:  // READ: 4 pages, rolling over to page 0
            let start = Int(command[1])
            guard start < layout.pageCount else { return .nak }
            return .data((0..<4).flatMap { readPage((start + $0) % layout.pageCount) })
        case 0x3A where command.count >= 3 && layout.version != nil:  // FAST_READ start...end
            let start = Int(command[1])
            let end = Int(command[2])
            guard start <= end, end < layout.pageCount else { return .nak }
            return .data((start...end).flatMap { readPage($0) })
        case 0xA2 where command.count >= 6:  // WRITE one page
            return write(page: Int(command[1]), bytes: Array(command[2..<6]))
        case 0xA0 where command.count >= 6:  // COMPATIBILITY_WRITE: 16 bytes, first 4 are written
            return write(page: Int(command[1]), bytes: Array(command[2..<6]))
        case 0x60:  // GET_VERSION
            return layout.version.map { .data($0) } ?? .nak
        case 0x3C where layout.version != nil:  // READ_SIG
            return .data(signature)
        case 0x39 where layout.version != nil:  // READ_CNT
            return .data([0x00, 0x00, 0x00])
        case 0x50:  // HALT: no answer
            return .none
        default:
            return .nak
        }
    }

    private func readPage(_ page: Int) -> [UInt8] {
        if layout.secretPages.contains(page) { return [0, 0, 0, 0] }
        return Array(memory[page * 4..<page * 4 + 4])
    }

    private mutating func write(page: Int, bytes: [UInt8]) -> TagAnswer {
        guard page >= 2, page < layout.pageCount else { return .nak }
        if page == 2 {
            // Only the static lock bytes are writable, and their bits are one-time programmable.
            memory[10] |= bytes[2]
            memory[11] |= bytes[3]
            return .ack
        }
        if page == 3 {
            // The capability container is one-time programmable (bits OR in) unless locked.
            guard memory[10] & 0x08 == 0 else { return .nak }
            for i in 0..<4 { memory[12 + i] |= bytes[i] }
            return .ack
        }
        if page == layout.dynamicLockPage {
            for i in 0..<3 { memory[page * 4 + i] |= bytes[i] }
            return .ack
        }
        guard !isLocked(page: page) else { return .nak }
        memory.replaceSubrange(page * 4..<page * 4 + 4, with: bytes)
        return .ack
    }

    /// Page write protection from the static lock bits (pages 3–15) and the dynamic lock bytes (user pages 16 and up).
    private func isLocked(page: Int) -> Bool {
        if page < 16 {
            let lock = UInt16(memory[10]) | UInt16(memory[11]) << 8
            return lock & (1 << page) != 0
        }
        guard page < layout.userEnd, let dynamic = layout.dynamicLockPage else { return false }
        // NTAG21x: each dynamic lock bit protects a block of pages (2 on NTAG213, 16 on NTAG215/216).
        let pagesPerBit = layout.pageCount == 45 ? 2 : 16
        let bit = (page - 16) / pagesPerBit
        let lock = UInt32(memory[dynamic * 4]) | UInt32(memory[dynamic * 4 + 1]) << 8 | UInt32(memory[dynamic * 4 + 2]) << 16
        return bit < 24 && lock & (1 << UInt32(bit)) != 0
    }

    /// A stable 32-byte stand-in for the NXP originality signature, derived from the UID.
    private var signature: [UInt8] {
        var state: UInt32 = 0x811C_9DC5
        return (0..<32).map { index in
            state = (state ^ UInt32(uid[index % uid.count]) ^ UInt32(index)) &* 0x0100_0193
            return UInt8(truncatingIfNeeded: state >> 13)
        }
    }
}
