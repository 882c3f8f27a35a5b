public import CardModel
import Foundation

// Requests from kiosks to the central (`POST /v1/requests`) and the per-item answers.

/// How the kiosk knew the card of a request: the card model's ``CardModel/Identity`` on the wire
/// (`verified`: tapped; `unverified`: typed, so staff confirm the person; absent means verified).
public typealias RequestIdentity = Identity

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
    /// The service id.
    public var service: String
    /// The card number, as the kiosk holds it until delivery.
    public var cardNumber: String
    /// A small free-form object.
    public var details: JSONValue
    /// Whether the card was tapped or its number typed.
    public var identity: RequestIdentity

    /// An item.
    public init(idempotencyKey: String, kioskSeq: Int64, createdAt: String, service: String, cardNumber: String, details: JSONValue, identity: RequestIdentity) {
        self.idempotencyKey = idempotencyKey
        self.kioskSeq = kioskSeq
        self.createdAt = createdAt
        self.service = service
        self.cardNumber = cardNumber
        self.details = details
        self.identity = identity
    }

    enum CodingKeys: String, CodingKey {
        case idempotencyKey = "idempotency_key", kioskSeq = "kiosk_seq", createdAt = "created_at", service
        case cardNumber = "card_number", details, identity
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

    /// A result with every field.
    public init(idempotencyKey: String? = nil, outcome: Outcome, requestID: Int64? = nil, reason: String? = nil, firstOutcome: Outcome? = nil) {
        self.idempotencyKey = idempotencyKey
        self.outcome = outcome
        self.requestID = requestID
        self.reason = reason
        self.firstOutcome = firstOutcome
    }

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

/// The answer to `POST /v1/requests`: one result per item, in order.
public struct RequestResults: Sendable, Codable, Hashable {
    /// The results.
    public var results: [RequestResult]
    /// An answer.
    public init(results: [RequestResult]) { self.results = results }
}
