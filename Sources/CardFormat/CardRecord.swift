public import CardModel

/// The constants of the CUS card record format, version 1 (docs/card-format.md).
public enum CardRecordFormat {
    /// The record's NFC Forum external type (TNF 0x04), compared case-insensitively when read.
    public static let recordType: [UInt8] = Array("cus-starachowice.pl:card".utf8)
    /// The payload version this code writes and verifies.
    public static let version: UInt8 = 0x01
    /// Domain separation: the signature covers these bytes, then the payload before the signature.
    ///
    /// No other protocol signs messages that start this way, so a CUS signature cannot be
    /// replayed as, or made from, a signature of anything else.
    public static let signaturePrefix: [UInt8] = Array("cus-starachowice.pl:card:v1".utf8) + [0x00]
    /// Length of an Ed25519 signature.
    public static let signatureLength = 64
    /// The shortest possible version-1 payload: 4-byte UID, 4-character number.
    public static let minimumPayloadLength = 7 + 4 + 4 + signatureLength
}

/// What a card record says about its holder, before it is signed for a chip.
public struct CardRecordContent: Sendable, Hashable {
    /// The printed card number.
    public var number: CardNumber
    /// The holder's programmes; order and duplicates do not matter.
    public var entitlements: Set<EntitlementKind>
    /// The large-family role; set exactly when ``entitlements`` has ``EntitlementKind/largeFamily``.
    public var role: FamilyRole?
    /// The last day the card is valid; `nil`: no end date.
    public var validUntil: CivilDate?

    /// A record's content.
    public init(number: CardNumber, entitlements: Set<EntitlementKind>, role: FamilyRole? = nil, validUntil: CivilDate?) {
        self.number = number
        self.entitlements = entitlements
        self.role = role
        self.validUntil = validUntil
    }
}

/// A parsed, not yet verified, version-1 payload.
struct ParsedPayload: Sendable {
    var keyID: UInt8
    var uid: ChipUID
    var content: CardRecordContent
    /// The payload bytes before the signature.
    var signedPart: [UInt8]
    var signature: [UInt8]

    /// The entitlements in a stable order (the order of ``EntitlementKind/allCases``).
    var orderedEntitlements: [EntitlementKind] {
        EntitlementKind.allCases.filter { content.entitlements.contains($0) }
    }
}

/// Bit layout of the entitlement byte.
enum EntitlementBits {
    static let senior60: UInt8 = 0x01
    static let largeFamily: UInt8 = 0x02
    static let disability: UInt8 = 0x04
    static let staff: UInt8 = 0x08
    static let roleMask: UInt8 = 0x30
    static let roleParent: UInt8 = 0x10
    static let roleChild: UInt8 = 0x20
    static let reserved: UInt8 = 0xC0

    static func bit(_ kind: EntitlementKind) -> UInt8 {
        switch kind {
        case .senior60: senior60
        case .largeFamily: largeFamily
        case .disability: disability
        case .staff: staff
        }
    }
}

/// Days since 1970-01-01 stored in two bytes; `FFFF` means no end date.
enum DayField {
    static let none: UInt16 = 0xFFFF

    static func encode(_ day: CivilDate?) throws(CardEncodingError) -> UInt16 {
        guard let day else { return none }
        let n = day.dayNumber
        guard n >= 0, n < Int(none) else { throw .validUntilOutOfRange(day) }
        return UInt16(n)
    }

    /// `nil` inside `.some` for "no end date"; `nil` for a day that cannot be built.
    static func decode(_ raw: UInt16) -> CivilDate?? {
        if raw == none { return .some(nil) }
        do {
            let epoch = try CivilDate(year: 1970, month: 1, day: 1)
            return .some(epoch.adding(days: Int(raw)))
        } catch {
            return nil
        }
    }
}

extension CardRecordContent {
    /// The payload bytes before the signature, for `uid` and `keyID`.
    func signedPart(uid: ChipUID, keyID: UInt8) throws(CardEncodingError) -> [UInt8] {
        guard !entitlements.isEmpty else { throw .noEntitlements }
        let hasLargeFamily = entitlements.contains(.largeFamily)
        if role != nil, !hasLargeFamily { throw .roleWithoutLargeFamily }
        if role == nil, hasLargeFamily { throw .largeFamilyWithoutRole }
        var flags: UInt8 = 0
        for kind in entitlements { flags |= EntitlementBits.bit(kind) }
        switch role {
        case .parent: flags |= EntitlementBits.roleParent
        case .child: flags |= EntitlementBits.roleChild
        case nil: break
        }
        let until = try DayField.encode(validUntil)
        let number = Array(number.value.utf8)
        var out: [UInt8] = [CardRecordFormat.version, keyID, UInt8(uid.bytes.count)]
        out += uid.bytes
        out += [flags, UInt8(until >> 8), UInt8(truncatingIfNeeded: until), UInt8(number.count)]
        out += number
        return out
    }
}

/// Why a payload is not a well-formed version-1 record (internal; surfaces as ``CounterfeitReason/malformed``).
enum PayloadProblem: Error, Equatable {
    case malformed
    case unsupportedVersion(UInt8)
}

extension ParsedPayload {
    /// Parses a payload strictly: every byte must be where version 1 puts it, with nothing after the signature.
    init(payload p: [UInt8]) throws(PayloadProblem) {
        guard let version = p.first else { throw .malformed }
        guard version == CardRecordFormat.version else { throw .unsupportedVersion(version) }
        guard p.count >= CardRecordFormat.minimumPayloadLength else { throw .malformed }
        let keyID = p[1]
        let uidLength = Int(p[2])
        guard [4, 7, 10].contains(uidLength) else { throw .malformed }
        var i = 3
        // 4 bytes after the UID: flags, valid-until (2), number length.
        guard i + uidLength + 4 <= p.count else { throw .malformed }
        let uid: ChipUID
        do { uid = try ChipUID(bytes: Array(p[i..<(i + uidLength)])) } catch { throw .malformed }
        i += uidLength
        let flags = p[i]
        let until = UInt16(p[i + 1]) << 8 | UInt16(p[i + 2])
        let numberLength = Int(p[i + 3])
        i += 4
        guard (4...32).contains(numberLength),
              p.count == i + numberLength + CardRecordFormat.signatureLength
        else { throw .malformed }
        let numberBytes = p[i..<(i + numberLength)]
        let number: CardNumber
        do { number = try CardNumber(normalising: String(decoding: numberBytes, as: UTF8.self)) } catch { throw .malformed }
        // Only the canonical spelling is accepted, so one card number has one signed form.
        guard Array(number.value.utf8) == Array(numberBytes) else { throw .malformed }
        i += numberLength

        guard flags & EntitlementBits.reserved == 0 else { throw .malformed }
        var kinds: Set<EntitlementKind> = []
        for kind in EntitlementKind.allCases where flags & EntitlementBits.bit(kind) != 0 { kinds.insert(kind) }
        let role: FamilyRole?
        switch flags & EntitlementBits.roleMask {
        case 0: role = nil
        case EntitlementBits.roleParent: role = .parent
        case EntitlementBits.roleChild: role = .child
        default: throw .malformed
        }
        guard !kinds.isEmpty, (role != nil) == kinds.contains(.largeFamily) else { throw .malformed }
        guard let validUntil = DayField.decode(until) else { throw .malformed }

        self.keyID = keyID
        self.uid = uid
        self.content = CardRecordContent(number: number, entitlements: kinds, role: role, validUntil: validUntil)
        self.signedPart = Array(p[..<i])
        self.signature = Array(p[i...])
    }
}
