/// The rules every registry card meets as the central publishes it and as a kiosk accepts it.
///
/// One set, used on both sides: the central checks its inputs (registry import, staff API) and
/// every card it writes to the feed with these rules, and a kiosk's feed and snapshot reader
/// refuses a card that breaks them. So the central never publishes a card a kiosk refuses, and
/// one bad row cannot stop every kiosk's sync. `docs/openapi/central.yaml` states each rule as a
/// JSON Schema `pattern`/`maxLength` (lengths count Unicode scalars, as JSON Schema does).
public enum RegistryRules {
    /// Most scalars in a holder's display name (first name and initial, e.g. "Anna K.").
    public static let maxDisplayNameLength = 64
    /// Most scalars in a card series.
    public static let maxSeriesLength = 32
    /// Most characters in a pseudonymous person id.
    public static let maxPersonIDLength = 64
    /// Most entitlements one holder may have.
    public static let maxEntitlements = 16

    /// Whether `scalar` may not appear in registry text: C0 and C1 controls and DEL, the Unicode
    /// line and paragraph separators, and the bidirectional formatting controls (which can make a
    /// name read differently on screen from what is stored).
    ///
    /// Schema: the character class `[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069]`.
    public static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// The first forbidden scalar of `text`, written `U+XXXX` for a message.
    static func firstForbidden(_ text: String) -> String? {
        guard let scalar = text.unicodeScalars.first(where: isForbidden) else { return nil }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The card number, normalised.
    public static func checkNumber(_ text: String) throws(RegistryRuleError) -> CardNumber {
        do { return try CardNumber(normalising: text) } catch {
            throw RegistryRuleError(.number, error.message.en)
        }
    }

    /// The chip UID of a card of `technology`: hex of 4, 7 or 10 bytes, and none for a printed card.
    public static func checkChip(uid: String?, technology: CardTechnology) throws(RegistryRuleError) -> ChipUID? {
        guard let uid else {
            guard technology == .printed else { throw RegistryRuleError(.uid, "a \(technology.rawValue) card needs a uid; only printed cards have none") }
            return nil
        }
        guard technology != .printed else { throw RegistryRuleError(.uid, "a printed card has no uid; leave uid empty or give the chip's technology") }
        return try checkUID(uid, field: .uid)
    }

    /// The UID of the chip that replaced a card, when there is one.
    public static func checkReplacedByUID(_ uid: String?) throws(RegistryRuleError) -> ChipUID? {
        guard let uid else { return nil }
        return try checkUID(uid, field: .replacedByUID)
    }

    static func checkUID(_ text: String, field: RegistryRuleError.Field) throws(RegistryRuleError) -> ChipUID {
        do { return try ChipUID(hex: text) } catch {
            throw RegistryRuleError(field, "\(error) (e.g. 04:A2:24:1A:7B:5C:80)")
        }
    }

    /// A series: at most ``maxSeriesLength`` scalars, none forbidden.
    ///
    /// Schema: pattern `^[^…forbidden…]{0,32}$`.
    public static func checkSeries(_ series: String?) throws(RegistryRuleError) {
        guard let series else { return }
        if let bad = firstForbidden(series) { throw RegistryRuleError(.series, "contains the control character \(bad); remove it") }
        let n = series.unicodeScalars.count
        guard n <= maxSeriesLength else { throw RegistryRuleError(.series, "is \(n) characters long; at most \(maxSeriesLength)") }
    }

    /// A holder's display name: 1 to ``maxDisplayNameLength`` scalars, none forbidden, not only spaces,
    /// no space at either end.
    ///
    /// Schema: `minLength: 1`, `maxLength: 64`, pattern `^[^ …forbidden…]([^…forbidden…]*[^ …forbidden…])?$`.
    public static func checkDisplayName(_ name: String) throws(RegistryRuleError) {
        if let bad = firstForbidden(name) {
            throw RegistryRuleError(.holderDisplayName, "contains the control character \(bad) (a line break, tab or similar); remove it")
        }
        let scalars = name.unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { throw RegistryRuleError(.holderDisplayName, "is empty") }
        guard first != " ", last != " " else { throw RegistryRuleError(.holderDisplayName, "starts or ends with a space") }
        let n = scalars.count
        guard n <= maxDisplayNameLength else {
            throw RegistryRuleError(.holderDisplayName, "is \(n) characters long; at most \(maxDisplayNameLength) (first name and the initial of the last name)")
        }
    }

    /// A pseudonymous person id: 1 to ``maxPersonIDLength`` of `A-Z a-z 0-9 - _`, never an 11-digit PESEL.
    ///
    /// Schema: pattern `^[A-Za-z0-9_-]{1,64}$` (the PESEL rule is not expressible there).
    public static func checkPersonID(_ id: String) throws(RegistryRuleError) {
        guard (1...maxPersonIDLength).contains(id.utf8.count),
              id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 })
        else { throw RegistryRuleError(.personID, "must be 1 to \(maxPersonIDLength) letters, digits, - or _ (a pseudonym, never a PESEL)") }
        if id.utf8.count == 11, id.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            throw RegistryRuleError(.personID, "looks like a PESEL; use a pseudonymous id")
        }
    }

    /// A card's validity: the last day is not before the first.
    public static func checkValidity(from: CivilDate?, until: CivilDate?) throws(RegistryRuleError) {
        if let from, let until, until < from {
            throw RegistryRuleError(.validUntil, "\(until) is before valid_from \(from)")
        }
    }

    /// A holder's entitlements: at most ``maxEntitlements``, a role exactly for `large_family`, and
    /// each one's last day not before its first.
    public static func checkEntitlements(_ entitlements: [Entitlement]) throws(RegistryRuleError) {
        guard entitlements.count <= maxEntitlements else {
            throw RegistryRuleError(.entitlements, "\(entitlements.count) entitlements; at most \(maxEntitlements) per person")
        }
        for e in entitlements {
            if (e.kind == .largeFamily) != (e.role != nil) {
                throw RegistryRuleError(.entitlements, "a large_family entitlement needs role parent or child; other kinds have no role")
            }
            if let until = e.validUntil, until < e.validFrom {
                throw RegistryRuleError(.entitlements, "\(e.kind.rawValue): valid_until \(until) is before valid_from \(e.validFrom)")
            }
        }
    }

    /// A card as published, field by field: what both the central's feed writer and a kiosk's reader check.
    ///
    /// - Returns: the normalised number, the chip UID and the replacing chip's UID.
    public static func checkCard(
        number: String, uid: String?, technology: CardTechnology, series: String?,
        validFrom: CivilDate?, validUntil: CivilDate?, replacedByUID: String?,
        holderDisplayName: String, personID: String, entitlements: [Entitlement]
    ) throws(RegistryRuleError) -> (number: CardNumber, uid: ChipUID?, replacedBy: ChipUID?) {
        let n = try checkNumber(number)
        let chip = try checkChip(uid: uid, technology: technology)
        let replaced = try checkReplacedByUID(replacedByUID)
        try checkSeries(series)
        try checkValidity(from: validFrom, until: validUntil)
        try checkDisplayName(holderDisplayName)
        try checkPersonID(personID)
        try checkEntitlements(entitlements)
        return (n, chip, replaced)
    }
}

/// Which registry rule a value breaks, and how to fix it; never contains a full card number or name.
public struct RegistryRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field that breaks a rule, named as in the feed's JSON.
    public enum Field: String, Sendable {
        case number, uid, technology, series
        case validUntil = "valid_until"
        case replacedByUID = "replaced_by_uid"
        case holderDisplayName = "holder_display_name"
        case personID = "person_id"
        case entitlements
    }

    /// The field.
    public let field: Field
    /// What is wrong and what to do, in English.
    public let reason: String

    /// An error about `field`.
    public init(_ field: Field, _ reason: String) {
        self.field = field
        self.reason = reason
    }

    /// `field reason`, e.g. `holder_display_name is 203 characters long; at most 64 …`.
    public var description: String {
        reason.hasPrefix("is ") || reason.hasPrefix("must") || reason.hasPrefix("contains") || reason.hasPrefix("starts") || reason.hasPrefix("looks")
            ? "\(field.rawValue) \(reason)" : "\(field.rawValue): \(reason)"
    }
}
