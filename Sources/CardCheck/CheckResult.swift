public import CardModel

/// The answer to "may this card be honoured today?", with what the screen and staff need.
public struct CheckResult: Sendable, Hashable {
    public var verdict: Verdict
    /// The card as it may be shown and logged: masked number (or UID) and technology.
    public var card: CardSummary
    /// Entitlements that hold today; empty unless the verdict is ``Verdict/valid``.
    public var entitlements: [EntitlementSummary]
    /// Days until the card stops being valid for anything (0: last day is today); `nil`: no end date or not valid.
    public var daysToExpiry: Int?
    /// Why, in plain Polish and English.
    public var reason: LocalizedText
    /// A stable code for the reason, for software (e.g. `replaced`, `card_expired`).
    public var reasonCode: String
    /// `low` for cards identified by chip UID alone (old series), `high` otherwise.
    public var assurance: Assurance
    /// True when a correctly signed card was accepted although the replica does not know it yet.
    public var acceptedOffline: Bool
    /// First name and initial of the last name, for the greeting; `nil` when unknown.
    public var holderDisplayName: String?

    public init(
        verdict: Verdict, card: CardSummary, entitlements: [EntitlementSummary], daysToExpiry: Int?,
        reason: LocalizedText, reasonCode: String, assurance: Assurance, acceptedOffline: Bool = false,
        holderDisplayName: String? = nil
    ) {
        self.verdict = verdict
        self.card = card
        self.entitlements = entitlements
        self.daysToExpiry = daysToExpiry
        self.reason = reason
        self.reasonCode = reasonCode
        self.assurance = assurance
        self.acceptedOffline = acceptedOffline
        self.holderDisplayName = holderDisplayName
    }
}

/// How sure the kiosk is that the card is genuine.
public enum Assurance: String, Sendable, Codable {
    /// A verified signature or a typed number checked by a person against an ID.
    case high
    /// A chip UID alone, which can be cloned.
    case low
}

/// A card as it may be shown on screen and written to logs: never the full number.
public struct CardSummary: Sendable, Hashable, Codable {
    /// `…1234`: the last four characters of the number, or of the UID when the number is unknown.
    public var masked: String
    public var technology: CardTechnology?

    public init(masked: String, technology: CardTechnology?) {
        self.masked = masked
        self.technology = technology
    }
}

/// One entitlement valid today.
public struct EntitlementSummary: Sendable, Hashable, Codable {
    public var kind: EntitlementKind
    public var role: FamilyRole?
    public var validUntil: CivilDate?
    /// Days left including today's (0: today is the last day); `nil`: no end date.
    public var daysToExpiry: Int?
    public var name: LocalizedText

    public init(kind: EntitlementKind, role: FamilyRole?, validUntil: CivilDate?, daysToExpiry: Int?) {
        self.kind = kind
        self.role = role
        self.validUntil = validUntil
        self.daysToExpiry = daysToExpiry
        self.name = kind.name
    }
}
