/// How a card carries its identity.
public enum CardTechnology: String, Sendable, Codable, CaseIterable {
    /// Printed card with no chip; checked by its typed number.
    case printed
    /// Any ISO 14443A chip identified by its UID alone (old series; low assurance).
    case iso14443a
    /// NTAG213 with a signed CUS record.
    case ntag213
    /// NTAG215 with a signed CUS record.
    case ntag215
    /// NTAG216 with a signed CUS record.
    case ntag216
    /// MIFARE Ultralight with a signed CUS record.
    case ultralight = "mifare_ultralight"
}

/// The administrative status of one card.
public enum CardStatus: String, Sendable, Codable, CaseIterable {
    case active, suspended, revoked, lost
}

/// The municipal programmes a card can entitle its holder to.
public enum EntitlementKind: String, Sendable, Codable, CaseIterable {
    /// Starachowicka Karta Seniora 60+.
    case senior60
    /// Karta Dużej Rodziny; has a ``FamilyRole``.
    case largeFamily = "large_family"
    /// Starachowicka Karta za Jeden Uśmiech (disability certificate).
    case disability
    /// A CUS employee.
    case staff

    /// The programme's name for the screen.
    public var name: LocalizedText {
        switch self {
        case .senior60: LocalizedText(pl: "Starachowicka Karta Seniora 60+", uk: "Картка сеньйора 60+ міста Старахович", en: "Starachowice Senior Card 60+")
        case .largeFamily: LocalizedText(pl: "Karta Dużej Rodziny", uk: "Картка багатодітної родини", en: "Large Family Card")
        case .disability: LocalizedText(pl: "Starachowicka Karta za Jeden Uśmiech", uk: "Стараховицька картка «За одну усмішку»", en: "Starachowice \"For a Smile\" Card")
        case .staff: LocalizedText(pl: "Pracownik CUS", uk: "Працівник CUS", en: "CUS staff")
        }
    }
}

/// The holder's role in a large family: parents' cards have no end date, children's expire.
public enum FamilyRole: String, Sendable, Codable, CaseIterable {
    case parent, child
}

/// One entitlement of a card holder, with the days it is valid (both ends inclusive).
public struct Entitlement: Hashable, Sendable, Codable {
    public var kind: EntitlementKind
    /// Set for ``EntitlementKind/largeFamily`` only.
    public var role: FamilyRole?
    public var validFrom: CivilDate
    /// `nil`: no end date.
    public var validUntil: CivilDate?

    public init(kind: EntitlementKind, role: FamilyRole? = nil, validFrom: CivilDate, validUntil: CivilDate?) {
        self.kind = kind
        self.role = role
        self.validFrom = validFrom
        self.validUntil = validUntil
    }

    /// Whether the entitlement holds on `day`.
    public func isValid(on day: CivilDate) -> Bool {
        validFrom <= day && (validUntil.map { day <= $0 } ?? true)
    }
}

/// Everything the replica knows about one card: what the check needs and nothing more.
public struct CardRecord: Hashable, Sendable {
    public var number: CardNumber
    public var uid: ChipUID?
    public var technology: CardTechnology
    public var series: String?
    public var status: CardStatus
    public var validFrom: CivilDate?
    public var validUntil: CivilDate?
    /// Set when this card was replaced (lost, damaged): the chip that replaced it.
    public var replacedBy: ChipUID?
    /// Set when this card was replaced and the replacement is chipless, or to record it at all.
    public var isReplaced: Bool
    /// First name and initial of the last name, e.g. "Anna K.".
    public var holderDisplayName: String
    /// The holder's entitlements, current or not.
    public var entitlements: [Entitlement]

    public init(
        number: CardNumber, uid: ChipUID?, technology: CardTechnology, series: String?, status: CardStatus,
        validFrom: CivilDate?, validUntil: CivilDate?, replacedBy: ChipUID? = nil, isReplaced: Bool = false,
        holderDisplayName: String, entitlements: [Entitlement]
    ) {
        self.number = number
        self.uid = uid
        self.technology = technology
        self.series = series
        self.status = status
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.replacedBy = replacedBy
        self.isReplaced = isReplaced || replacedBy != nil
        self.holderDisplayName = holderDisplayName
        self.entitlements = entitlements
    }
}

/// A short text in the three languages the kiosk speaks: Polish, Ukrainian and English.
public struct LocalizedText: Hashable, Sendable, Codable {
    public var pl: String
    public var uk: String
    public var en: String
    public init(pl: String, uk: String, en: String) {
        self.pl = pl
        self.uk = uk
        self.en = en
    }

    /// The text in `language` (`pl`, `uk` or `en`); Polish for any other.
    public func text(in language: String) -> String {
        switch language {
        case "uk": uk
        case "en": en
        default: pl
        }
    }
}

/// How a card holder wants the kiosk's screen to open at their tap: language, larger text, reading aloud.
///
/// Stored with their card on the kiosk only when they ask for it at the screen, and used only for a
/// tapped card (a typed number must not tell a stranger anything about the holder).
public struct ScreenPreferences: Sendable, Codable, Equatable {
    /// The screen's languages.
    public enum Language: String, Sendable, Codable, CaseIterable {
        case pl, uk, en
    }

    /// The language the screen opens in.
    public var language: Language
    /// Larger type and targets (on panels with room for them).
    public var largeText: Bool
    /// "Czytaj na głos": every screen read aloud.
    public var speech: Bool

    /// Preferences with every field.
    public init(language: Language, largeText: Bool, speech: Bool) {
        self.language = language
        self.largeText = largeText
        self.speech = speech
    }

    // Spelt out, as the local API shows them (`{"lang", "large_text", "speech"}`), whatever the coder's key strategy.
    enum CodingKeys: String, CodingKey {
        case language = "lang", largeText = "large_text", speech
    }
}
