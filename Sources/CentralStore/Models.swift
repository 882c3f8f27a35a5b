public import CardModel
import Foundation

/// One entitlement as the feed and the staff API carry it.
public struct EntitlementView: Sendable, Codable, Hashable {
    /// The programme.
    public var kind: EntitlementKind
    /// `parent`/`child` for `large_family`, otherwise `nil`.
    public var role: FamilyRole?
    /// First valid day, `YYYY-MM-DD`.
    public var validFrom: CivilDate
    /// Last valid day, or `nil` for no end date.
    public var validUntil: CivilDate?

    /// An entitlement view.
    public init(kind: EntitlementKind, role: FamilyRole?, validFrom: CivilDate, validUntil: CivilDate?) {
        self.kind = kind
        self.role = role
        self.validFrom = validFrom
        self.validUntil = validUntil
    }

    enum CodingKeys: String, CodingKey {
        case kind, role, validFrom = "valid_from", validUntil = "valid_until"
    }

    /// Encodes `null` for absent values, so the shape is always the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(role, forKey: .role)
        try c.encode(validFrom, forKey: .validFrom)
        try c.encode(validUntil, forKey: .validUntil)
    }
}

extension EntitlementView {
    /// The entitlement in the card model's terms.
    var entitlement: Entitlement { Entitlement(kind: kind, role: role, validFrom: validFrom, validUntil: validUntil) }
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

/// One chip (or printed card) as kiosks receive it: what the check needs and nothing more.
public struct CardView: Sendable, Codable, Hashable {
    /// Normalised card number.
    public var number: String
    /// Chip UID in upper-case hex, `nil` for printed cards.
    public var uid: String?
    /// How the card carries its identity.
    public var technology: CardTechnology
    /// Issue series, if recorded.
    public var series: String?
    /// Administrative status.
    public var status: CardStatus
    /// First valid day.
    public var validFrom: CivilDate?
    /// Last valid day.
    public var validUntil: CivilDate?
    /// UID of the chip that replaced this one.
    public var replacedByUID: String?
    /// First name and initial, e.g. "Anna K.".
    public var holderDisplayName: String
    /// Pseudonymous holder id.
    public var personID: String
    /// The holder's entitlements, current or not.
    public var entitlements: [EntitlementView]

    enum CodingKeys: String, CodingKey {
        case number, uid, technology, series, status
        case validFrom = "valid_from", validUntil = "valid_until", replacedByUID = "replaced_by_uid"
        case holderDisplayName = "holder_display_name", personID = "person_id", entitlements
    }

    /// Encodes `null` for absent values, so the shape is always the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(number, forKey: .number)
        try c.encode(uid, forKey: .uid)
        try c.encode(technology, forKey: .technology)
        try c.encode(series, forKey: .series)
        try c.encode(status, forKey: .status)
        try c.encode(validFrom, forKey: .validFrom)
        try c.encode(validUntil, forKey: .validUntil)
        try c.encode(replacedByUID, forKey: .replacedByUID)
        try c.encode(holderDisplayName, forKey: .holderDisplayName)
        try c.encode(personID, forKey: .personID)
        try c.encode(entitlements, forKey: .entitlements)
    }
}

/// What a kiosk shows a resident about one of its requests.
public struct RequestStatusView: Sendable, Codable, Hashable {
    /// The central's request id.
    public var requestID: Int64
    /// The kiosk's idempotency key for the request.
    public var idempotencyKey: String
    /// Current status.
    public var status: RequestStatus
    /// When the service is scheduled (RFC 3339), for `scheduled`.
    public var scheduledAt: String?

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", idempotencyKey = "idempotency_key", status, scheduledAt = "scheduled_at"
    }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(status, forKey: .status)
        try c.encode(scheduledAt, forKey: .scheduledAt)
    }
}

/// The kind of a change-feed entry.
public enum ChangeOp: String, Sendable, Codable {
    /// A card was created or changed: replace it.
    case upsert
    /// A card no longer exists: delete it.
    case remove
    /// One of this kiosk's requests changed status.
    case requestStatus = "request_status"
}

/// One change-feed entry.
public struct Change: Sendable, Codable, Hashable {
    /// Position in the global sequence.
    public var seq: Int64
    /// What changed.
    public var op: ChangeOp
    /// The card, for `upsert` and `remove`.
    public var card: CardView?
    /// The request, for `request_status`.
    public var request: RequestStatusView?

    /// Omits `card` or `request`, whichever does not apply.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(op, forKey: .op)
        try c.encodeIfPresent(card, forKey: .card)
        try c.encodeIfPresent(request, forKey: .request)
    }
}

/// One page of the change feed.
public struct ChangePage: Sendable, Codable {
    /// The changes after the cursor, in sequence order.
    public var changes: [Change]
    /// The cursor for the next call.
    public var nextAfter: Int64
    /// Whether more changes are ready now.
    public var hasMore: Bool

    enum CodingKeys: String, CodingKey {
        case changes, nextAfter = "next_after", hasMore = "has_more"
    }
}

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
public enum RequestStatus: String, Sendable, Codable, CaseIterable {
    case received, scheduled, done, declined

    /// `done` and `declined` close a request.
    public var isFinal: Bool { self == .done || self == .declined }
}

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

/// How the kiosk knew the card of a request.
public enum RequestIdentity: String, Sendable, Codable, CaseIterable {
    /// The resident tapped the card (or an old kiosk that does not say: absent means verified).
    case verified
    /// The resident typed the card number instead of tapping: staff confirm who it is (by phone).
    case unverified
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

/// The per-item outcome of a request batch.
public struct RequestResult: Sendable, Codable, Hashable {
    /// What happened to one item.
    public enum Outcome: String, Sendable, Codable {
        case accepted, duplicate, rejected
    }
    /// The item's key, when it had a readable one.
    public var idempotencyKey: String?
    public var outcome: Outcome
    /// The request created (now or the first time).
    public var requestID: Int64?
    /// Why it was rejected.
    public var reason: String?
    /// For `duplicate`: what the first submission got (`accepted` or `rejected`).
    public var firstOutcome: Outcome?

    enum CodingKeys: String, CodingKey {
        case idempotencyKey = "idempotency_key", outcome, requestID = "request_id", reason, firstOutcome = "first_outcome"
    }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(reason, forKey: .reason)
        try c.encode(firstOutcome, forKey: .firstOutcome)
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
