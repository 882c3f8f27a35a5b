import CardModel
import Foundation
import KioskCore
import Outbox
import Replica

/// The central's JSON, as `docs/openapi/central.yaml` defines it; decoded strictly and checked
/// before anything local changes.
enum Wire {
    struct Entitlement: Decodable {
        var kind: EntitlementKind
        var role: FamilyRole?
        var validFrom: CivilDate
        var validUntil: CivilDate?
        enum CodingKeys: String, CodingKey { case kind, role, validFrom = "valid_from", validUntil = "valid_until" }
    }

    struct Card: Decodable {
        var number: String
        var uid: String?
        var technology: CardTechnology
        var series: String?
        var status: CardStatus
        var validFrom: CivilDate?
        var validUntil: CivilDate?
        var replacedByUID: String?
        var holderDisplayName: String
        var personID: String
        var entitlements: [Entitlement]
        enum CodingKeys: String, CodingKey {
            case number, uid, technology, series, status
            case validFrom = "valid_from", validUntil = "valid_until", replacedByUID = "replaced_by_uid"
            case holderDisplayName = "holder_display_name", personID = "person_id", entitlements
        }

        /// The checked replica form; throws ``SyncError`` `.malformed` for a card that breaks the
        /// registry rules the central also publishes by (``CardModel/RegistryRules``).
        func synced() throws(SyncError) -> SyncedCard {
            let list = entitlements.map { CardModel.Entitlement(kind: $0.kind, role: $0.role, validFrom: $0.validFrom, validUntil: $0.validUntil) }
            let checked: (number: CardNumber, uid: ChipUID?, replacedBy: ChipUID?)
            do {
                checked = try RegistryRules.checkCard(
                    number: number, uid: uid, technology: technology, series: series, validFrom: validFrom, validUntil: validUntil,
                    replacedByUID: replacedByUID, holderDisplayName: holderDisplayName, personID: personID, entitlements: list
                )
            } catch {
                let masked = (try? CardNumber(normalising: number))?.masked ?? "with an invalid number"
                throw SyncError(.malformed, "a card \(masked) breaks the registry rules: \(error)")
            }
            return SyncedCard(
                number: checked.number, uid: checked.uid, technology: technology, series: series, status: status,
                validFrom: validFrom, validUntil: validUntil, replacedByUID: checked.replacedBy,
                holderDisplayName: holderDisplayName, personRef: personID, entitlements: list
            )
        }
    }

    struct RequestStatusView: Decodable {
        var requestID: Int64
        var idempotencyKey: String
        var status: String
        var scheduledAt: String?
        enum CodingKeys: String, CodingKey {
            case requestID = "request_id", idempotencyKey = "idempotency_key", status, scheduledAt = "scheduled_at"
        }
    }

    struct Change: Decodable {
        var seq: Int64
        var op: String
        var card: Card?
        var request: RequestStatusView?
    }

    struct ChangePage: Decodable {
        var changes: [Change]
        var nextAfter: Int64
        var hasMore: Bool
        enum CodingKeys: String, CodingKey { case changes, nextAfter = "next_after", hasMore = "has_more" }
    }

    struct SnapshotHeader: Decodable {
        var seq: Int64
        var cards: Int
    }

    struct RequestResult: Decodable {
        var idempotencyKey: String?
        var outcome: String
        var requestID: Int64?
        var reason: String?
        var firstOutcome: String?
        enum CodingKeys: String, CodingKey {
            case idempotencyKey = "idempotency_key", outcome, requestID = "request_id", reason, firstOutcome = "first_outcome"
        }
    }

    struct Results: Decodable {
        var results: [RequestResult]
    }

    struct Service: Decodable {
        var id: String
        var name: LocalizedText
        var entitlements: [EntitlementKind]
    }

    struct Services: Decodable {
        var services: [Service]
    }

    struct ErrorBody: Decodable {
        struct Inner: Decodable {
            var code: String
            var message: String
        }
        var error: Inner
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(SyncError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw SyncError(.malformed, "\(what) is not the expected JSON")
        }
    }
}

extension CentralFeedPage {
    /// Checks a page fetched after `cursor`: sequence numbers grow, stay after the cursor and within `next_after`.
    init(_ page: Wire.ChangePage, after cursor: Int64) throws(SyncError) {
        guard page.nextAfter >= cursor else { throw SyncError(.malformed, "next_after \(page.nextAfter) goes back before \(cursor)") }
        guard !(page.hasMore && page.nextAfter == cursor) else { throw SyncError(.malformed, "has_more without progress") }
        var last = cursor
        var changes: [SyncedChange] = []
        var statuses: [RequestStatusUpdate] = []
        for change in page.changes {
            guard change.seq > last, change.seq <= page.nextAfter else { throw SyncError(.malformed, "feed entries out of order") }
            last = change.seq
            switch change.op {
            case "upsert", "remove":
                guard let card = change.card else { throw SyncError(.malformed, "a \(change.op) entry without a card") }
                let synced = try card.synced()
                changes.append(change.op == "upsert" ? .upsert(synced) : .remove(synced))
            case "request_status":
                guard let r = change.request, UUIDv7.isValid(r.idempotencyKey),
                      ["received", "scheduled", "done", "declined"].contains(r.status)
                else { throw SyncError(.malformed, "a request_status entry that cannot be read") }
                statuses.append(.init(idempotencyKey: r.idempotencyKey, requestID: r.requestID, status: r.status, scheduledAt: r.scheduledAt.map { String($0.prefix(40)) }))
            default:
                // An op this kiosk does not know yet: refuse the page rather than skip data silently.
                throw SyncError(.malformed, "unknown feed op \"\(change.op.prefix(20))\"; update kioskd")
            }
        }
        self.changes = changes
        self.statuses = statuses
        nextAfter = page.nextAfter
        hasMore = page.hasMore
        count = page.changes.count
    }
}

extension KioskService {
    init(_ s: Wire.Service) {
        self.init(id: s.id, name: s.name, entitlements: s.entitlements)
    }
}
