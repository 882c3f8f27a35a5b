public import CardModel
public import CentralWire
import Foundation

/// One resident's request as the kiosk keeps it until the central has it (and, settled, for a while after).
public struct OutboxItem: Sendable, Equatable {
    /// Where the request is on its way to the central.
    public enum State: Sendable, Equatable {
        /// Not yet acknowledged by the central; sent again until it is.
        case pending
        /// The central has it: `accepted` now, or `duplicate` of an earlier delivery.
        case delivered(outcome: DeliveryOutcome, requestID: Int64?)
        /// The central could not read it (the reason is the central's); never sent again unless staff
        /// re-queue it (`kioskctl outbox requeue`). Keeps the card number and phone until a person has dealt with it.
        case quarantined(reason: String)
        /// Staff discarded it from quarantine (`kioskctl outbox discard`); its card number and phone are erased.
        case discarded

        /// `pending`, `delivered`, `quarantined` or `discarded`.
        public var name: String {
            switch self {
            case .pending: "pending"
            case .delivered: "delivered"
            case .quarantined: "quarantined"
            case .discarded: "discarded"
            }
        }
    }

    /// The idempotency key: a UUIDv7 made at the kiosk; the id the resident's screen shows.
    public var idempotencyKey: String
    /// Per-kiosk, strictly increasing, never reused.
    public var kioskSeq: Int64
    /// The kiosk's wall clock when the resident asked, RFC 3339 UTC with whole seconds.
    public var createdAt: String
    /// A service, a bundle or a call-back.
    public var kind: RequestKind
    /// A service's or bundle's id from the catalogue; optional for a call-back.
    public var service: String?
    /// The code the resident was given (``Ticket``), `nil` for items queued without one.
    public var ticket: String?
    /// The normalised card number while the item is pending or quarantined; `nil` once delivered or
    /// discarded, and always for a call-back.
    public var cardNumber: String?
    /// A Polish phone number (`+48…`) to call back on, kept only while pending or quarantined.
    public var phone: String?
    /// HMAC-SHA256 of the card number under this outbox's own key (hex): lets the kiosk count a card's
    /// requests after delivery without keeping the number. `nil` for a call-back.
    public var cardTag: String?
    /// The calendar month in Warsaw the request was made in (`YYYY-MM`), for quotas.
    public var month: String?
    /// `unverified` when the resident typed a card number instead of tapping the card, and for call-backs.
    public var identity: Identity
    /// A small JSON object, as compact text.
    public var detailsJSON: String
    /// The catalogue version the request was judged by.
    public var catalogueVersion: Int64?
    public var state: State
    /// How many uploads of this item failed without an answer for it.
    public var attempts: Int
    /// The last failure, for the status page; never holds a card number.
    public var lastError: String?
    /// The status the central gave it (`received`, `scheduled`, `done`, `declined`), from its answer or the feed.
    public var centralStatus: String?
    /// When it is scheduled (RFC 3339), when the central set a time.
    public var scheduledAt: String?
    /// The day it is scheduled for (`YYYY-MM-DD`).
    public var scheduledFor: String?
    /// Why the central declined it, for the resident.
    public var reason: StatusReason?
    /// When it was settled (delivered, quarantined or discarded).
    public var settledAt: String?
}

/// A request to queue: what ``Outbox/enqueue(_:ticketKiosk:at:)`` stores.
public struct NewRequest: Sendable, Equatable {
    /// A service, a bundle or a call-back.
    public var kind: RequestKind
    /// The service's or bundle's id; optional for a call-back.
    public var service: String?
    /// The normalised card number; required unless `kind` is `callback`, and must be `nil` for one.
    public var cardNumber: String?
    /// `unverified` for a typed number or a call-back.
    public var identity: Identity
    /// The checked details, a JSON object of at most ``Outbox/maxDetailsBytes`` bytes.
    public var detailsJSON: String
    /// A normalised Polish phone number (`+48` and 9 digits), if the resident gave one.
    public var phone: String?
    /// The catalogue version the request was judged by.
    public var catalogueVersion: Int64?

    /// A request to queue.
    public init(
        kind: RequestKind, service: String?, cardNumber: String?, identity: Identity, detailsJSON: String = "{}", phone: String? = nil,
        catalogueVersion: Int64? = nil
    ) {
        self.kind = kind
        self.service = service
        self.cardNumber = cardNumber
        self.identity = identity
        self.detailsJSON = detailsJSON
        self.phone = phone
        self.catalogueVersion = catalogueVersion
    }
}

/// What the central said about a delivered request.
public enum DeliveryOutcome: String, Sendable, Equatable {
    case accepted, duplicate
}

/// The result of one upload for one item, recorded by ``Outbox/record(_:at:)``.
public enum DeliveryResult: Sendable, Equatable {
    /// The central has it; `status` is its status there now (`declined` with `reason` when a business
    /// rule refused it), `ticket` the ticket it holds it under when that is not the kiosk's.
    case delivered(DeliveryOutcome, requestID: Int64?, status: String? = nil, reason: StatusReason? = nil, ticket: String? = nil)
    /// The central could not read it: quarantined for staff.
    case rejected(reason: String)
    /// No answer for this item (network, timeout, a 5xx, a malformed reply): keep it pending.
    case failed(error: String)
}

/// A status change for one of this kiosk's requests, from the central's feed (`request_status`).
public struct RequestStatusUpdate: Sendable, Equatable {
    public var idempotencyKey: String
    public var requestID: Int64
    public var status: String
    public var scheduledAt: String?
    /// The day it is scheduled for (`YYYY-MM-DD`).
    public var scheduledFor: String?
    /// Why it was declined.
    public var reason: StatusReason?
    /// The ticket the central holds it under.
    public var ticket: String?

    /// An update.
    public init(
        idempotencyKey: String, requestID: Int64, status: String, scheduledAt: String?, scheduledFor: String? = nil,
        reason: StatusReason? = nil, ticket: String? = nil
    ) {
        self.idempotencyKey = idempotencyKey
        self.requestID = requestID
        self.status = status
        self.scheduledAt = scheduledAt
        self.scheduledFor = scheduledFor
        self.reason = reason
        self.ticket = ticket
    }
}

/// How many requests wait, for `/api/v1/status`.
public struct OutboxCounts: Sendable, Equatable {
    public var pending: Int
    public var quarantined: Int
    public var delivered: Int
    /// Discarded from quarantine by staff.
    public var discarded: Int

    public init(pending: Int, quarantined: Int, delivered: Int, discarded: Int = 0) {
        self.pending = pending
        self.quarantined = quarantined
        self.delivered = delivered
        self.discarded = discarded
    }
}

/// Why the outbox cannot be used, and what to do about it.
public struct OutboxError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The file is not an outbox (another SQLite file, or not SQLite at all).
        case foreign
        /// The file was written by a newer kioskd.
        case tooNew = "too_new"
        /// Something the caller passed cannot be queued.
        case invalid
        /// No item has that key or ticket.
        case notFound = "not_found"
        /// The item is not in a state that allows the change (re-queueing a delivered item).
        case wrongState = "wrong_state"
        /// SQLite failed (disk full, I/O, permissions).
        case database
    }

    public var code: Code
    public var path: String
    public var detail: String

    public init(code: Code, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .foreign:
            "The file \(path) is not a cus-kiosk outbox (\(detail)). kioskd will not overwrite it: it may hold residents' requests; move it aside and restart."
        case .tooNew:
            "The outbox \(path) was written by a newer kioskd (\(detail)). Install the newer kioskd."
        case .invalid:
            "Cannot queue the request: \(detail)"
        case .notFound:
            "No request in \(path) has the key or ticket \(detail); list them with kioskctl outbox list."
        case .wrongState:
            "Cannot do that: \(detail)"
        case .database:
            "Outbox \(path): \(detail). Check that the state directory is writable and the disk is not full."
        }
    }
}
