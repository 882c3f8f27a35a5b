import CardModel
import CentralWire
import Foundation
import KioskCore
import Outbox
import Replica

/// Decodes the central's JSON into the shared wire types (``CentralWire``), strictly: anything
/// else is ``SyncError`` `.malformed` and nothing local changes.
enum WireDecoding {
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(SyncError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw SyncError(.malformed, "\(what) is not the expected JSON")
        }
    }

    /// A feed page; an entry whose `op` this kiosk does not know says so (update kioskd) instead of "not JSON".
    static func changePage(_ data: Data) throws(SyncError) -> ChangePage {
        do { return try JSONDecoder().decode(ChangePage.self, from: data) } catch {
            struct Ops: Decodable {
                struct Entry: Decodable { var op: String }
                var changes: [Entry]
            }
            if let ops = try? JSONDecoder().decode(Ops.self, from: data),
               let unknown = ops.changes.first(where: { ChangeOp(rawValue: $0.op) == nil }) {
                // An op this kiosk does not know yet: refuse the page rather than skip data silently.
                throw SyncError(.malformed, "unknown feed op \"\(unknown.op.prefix(20))\"; update kioskd")
            }
            throw SyncError(.malformed, "a change-feed page is not the expected JSON")
        }
    }
}

extension CardView {
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

extension CentralFeedPage {
    /// Checks a page fetched after `cursor`: sequence numbers grow, stay after the cursor and within `next_after`.
    init(_ page: ChangePage, after cursor: Int64) throws(SyncError) {
        guard page.nextAfter >= cursor else { throw SyncError(.malformed, "next_after \(page.nextAfter) goes back before \(cursor)") }
        guard !(page.hasMore && page.nextAfter == cursor) else { throw SyncError(.malformed, "has_more without progress") }
        var last = cursor
        var changes: [SyncedChange] = []
        var statuses: [RequestStatusUpdate] = []
        var catalogue: Catalogue?
        for change in page.changes {
            guard change.seq > last, change.seq <= page.nextAfter else { throw SyncError(.malformed, "feed entries out of order") }
            last = change.seq
            switch change.op {
            case .upsert, .remove:
                guard let card = change.card else { throw SyncError(.malformed, "a \(change.op.rawValue) entry without a card") }
                let synced = try card.synced()
                changes.append(change.op == .upsert ? .upsert(synced) : .remove(synced))
            case .catalogue:
                guard let published = change.catalogue else { throw SyncError(.malformed, "a catalogue entry without a catalogue") }
                // Whole versions only; the newest one on the page wins (the kiosk checks it before using it).
                if published.version > (catalogue?.version ?? Int64.min) { catalogue = published }
            case .requestStatus:
                guard let r = change.request, UUIDv7.isValid(r.idempotencyKey) else {
                    throw SyncError(.malformed, "a request_status entry that cannot be read")
                }
                statuses.append(.init(
                    idempotencyKey: r.idempotencyKey, requestID: r.requestID, status: r.status.rawValue,
                    scheduledAt: r.scheduledAt.map { String($0.prefix(40)) }, scheduledFor: r.scheduledFor.map { String($0.prefix(10)) },
                    reason: r.status == .declined ? HTTPCentralClient.checked(r.reason) : nil, ticket: r.ticket?.code
                ))
            }
        }
        self.changes = changes
        self.statuses = statuses
        self.catalogue = catalogue
        nextAfter = page.nextAfter
        hasMore = page.hasMore
        count = page.changes.count
    }
}
