import CardModel

/// The NFC Forum Type 2 commands the kiosk uses (NTAG21x / MIFARE Ultralight), over an open
/// ``NFCDevice`` with a selected card. Thread-confined like the device.
struct Type2Tag {
    static let getVersion: UInt8 = 0x60
    static let read: UInt8 = 0x30
    static let fastRead: UInt8 = 0x3A
    /// The most pages one FAST_READ asks for: 128 bytes, well inside a PN532 frame (262 bytes).
    static let fastReadMaxPages = 32
    static let write: UInt8 = 0xA2
    /// The first page of user memory (after UID, lock bytes and the capability container).
    static let firstUserPage = 4
    /// The capability container's page.
    static let capabilityContainerPage = 3
    /// The last page of the first, speculative FAST_READ of a tap: pages 3…39 are the capability
    /// container and 144 bytes, all a CUS record can take (docs/card-format.md) and all of an
    /// NTAG213's user memory; every NTAG21x has them. 148 bytes, well inside a PN532 frame.
    static let speculativeLastPage = 39

    let device: NFCDevice
    let timeout: Int32
    /// Lets the watchdog see (and abort) each command; nil when nobody watches.
    let control: ReaderControl?

    private func transceive(_ command: [UInt8], maxAnswer: Int) -> Result<[UInt8], NFCCallFailure> {
        let call = { device.transceive(command, maxAnswer: maxAnswer, timeoutMilliseconds: timeout) }
        return control?.tracked(call) ?? call()
    }

    /// GET_VERSION: 8 bytes (vendor, product type, subtype, versions, storage size, protocol).
    func version() -> Result<[UInt8], NFCCallFailure> {
        transceive([Self.getVersion], maxAnswer: 16).flatMap { answer in
            answer.count >= 8 ? .success(answer) : .failure(NFCCallFailure(code: NFCStatus.rfTransmission))
        }
    }

    /// READ: the 16 bytes of the four pages from `page` on (the tag wraps around past its end).
    func read(page: Int) -> Result<[UInt8], NFCCallFailure> {
        transceive([Self.read, UInt8(truncatingIfNeeded: page)], maxAnswer: 32)
            .flatMap { answer in
                answer.count >= 16 ? .success(Array(answer.prefix(16))) : .failure(NFCCallFailure(code: NFCStatus.rfTransmission))
            }
    }

    /// FAST_READ (NTAG21x, Ultralight EV1): pages `first...last` in one command.
    func fastRead(from first: Int, through last: Int) -> Result<[UInt8], NFCCallFailure> {
        let count = (last - first + 1) * 4
        let command = [Self.fastRead, UInt8(truncatingIfNeeded: first), UInt8(truncatingIfNeeded: last)]
        return transceive(command, maxAnswer: count + 16).flatMap { answer in
            answer.count >= count ? .success(Array(answer.prefix(count))) : .failure(NFCCallFailure(code: NFCStatus.rfTransmission))
        }
    }

    /// WRITE: one 4-byte page.
    func write(page: Int, _ bytes: ArraySlice<UInt8>) -> Result<Void, NFCCallFailure> {
        let command = [Self.write, UInt8(truncatingIfNeeded: page)] + bytes
        return transceive(command, maxAnswer: 16).map { _ in () }
    }
}

/// What GET_VERSION (or its absence) says about a Type 2 tag: its technology and user memory.
struct TagProfile: Equatable {
    var technology: CardTechnology
    /// The last page of user memory (inclusive).
    var lastUserPage: Int
    /// Whether the chip has FAST_READ (every chip that answers GET_VERSION).
    var hasFastRead = true

    /// User memory in bytes (pages 4 … ``lastUserPage``).
    var userBytes: Int { (lastUserPage - Type2Tag.firstUserPage + 1) * 4 }

    /// A MIFARE Ultralight that does not answer GET_VERSION (EV0): 16 pages.
    static let ultralightEV0 = TagProfile(technology: .ultralight, lastUserPage: 15, hasFastRead: false)

    /// The profile for a GET_VERSION answer, or nil for a chip the kiosk does not read memory of
    /// (not NXP, NTAG210/212, unknown sizes): such a chip is treated as UID-only.
    init?(version: [UInt8]) {
        guard version.count >= 8, version[1] == 0x04 else { return nil }
        switch (version[2], version[6]) {
        case (0x04, 0x0F): self.init(technology: .ntag213, lastUserPage: 39)
        case (0x04, 0x11): self.init(technology: .ntag215, lastUserPage: 129)
        case (0x04, 0x13): self.init(technology: .ntag216, lastUserPage: 225)
        case (0x03, 0x0B): self.init(technology: .ultralight, lastUserPage: 15)
        case (0x03, 0x0E): self.init(technology: .ultralight, lastUserPage: 35)
        default: return nil
        }
    }

    /// The NTAG21x profile for a capability container (page 3) with NXP's factory size byte of an
    /// NTAG213 (`12`), 215 (`3E`) or 216 (`6D`); nil for any other CC (Ultralight EV1 `06`/`10`
    /// is shared with NTAG210/212, and a blank or foreign CC says nothing): ask GET_VERSION.
    ///
    /// Only for a chip that has just answered a FAST_READ of pages 3…39
    /// (``Type2Tag/speculativeLastPage``): that rules out the other chips with `12`, MIFARE
    /// Ultralight C (no FAST_READ), and every chip with fewer pages. What remains possible is a
    /// chip whose CC was written to look like an NTAG21x's (page 3 is one-time programmable, a
    /// clone can write anything) or a rarer NXP chip with the same CC (Ultralight AES). Either is
    /// then named by its CC; nothing is trusted on that name: the technology is only shown and
    /// logged, a CUS record is believed only through its signature bound to the UID, and a read
    /// past the chip's real memory fails (`.unreadable`), never giving partial data.
    init?(capabilityContainer cc: some Collection<UInt8>) {
        let bytes = Array(cc.prefix(4))
        guard bytes.count == 4, bytes[0] == 0xE1, bytes[1] >> 4 == 1 else { return nil }
        switch bytes[2] {
        case 0x12: self.init(technology: .ntag213, lastUserPage: 39)
        case 0x3E: self.init(technology: .ntag215, lastUserPage: 129)
        case 0x6D: self.init(technology: .ntag216, lastUserPage: 225)
        default: return nil
        }
    }

    init(technology: CardTechnology, lastUserPage: Int, hasFastRead: Bool = true) {
        self.technology = technology
        self.lastUserPage = lastUserPage
        self.hasFastRead = hasFastRead
    }

    /// The page holding the dynamic lock bytes on NTAG21x (nil for Ultralight).
    var dynamicLockPage: Int? {
        switch technology {
        case .ntag213: 0x28
        case .ntag215: 0x82
        case .ntag216: 0xE2
        default: nil
        }
    }
}

/// Where the NDEF TLV ends in a Type 2 tag's user memory.
enum TLVExtent: Equatable {
    /// The NDEF TLV (or the terminator) ends after this many bytes from page 4.
    case complete(Int)
    /// Nothing can be said until at least this many bytes are read.
    case needs(Int)

    /// Walks the TLVs (NULL, Lock/Memory Control, NDEF, Terminator) in `memory`.
    init(scanning memory: [UInt8]) {
        var index = 0
        while true {
            guard index < memory.count else {
                self = .needs(index + 1)
                return
            }
            let tag = memory[index]
            switch tag {
            case 0x00:
                index += 1
                continue
            case 0xFE:
                self = .complete(index + 1)
                return
            default:
                break
            }
            guard index + 1 < memory.count else {
                self = .needs(index + 2)
                return
            }
            var length = Int(memory[index + 1])
            var header = 2
            if length == 0xFF {
                guard index + 3 < memory.count else {
                    self = .needs(index + 4)
                    return
                }
                length = Int(memory[index + 2]) << 8 | Int(memory[index + 3])
                header = 4
            }
            let end = index + header + length
            if tag == 0x03 {
                self = end <= memory.count ? .complete(end) : .needs(end)
                return
            }
            index = end
        }
    }
}

extension Type2Tag {
    /// Reads the capability container and as many user pages as the NDEF TLV needs.
    ///
    /// Starts from `start` (pages 3… already read, the CC first: the speculative FAST_READ of a
    /// tap), or else reads pages 3-6 (CC and the start of the TLVs). Then reads exactly the pages
    /// the NDEF TLV still needs: with FAST_READ in one or two commands, otherwise four pages per
    /// READ. Stops at the end of user memory if the TLVs claim more (the interpreter then finds
    /// them malformed).
    /// - Returns: user memory from page 4, whole pages, only as far as the TLV needs (and never
    ///   past ``TagProfile/lastUserPage``); or the first failure (never partial data).
    func readNDEFArea(profile: TagProfile, start: [UInt8]? = nil) -> Result<[UInt8], NFCCallFailure> {
        let first: [UInt8]
        if let start, start.count >= 16 {
            first = start
        } else {
            switch read(page: Self.capabilityContainerPage) {
            case .success(let bytes): first = bytes
            case .failure(let failure): return .failure(failure)
            }
        }
        var memory = Array(first[4...].prefix(profile.userBytes))
        // Not NDEF-formatted: pages 4-6, whatever more the speculative read got.
        guard first[0] == 0xE1 else { return .success(Array(memory.prefix(12))) }
        var capacity = profile.userBytes
        if first[2] > 0 { capacity = min(capacity, Int(first[2]) * 8) }
        while true {
            let needed: Int
            switch TLVExtent(scanning: memory) {
            case .complete(let end): needed = min(end, capacity)
            case .needs(let bytes): needed = min(bytes, capacity)
            }
            if memory.count >= needed {
                let pages = (needed + 3) / 4
                return .success(Array(memory.prefix(pages * 4)))
            }
            if memory.count >= capacity { return .success(Array(memory.prefix((capacity + 3) / 4 * 4))) }
            let page = Self.firstUserPage + memory.count / 4
            let pagesWanted = min((needed - memory.count + 3) / 4, profile.lastUserPage - page + 1)
            let result: Result<[UInt8], NFCCallFailure>
            if profile.hasFastRead {
                result = fastRead(from: page, through: page + min(pagesWanted, Self.fastReadMaxPages) - 1)
            } else {
                result = read(page: page).map { Array($0.prefix(min(4, pagesWanted) * 4)) }
            }
            switch result {
            case .success(let bytes): memory += bytes
            case .failure(let failure): return .failure(failure)
            }
        }
    }
}
