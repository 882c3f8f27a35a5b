public import CardModel
import Foundation

/// One resident's service request as the kiosk keeps it until the central has it.
public struct OutboxItem: Sendable, Equatable {
    /// Where the request is on its way to the central.
    public enum State: Sendable, Equatable {
        /// Not yet acknowledged by the central; sent again until it is.
        case pending
        /// The central has it: `accepted` now, or `duplicate` of an earlier delivery.
        case delivered(outcome: DeliveryOutcome, requestID: Int64?)
        /// The central refused it for good (the reason is the central's); never sent again.
        case quarantined(reason: String)

        /// `pending`, `delivered` or `quarantined`.
        public var name: String {
            switch self {
            case .pending: "pending"
            case .delivered: "delivered"
            case .quarantined: "quarantined"
            }
        }
    }

    /// The idempotency key: a UUIDv7 made at the kiosk; the id the resident's screen shows.
    public var idempotencyKey: String
    /// Per-kiosk, strictly increasing, never reused.
    public var kioskSeq: Int64
    /// The kiosk's wall clock when the resident asked, RFC 3339 UTC with whole seconds.
    public var createdAt: String
    /// A service id from the catalogue.
    public var service: String
    /// The normalised card number; `nil` once delivered or quarantined (it is blanked then).
    public var cardNumber: String?
    /// `unverified` when the resident typed a card number instead of tapping the card.
    public var identity: Identity
    /// A small JSON object, as compact text.
    public var detailsJSON: String
    public var state: State
    /// How many uploads of this item failed without an answer for it.
    public var attempts: Int
    /// The last failure, for the status page; never holds a card number.
    public var lastError: String?
    /// The status staff gave it at the central (`received`, `scheduled`, `done`, `declined`), once the feed said so.
    public var centralStatus: String?
    /// When it is scheduled (RFC 3339), for `scheduled`.
    public var scheduledAt: String?
}

/// What the central said about a delivered request.
public enum DeliveryOutcome: String, Sendable, Equatable {
    case accepted, duplicate
}

/// The result of one upload for one item, recorded by ``Outbox/record(_:)``.
public enum DeliveryResult: Sendable, Equatable {
    /// The central has it.
    case delivered(DeliveryOutcome, requestID: Int64?)
    /// The central refused it for good.
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

    public init(idempotencyKey: String, requestID: Int64, status: String, scheduledAt: String?) {
        self.idempotencyKey = idempotencyKey
        self.requestID = requestID
        self.status = status
        self.scheduledAt = scheduledAt
    }
}

/// How many requests wait, for `/api/v1/status`.
public struct OutboxCounts: Sendable, Equatable {
    public var pending: Int
    public var quarantined: Int
    public var delivered: Int

    public init(pending: Int, quarantined: Int, delivered: Int) {
        self.pending = pending
        self.quarantined = quarantined
        self.delivered = delivered
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
        case .database:
            "Outbox \(path): \(detail). Check that the state directory is writable and the disk is not full."
        }
    }
}
