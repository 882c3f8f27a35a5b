public import CardModel
public import CentralWire
import Foundation

/// What an import did.
public struct RegistryImportReport: Sendable, Equatable {
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
    /// A kiosk's number (the first part of its tickets and of its token); `nil` for staff.
    public var number: Int64?
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

/// A status change by staff.
public struct RequestStatusChange: Sendable, Codable {
    /// The new status.
    public var status: RequestStatus
    /// RFC 3339 time of the appointment; `scheduled` needs it or ``scheduledFor``.
    public var scheduledAt: String?
    /// The day of the appointment (`YYYY-MM-DD`); taken from ``scheduledAt`` (in Warsaw) when absent.
    public var scheduledFor: String?
    /// Why, in the coordinator's words; required for `declined`.
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case status, scheduledAt = "scheduled_at", scheduledFor = "scheduled_for", reason
    }

    /// A status change.
    public init(status: RequestStatus, scheduledAt: String? = nil, scheduledFor: String? = nil, reason: String? = nil) {
        self.status = status
        self.scheduledAt = scheduledAt
        self.scheduledFor = scheduledFor
        self.reason = reason
    }
}

/// Which request a coordinator means: its ticket (as read over the phone) or the central's id.
public enum RequestRef: Sendable, Hashable, CustomStringConvertible {
    /// The central's request id.
    case id(Int64)
    /// The ticket the resident was given.
    case ticket(Ticket)

    /// A positive whole number is an id; anything else must be a ticket (case and spaces do not matter).
    /// - Returns: `nil` for neither.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard let id = Int64(trimmed), id > 0 else { return nil }
            self = .id(id)
        } else if let ticket = Ticket(parsing: trimmed) {
            self = .ticket(ticket)
        } else {
            return nil
        }
    }

    /// `request 42` or `ticket B7-4KXMQ`.
    public var description: String {
        switch self {
        case .id(let id): "request \(id)"
        case .ticket(let ticket): "ticket \(ticket.code)"
        }
    }

    /// What to write instead of something that is not a reference.
    public static let help = "a ticket such as B7-4KXMQ (case and spaces do not matter) or a request id such as 42"
}

/// A request as staff see it.
public struct StoredRequest: Sendable, Codable, Hashable {
    /// The central's id.
    public var id: Int64
    /// The kiosk's key for it.
    public var idempotencyKey: String
    /// The name of the kiosk that took it.
    public var kiosk: String
    /// The kiosk's own sequence number.
    public var kioskSeq: Int64
    /// The kiosk's wall clock when the resident made it (RFC 3339, as sent).
    public var createdAt: String
    /// The central's clock when it arrived (RFC 3339, UTC).
    public var receivedAt: String
    /// The ticket the resident was given (absent for requests from kiosks older than tickets).
    public var ticket: Ticket?
    /// A service, a bundle or a call-back.
    public var kind: RequestKind
    /// The service's or bundle's id; empty for a call-back about nothing in particular.
    public var service: String
    /// The card number; absent for a call-back from a resident without a card.
    public var cardNumber: String?
    /// The phone number to call back on (`+48…`), if the resident gave one.
    public var phone: String?
    /// The details object.
    public var details: JSONValue
    /// Where it is.
    public var status: RequestStatus
    /// The appointment (RFC 3339), when a time was set.
    public var scheduledAt: String?
    /// The day of the appointment (`YYYY-MM-DD`), for `scheduled` (and kept by `done`).
    public var scheduledFor: String?
    /// Why it was declined, in words (the coordinator's, or the central's English text).
    public var reason: String?
    /// Why it was declined, as a code: `coordinator`, `quota_used`, `service_withdrawn`, `card_not_valid`, `not_entitled`.
    public var reasonCode: String?
    /// `unverified` when the resident typed the card number (or asked for a call-back): confirm the person before serving.
    public var identity: RequestIdentity

    enum CodingKeys: String, CodingKey {
        case id, idempotencyKey = "idempotency_key", kiosk, kioskSeq = "kiosk_seq", createdAt = "created_at"
        case receivedAt = "received_at", ticket, kind, service, cardNumber = "card_number", phone, details, status
        case scheduledAt = "scheduled_at", scheduledFor = "scheduled_for", reason, reasonCode = "reason_code", identity
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
        try c.encode(ticket, forKey: .ticket)
        try c.encode(kind, forKey: .kind)
        try c.encode(service, forKey: .service)
        try c.encode(cardNumber, forKey: .cardNumber)
        try c.encode(phone, forKey: .phone)
        try c.encode(details, forKey: .details)
        try c.encode(status, forKey: .status)
        try c.encode(scheduledAt, forKey: .scheduledAt)
        try c.encode(scheduledFor, forKey: .scheduledFor)
        try c.encode(reason, forKey: .reason)
        try c.encode(reasonCode, forKey: .reasonCode)
        try c.encode(identity, forKey: .identity)
    }
}

/// A well-formed request from a kiosk, ready to store (and to judge by the central's rules).
public struct RequestSubmission: Sendable, Hashable {
    /// The kiosk's key (lower case).
    public var idempotencyKey: String
    /// The kiosk's own sequence number.
    public var kioskSeq: Int64
    /// The kiosk's clock when the resident asked (RFC 3339, as sent).
    public var createdAt: String
    /// The ticket the kiosk gave the resident.
    public var ticket: Ticket?
    /// A service, a bundle or a call-back.
    public var kind: RequestKind
    /// The service's or bundle's id; `nil` only for a call-back.
    public var service: String?
    /// The card number; `nil` for a call-back (or a request) without a card.
    public var cardNumber: CardNumber?
    /// Details as compact JSON text.
    public var detailsJSON: String
    /// Whether the card was tapped (`verified`) or its number typed (`unverified`); call-backs are `unverified`.
    public var identity: RequestIdentity
    /// The phone number, normalised to `+48` and 9 digits.
    public var phone: String?
    /// The catalogue version the kiosk judged the request by.
    public var catalogueVersion: Int64?
}

/// One item of a batch: well formed, or refused with a reason before touching the store.
public enum RequestItem: Sendable, Hashable {
    /// Well formed: stored, as `received` or `declined`.
    case valid(RequestSubmission)
    /// Not readable: answered `rejected` with `reason`.
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

