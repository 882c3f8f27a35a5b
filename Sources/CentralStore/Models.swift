public import CardModel
public import CentralWire
import Foundation

/// What an import did.
public struct RegistryImportReport: Sendable {
    /// Card numbers whose rows were accepted.
    public var cards: Int
    /// Feed entries written (0 when re-importing an unchanged file).
    public var changes: Int
    /// Rows refused, with line and reason, in file order.
    public var refused: [RowErrorView]
}

/// A refused registry row (a copy of `RegistryCSV.RowError`, kept here so the API does not depend on the parser).
public struct RowErrorView: Sendable, Hashable {
    /// Physical line in the file.
    public var line: Int
    /// Why, in words a clerk can act on.
    public var reason: String
}

/// Who is calling: an enrolled kiosk or a member of staff.
public struct Principal: Sendable, Hashable {
    /// The role a token grants.
    public enum Kind: String, Sendable, Codable {
        case kiosk, staff
    }
    /// Internal id.
    public var id: Int64
    /// Kiosk or staff.
    public var kind: Kind
    /// The name given at enrolment.
    public var name: String
}

/// A card written by staff (created or updated in place; the number's current chip is the one updated).
public struct CardInput: Sendable, Codable {
    /// Chip UID in hex, or `nil` for a printed card.
    public var uid: String?
    /// Technology; `printed` needs no UID.
    public var technology: CardTechnology
    /// Issue series.
    public var series: String?
    /// Status.
    public var status: CardStatus
    /// First valid day.
    public var validFrom: CivilDate?
    /// Last valid day.
    public var validUntil: CivilDate?
    /// Holder; must exist (create with a person upsert first).
    public var personID: String

    enum CodingKeys: String, CodingKey {
        case uid, technology, series, status, validFrom = "valid_from", validUntil = "valid_until", personID = "person_id"
    }
}

/// A replacement chip for a card that keeps its number.
public struct ReplacementInput: Sendable, Codable {
    /// The new chip's UID (hex), or `nil` for a printed replacement.
    public var uid: String?
    /// The new chip's technology.
    public var technology: CardTechnology
    /// Issue series.
    public var series: String?
}

/// The status of a resident's request, as staff set it.
/// A status change by staff.
public struct RequestStatusChange: Sendable, Codable {
    /// The new status.
    public var status: RequestStatus
    /// RFC 3339 time of the appointment; required for `scheduled`.
    public var scheduledAt: String?
    /// Why; required for `declined`.
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case status, scheduledAt = "scheduled_at", reason
    }

    /// A status change.
    public init(status: RequestStatus, scheduledAt: String? = nil, reason: String? = nil) {
        self.status = status
        self.scheduledAt = scheduledAt
        self.reason = reason
    }
}

/// A request as staff see it.
public struct StoredRequest: Sendable, Codable, Hashable {
    public var id: Int64
    public var idempotencyKey: String
    /// The name of the kiosk that took it.
    public var kiosk: String
    public var kioskSeq: Int64
    /// The kiosk's wall clock when the resident made it (RFC 3339, as sent).
    public var createdAt: String
    /// The central's clock when it arrived (RFC 3339, UTC).
    public var receivedAt: String
    public var service: String
    public var cardNumber: String
    /// The free-form details object.
    public var details: JSONValue
    public var status: RequestStatus
    public var scheduledAt: String?
    public var reason: String?
    /// `unverified` when the resident typed the card number: confirm the person before serving.
    public var identity: RequestIdentity

    enum CodingKeys: String, CodingKey {
        case id, idempotencyKey = "idempotency_key", kiosk, kioskSeq = "kiosk_seq", createdAt = "created_at"
        case receivedAt = "received_at", service, cardNumber = "card_number", details, status
        case scheduledAt = "scheduled_at", reason, identity
    }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(kiosk, forKey: .kiosk)
        try c.encode(kioskSeq, forKey: .kioskSeq)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(receivedAt, forKey: .receivedAt)
        try c.encode(service, forKey: .service)
        try c.encode(cardNumber, forKey: .cardNumber)
        try c.encode(details, forKey: .details)
        try c.encode(status, forKey: .status)
        try c.encode(scheduledAt, forKey: .scheduledAt)
        try c.encode(reason, forKey: .reason)
        try c.encode(identity, forKey: .identity)
    }
}

/// A well-formed request from a kiosk, ready to store.
public struct RequestSubmission: Sendable, Hashable {
    public var idempotencyKey: String
    public var kioskSeq: Int64
    public var createdAt: String
    public var service: String
    public var cardNumber: CardNumber
    /// Details as compact JSON text.
    public var detailsJSON: String
    /// Whether the card was tapped (`verified`) or its number typed (`unverified`).
    public var identity: RequestIdentity
}

/// One item of a batch: well formed, or refused with a reason before touching the store.
public enum RequestItem: Sendable, Hashable {
    case valid(RequestSubmission)
    case invalid(idempotencyKey: String?, reason: String)
}

enum Clock {
    static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func rfc3339(millis: Int64) -> String {
        Date(timeIntervalSince1970: Double(millis) / 1000).formatted(.iso8601)
    }
}

extension CardView {
    /// Checks the card against the registry rules every kiosk's reader applies (``CardModel/RegistryRules``).
    public func checkPublishable() throws(RegistryRuleError) {
        _ = try RegistryRules.checkCard(
            number: number, uid: uid, technology: technology, series: series, validFrom: validFrom, validUntil: validUntil,
            replacedByUID: replacedByUID, holderDisplayName: holderDisplayName, personID: personID,
            entitlements: entitlements.map(\.entitlement)
        )
    }
}


extension EntitlementView {
    /// The entitlement in the card model's terms.
    var entitlement: Entitlement { Entitlement(kind: kind, role: role, validFrom: validFrom, validUntil: validUntil) }
}

