public import CardModel
public import CentralWire
import Foundation
import Outbox
public import ServiceRules

// What the local API shows of the catalogue and of requests (`GET /api/v1/services`,
// `POST /api/v1/requests`, `GET /api/v1/requests`). Encoded with `JSONEncoder.kioskAPI` (snake_case).

/// The body of `GET /api/v1/services`.
public struct ServiceListing: Sendable, Encodable, Equatable {
    /// The version of the catalogue everything here comes from.
    public var catalogueVersion: Int64
    public var services: [ServiceOffer]
    public var bundles: [BundleOffer]
}

/// One service as one person may use it now.
public struct ServiceOffer: Sendable, Encodable, Equatable {
    public var id: String
    public var name: LocalizedText
    public var description: LocalizedText
    public var provider: Provider
    public var hours: ServiceHours
    public var fields: [DetailField]
    /// The earliest day a date in the details may be, counted from today (1: tomorrow).
    public var leadDays: Int
    public var nextStep: LocalizedText
    /// Whether this person may request it now.
    public var available: Bool
    /// Why not, when not: a code (``UnavailableReason``) and words in three languages.
    public var reason: StatusReason?
    /// What this person would pay; `null` when it is not open to them.
    public var fee: Fee?

    init(_ s: ServiceDefinition, assessment a: Assessment) {
        id = s.id
        name = s.name
        description = s.description
        provider = s.provider
        hours = s.hours
        fields = s.fields
        leadDays = s.leadDays
        nextStep = s.nextStep
        available = a.available
        reason = a.available ? nil : (a.reason ?? .notOfferedNow).status
        fee = a.fee
    }

    enum CodingKeys: String, CodingKey { case id, name, description, provider, hours, fields, leadDays, nextStep, available, reason, fee }

    /// `fee` is always present (`null` when none applies); `reason` only when not available.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(provider, forKey: .provider)
        try c.encode(hours, forKey: .hours)
        try c.encode(fields, forKey: .fields)
        try c.encode(leadDays, forKey: .leadDays)
        try c.encode(nextStep, forKey: .nextStep)
        try c.encode(available, forKey: .available)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(fee, forKey: .fee)
    }
}

/// One bundle as one person may use it now.
public struct BundleOffer: Sendable, Encodable, Equatable {
    public var id: String
    public var name: LocalizedText
    public var description: LocalizedText
    /// The services it asks for, by id.
    public var services: [String]
    /// The details a request must carry: each service's fields, each asked once.
    public var fields: [DetailField]
    /// The earliest day a date may be: the latest of its services'.
    public var leadDays: Int
    public var nextStep: LocalizedText
    /// Whether every service in it may be requested now.
    public var available: Bool
    /// The first service's reason, when not available.
    public var reason: StatusReason?
    /// What this person would pay for each service, by id (`null` where none applies).
    public var fees: [String: Fee?]

    init(_ b: ServiceBundle, fields: [DetailField], leadDays: Int, available: Bool, reason: UnavailableReason?, fees: [String: Fee?]) {
        id = b.id
        name = b.name
        description = b.description
        services = b.services
        self.fields = fields
        self.leadDays = leadDays
        nextStep = b.nextStep
        self.available = available
        self.reason = available ? nil : (reason ?? .notOfferedNow).status
        self.fees = fees
    }

    enum CodingKeys: String, CodingKey { case id, name, description, services, fields, leadDays, nextStep, available, reason, fees }

    /// `reason` only when not available; every fee present, `null` where none applies.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(services, forKey: .services)
        try c.encode(fields, forKey: .fields)
        try c.encode(leadDays, forKey: .leadDays)
        try c.encode(nextStep, forKey: .nextStep)
        try c.encode(available, forKey: .available)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(fees, forKey: .fees)
    }
}

extension UnavailableReason {
    /// The reason as the API shows it: `{"code", "text": {pl, uk, en}}`.
    public var status: StatusReason { StatusReason(code: rawValue, text: text) }
}

/// The body of a `201` from `POST /api/v1/requests`: the request, and its ticket and next step again at the top.
public struct AcceptedRequest: Sendable, Encodable, Equatable {
    /// The request as queued.
    public struct Receipt: Sendable, Encodable, Equatable {
        /// The idempotency key (UUIDv7).
        public var id: String
        public var ticket: String?
        public var kind: RequestKind
        /// The service's or bundle's id; `null` for a call-back about nothing in particular.
        public var service: String?
        /// Always `queued`: it waits at this kiosk until the central has it.
        public var status: String
        public var createdAt: String
        /// What the resident will pay (a service), `null` when free of any rule (a call-back, a bundle).
        public var fee: Fee?
        /// For a bundle: each service's fee.
        public var fees: [String: Fee?]?
        public var nextStep: LocalizedText
        /// `verified` (tapped card) or `unverified` (typed number, call-back).
        public var identity: Identity

        enum CodingKeys: String, CodingKey { case id, ticket, kind, service, status, createdAt, fee, fees, nextStep, identity }

        /// `service` and `fee` are always present; `fees` only for a bundle.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(ticket, forKey: .ticket)
            try c.encode(kind, forKey: .kind)
            try c.encode(service, forKey: .service)
            try c.encode(status, forKey: .status)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(fee, forKey: .fee)
            try c.encodeIfPresent(fees, forKey: .fees)
            try c.encode(nextStep, forKey: .nextStep)
            try c.encode(identity, forKey: .identity)
        }
    }

    public var request: Receipt
    /// The same ticket as `request.ticket`.
    public var ticket: String?
    /// The same next step as `request.next_step`.
    public var nextStep: LocalizedText
    /// `true` when the ticket was sent to the kiosk's printer (absent without a printer).
    public var printed: Bool?

    init(_ item: OutboxItem, fee: Fee?, fees: [String: Fee?]?, nextStep: LocalizedText) {
        request = Receipt(
            id: item.idempotencyKey, ticket: item.ticket, kind: item.kind, service: item.service, status: "queued",
            createdAt: item.createdAt, fee: fee, fees: fees, nextStep: nextStep, identity: item.identity
        )
        ticket = item.ticket
        self.nextStep = nextStep
    }
}

/// One request as a resident (or the screen) sees it: `GET /api/v1/requests` and `GET /api/v1/requests/{id}`.
public struct RequestView: Sendable, Encodable, Equatable {
    /// The idempotency key.
    public var id: String
    public var ticket: String?
    public var kind: RequestKind
    /// The service's or bundle's id.
    public var service: String?
    /// `queued` (waiting at this kiosk), `received`, `scheduled`, `done` or `declined`
    /// (`discarded` on `GET /api/v1/requests/{id}` only, for one staff took out of quarantine).
    public var status: String
    public var createdAt: String?
    /// The day it is scheduled for.
    public var scheduledFor: String?
    /// The time it is scheduled for, when the central set one (RFC 3339).
    public var scheduledAt: String?
    /// Why it was declined.
    public var reason: StatusReason?

    init(_ r: HolderRequest) {
        id = r.idempotencyKey.lowercased()
        ticket = r.ticket?.code
        kind = r.kind
        service = r.service
        status = r.status.rawValue
        createdAt = r.createdAt
        scheduledFor = r.scheduledFor
        reason = r.reason
    }

    /// A kiosk item's view; `nil` for a discarded one unless asked for.
    init?(_ item: OutboxItem, includeDiscarded: Bool = false) {
        switch item.state {
        case .pending, .quarantined: status = "queued"
        case .delivered: status = item.centralStatus ?? RequestStatus.received.rawValue
        case .discarded:
            guard includeDiscarded else { return nil }
            status = "discarded"
        }
        id = item.idempotencyKey
        ticket = item.ticket
        kind = item.kind
        service = item.service
        createdAt = item.createdAt
        scheduledFor = item.scheduledFor
        scheduledAt = item.scheduledAt
        reason = item.reason
    }
}
