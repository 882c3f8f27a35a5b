public import CardModel
import Foundation

// The change feed and the snapshot: what the central publishes and every kiosk reads
// (`GET /v1/registry/changes`, `GET /v1/registry/snapshot`). One definition for both sides,
// checked against `docs/openapi/central.yaml` by `CentralWireTests`.

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


    /// A card with every field.
    public init(number: String, uid: String? = nil, technology: CardTechnology, series: String? = nil, status: CardStatus, validFrom: CivilDate? = nil, validUntil: CivilDate? = nil, replacedByUID: String? = nil, holderDisplayName: String, personID: String, entitlements: [EntitlementView]) {
        self.number = number
        self.uid = uid
        self.technology = technology
        self.series = series
        self.status = status
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.replacedByUID = replacedByUID
        self.holderDisplayName = holderDisplayName
        self.personID = personID
        self.entitlements = entitlements
    }

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
    /// When the service is scheduled (RFC 3339), for `scheduled`, when a time was set.
    public var scheduledAt: String?
    /// The day the service is scheduled for (`YYYY-MM-DD`), for `scheduled`.
    public var scheduledFor: String?
    /// Why, for `declined`.
    public var reason: StatusReason?
    /// The request's ticket.
    public var ticket: Ticket?

    /// A status view with every field.
    public init(
        requestID: Int64, idempotencyKey: String, status: RequestStatus, scheduledAt: String? = nil, scheduledFor: String? = nil,
        reason: StatusReason? = nil, ticket: Ticket? = nil
    ) {
        self.requestID = requestID
        self.idempotencyKey = idempotencyKey
        self.status = status
        self.scheduledAt = scheduledAt
        self.scheduledFor = scheduledFor
        self.reason = reason
        self.ticket = ticket
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", idempotencyKey = "idempotency_key", status, scheduledAt = "scheduled_at"
        case scheduledFor = "scheduled_for", reason, ticket
    }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(status, forKey: .status)
        try c.encode(scheduledAt, forKey: .scheduledAt)
        try c.encode(scheduledFor, forKey: .scheduledFor)
        try c.encode(reason, forKey: .reason)
        try c.encode(ticket, forKey: .ticket)
    }
}

/// Where a request is at the central.
public enum RequestStatus: String, Sendable, Codable, CaseIterable {
    case received, scheduled, done, declined

    /// `done` and `declined` close a request.
    public var isFinal: Bool { self == .done || self == .declined }
}

/// The kind of a change-feed entry.
public enum ChangeOp: String, Sendable, Codable, CaseIterable {
    /// A card was created or changed: replace it.
    case upsert
    /// A card no longer exists: delete it.
    case remove
    /// One of this kiosk's requests changed status.
    case requestStatus = "request_status"
    /// Staff published a new version of the service catalogue: replace the whole catalogue.
    case catalogue
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
    /// The whole new catalogue, for `catalogue`.
    public var catalogue: Catalogue?

    /// A feed entry with every field.
    public init(seq: Int64, op: ChangeOp, card: CardView? = nil, request: RequestStatusView? = nil, catalogue: Catalogue? = nil) {
        self.seq = seq
        self.op = op
        self.card = card
        self.request = request
        self.catalogue = catalogue
    }

    /// Omits `card`, `request` or `catalogue`, whichever does not apply.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq)
        try c.encode(op, forKey: .op)
        try c.encodeIfPresent(card, forKey: .card)
        try c.encodeIfPresent(request, forKey: .request)
        try c.encodeIfPresent(catalogue, forKey: .catalogue)
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

    /// A page with every field.
    public init(changes: [Change], nextAfter: Int64, hasMore: Bool) {
        self.changes = changes
        self.nextAfter = nextAfter
        self.hasMore = hasMore
    }

    enum CodingKeys: String, CodingKey {
        case changes, nextAfter = "next_after", hasMore = "has_more"
    }
}

/// The first line of a snapshot: the feed position it was taken at and how many cards follow.
public struct SnapshotHeader: Sendable, Codable, Hashable {
    /// The feed sequence number the snapshot is consistent with; read the feed after it.
    public var seq: Int64
    /// The number of card lines that follow.
    public var cards: Int

    /// A header.
    public init(seq: Int64, cards: Int) {
        self.seq = seq
        self.cards = cards
    }
}
