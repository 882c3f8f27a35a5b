public import CardModel
import Foundation

// Requests from kiosks to the central (`POST /v1/requests`) and the per-item answers.

/// How the kiosk knew the card of a request: the card model's ``CardModel/Identity`` on the wire
/// (`verified`: tapped; `unverified`: typed, so staff confirm the person; absent means verified).
public typealias RequestIdentity = Identity

/// What a request asks for.
public enum RequestKind: String, Sendable, Codable, CaseIterable {
    /// One service from the catalogue (`service` is its id).
    case service
    /// A bundle of services in one go (`service` is the bundle's id).
    case bundle
    /// A resident, with or without a card, asks a coordinator to call back (`service` optional).
    case callback
}

/// Why a request was declined, for the resident: a stable code and words in three languages.
public struct StatusReason: Sendable, Codable, Hashable {
    /// `quota_used`, `service_withdrawn`, `card_not_valid`, `not_entitled`, `coordinator` (words a coordinator wrote), …
    public var code: String
    /// What to tell the resident.
    public var text: LocalizedText

    /// A reason.
    public init(code: String, text: LocalizedText) {
        self.code = code
        self.text = text
    }
}

/// One request as a kiosk sends it (an item of `POST /v1/requests`).
///
/// The central reads items one by one as ``JSONValue`` (a malformed item is answered, never fails
/// the batch) and validates them into its own form; this is the shape a well-formed item has.
public struct RequestWireItem: Sendable, Codable, Hashable {
    /// A UUIDv7 made by the kiosk (``UUIDv7``).
    public var idempotencyKey: String
    /// The kiosk's own sequence number for the request.
    public var kioskSeq: Int64
    /// The kiosk's wall clock when the resident asked (RFC 3339).
    public var createdAt: String
    /// The code the resident was given; absent from kiosks older than tickets.
    public var ticket: Ticket?
    /// A service, a bundle or a call-back; absent means `service`.
    public var kind: RequestKind?
    /// The service's or bundle's id; optional for a call-back.
    public var service: String?
    /// The card number, as the kiosk holds it until delivery; absent for a call-back without a card.
    public var cardNumber: String?
    /// The request's details, checked against the catalogue's fields.
    public var details: JSONValue
    /// Whether the card was tapped or its number typed.
    public var identity: RequestIdentity
    /// A Polish phone number to call back on (`+48` and 9 digits), if the resident gave one.
    public var phone: String?
    /// The catalogue version the kiosk judged the request by.
    public var catalogueVersion: Int64?

    /// An item.
    public init(
        idempotencyKey: String, kioskSeq: Int64, createdAt: String, ticket: Ticket? = nil, kind: RequestKind? = .service,
        service: String?, cardNumber: String?, details: JSONValue, identity: RequestIdentity, phone: String? = nil,
        catalogueVersion: Int64? = nil
    ) {
        self.idempotencyKey = idempotencyKey
        self.kioskSeq = kioskSeq
        self.createdAt = createdAt
        self.ticket = ticket
        self.kind = kind
        self.service = service
        self.cardNumber = cardNumber
        self.details = details
        self.identity = identity
        self.phone = phone
        self.catalogueVersion = catalogueVersion
    }

    enum CodingKeys: String, CodingKey {
        case idempotencyKey = "idempotency_key", kioskSeq = "kiosk_seq", createdAt = "created_at", ticket, kind, service
        case cardNumber = "card_number", details, identity, phone, catalogueVersion = "catalogue_version"
    }
}

/// The body of `POST /v1/requests`.
public struct RequestBatch: Sendable, Codable, Hashable {
    /// The items, oldest first.
    public var requests: [RequestWireItem]
    /// A batch.
    public init(requests: [RequestWireItem]) { self.requests = requests }
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
    /// For a stored request: its status now (`declined` when a business rule refused it at the central).
    public var status: RequestStatus?
    /// For `declined`: why, for the resident.
    public var statusReason: StatusReason?
    /// The ticket the central holds the request under (the kiosk's, unless it had to give another).
    public var ticket: Ticket?

    /// A result with every field.
    public init(
        idempotencyKey: String? = nil, outcome: Outcome, requestID: Int64? = nil, reason: String? = nil, firstOutcome: Outcome? = nil,
        status: RequestStatus? = nil, statusReason: StatusReason? = nil, ticket: Ticket? = nil
    ) {
        self.idempotencyKey = idempotencyKey
        self.outcome = outcome
        self.requestID = requestID
        self.reason = reason
        self.firstOutcome = firstOutcome
        self.status = status
        self.statusReason = statusReason
        self.ticket = ticket
    }

    enum CodingKeys: String, CodingKey {
        case idempotencyKey = "idempotency_key", outcome, requestID = "request_id", reason, firstOutcome = "first_outcome"
        case status, statusReason = "status_reason", ticket
    }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(reason, forKey: .reason)
        try c.encode(firstOutcome, forKey: .firstOutcome)
        try c.encode(status, forKey: .status)
        try c.encode(statusReason, forKey: .statusReason)
        try c.encode(ticket, forKey: .ticket)
    }
}

/// The answer to `POST /v1/requests`: one result per item, in order.
public struct RequestResults: Sendable, Codable, Hashable {
    /// The results.
    public var results: [RequestResult]
    /// An answer.
    public init(results: [RequestResult]) { self.results = results }
}

/// The body of `POST /v1/holder/requests`: the card just presented at the kiosk, chip and all.
///
/// The central answers only when the chip is the number's current chip, so a kiosk token alone
/// cannot list anyone's requests by number.
public struct HolderQuery: Sendable, Codable, Hashable {
    /// The card number read from the chip.
    public var cardNumber: String
    /// The chip's UID in hex.
    public var uid: String

    /// A query.
    public init(cardNumber: String, uid: String) {
        self.cardNumber = cardNumber
        self.uid = uid
    }

    enum CodingKeys: String, CodingKey { case cardNumber = "card_number", uid }
}

/// One of a card holder's requests, as any kiosk may show it to that holder.
public struct HolderRequest: Sendable, Codable, Hashable {
    /// The central's id.
    public var requestID: Int64
    /// The key the kiosk that took it made.
    public var idempotencyKey: String
    /// The ticket.
    public var ticket: Ticket?
    /// Service, bundle or call-back.
    public var kind: RequestKind
    /// The service's or bundle's id.
    public var service: String?
    /// Where it is.
    public var status: RequestStatus
    /// When the kiosk took it (RFC 3339).
    public var createdAt: String
    /// The day it is scheduled for (`YYYY-MM-DD`).
    public var scheduledFor: String?
    /// Why it was declined.
    public var reason: StatusReason?

    /// A request.
    public init(
        requestID: Int64, idempotencyKey: String, ticket: Ticket?, kind: RequestKind, service: String?, status: RequestStatus,
        createdAt: String, scheduledFor: String? = nil, reason: StatusReason? = nil
    ) {
        self.requestID = requestID
        self.idempotencyKey = idempotencyKey
        self.ticket = ticket
        self.kind = kind
        self.service = service
        self.status = status
        self.createdAt = createdAt
        self.scheduledFor = scheduledFor
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", idempotencyKey = "idempotency_key", ticket, kind, service, status
        case createdAt = "created_at", scheduledFor = "scheduled_for", reason
    }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(ticket, forKey: .ticket)
        try c.encode(kind, forKey: .kind)
        try c.encode(service, forKey: .service)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(scheduledFor, forKey: .scheduledFor)
        try c.encode(reason, forKey: .reason)
    }
}

/// The answer to `POST /v1/holder/requests`: the holder's open requests and those closed in the last 90 days, newest first.
public struct HolderRequests: Sendable, Codable, Hashable {
    /// The requests.
    public var requests: [HolderRequest]
    /// A list.
    public init(requests: [HolderRequest]) { self.requests = requests }
}
