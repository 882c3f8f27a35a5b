/// The outcome of checking one presented card.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    /// At least one entitlement holds today.
    case valid
    /// Every entitlement (or the card itself) ended before today.
    case expired
    /// The card or its entitlements start after today.
    case notYetValid = "not_yet_valid"
    case suspended
    case revoked
    case lost
    /// Neither the replica nor a trusted signature knows the card.
    case unknown
    /// The card could not be read completely (pulled away mid-read, damaged).
    case unreadable
    /// The card's signed record is forged, signed for another chip or by an unknown key.
    case counterfeit
}

/// How a card was presented to the kiosk.
public enum Presentation: Sendable, Hashable {
    /// Tapped on the reader: the chip's UID and, for NTAG cards, the verified signed record.
    case chip(uid: ChipUID, technology: CardTechnology, record: VerifiedCardRecord?)
    /// Typed in by hand at the kiosk or by staff.
    case typed(CardNumber)
    /// Tapped, but the read failed part-way: no verdict can be made on partial data.
    case unreadable(technology: CardTechnology?)
    /// Tapped, and the chip carries a record whose signature does not hold.
    case counterfeit(uid: ChipUID, technology: CardTechnology, why: CounterfeitReason)
}

/// Why a signed card record was judged forged.
public enum CounterfeitReason: String, Sendable, Hashable, Codable {
    /// The signature was made for a different chip UID (a cloned record).
    case otherChip = "other_chip"
    /// Signed with a key id the kiosk does not trust.
    case unknownKey = "unknown_key"
    /// The signature does not verify.
    case badSignature = "bad_signature"
    /// The record is not a well-formed CUS record.
    case malformed
}

/// The content of a card's signed record after its Ed25519 signature was verified.
///
/// Lets the kiosk accept a card issued after its last sync, offline.
public struct VerifiedCardRecord: Sendable, Hashable {
    public var number: CardNumber
    public var entitlements: [EntitlementKind]
    public var role: FamilyRole?
    public var validUntil: CivilDate?
    public var keyID: UInt8

    public init(number: CardNumber, entitlements: [EntitlementKind], role: FamilyRole?, validUntil: CivilDate?, keyID: UInt8) {
        self.number = number
        self.entitlements = entitlements
        self.role = role
        self.validUntil = validUntil
        self.keyID = keyID
    }
}
