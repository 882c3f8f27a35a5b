public import CardModel

/// One chip of a card number in a registry file: the rows (entitlements) that belong to it.
///
/// A card number with several UIDs is a replaced card: the `active`/`suspended` chip is the
/// current one, the `revoked`/`lost` chips are the ones it replaced. Both the kiosk replica and
/// the central import registry files this way.
public struct RegistryChip: Sendable, Hashable {
    public var uid: ChipUID?
    public var status: CardStatus
    public var rows: [RegistryRow]

    /// Whether this is the card's chip in use (not one that was replaced).
    public var isCurrent: Bool { status == .active || status == .suspended }

    /// Groups rows by card number, in the order the numbers first appear.
    public static func groupByCard(_ rows: [RegistryRow]) -> [(number: CardNumber, rows: [RegistryRow])] {
        var groups: [CardNumber: [RegistryRow]] = [:]
        var order: [CardNumber] = []
        for row in rows {
            if groups[row.cardNumber] == nil { order.append(row.cardNumber) }
            groups[row.cardNumber, default: []].append(row)
        }
        return order.map { ($0, groups[$0] ?? []) }
    }

    /// Splits one card number's rows into chips, refusing rows that contradict earlier ones.
    public static func plan(_ rows: [RegistryRow], refused: inout [RowError]) -> [RegistryChip] {
        guard let first = rows.first else { return [] }
        var chips: [RegistryChip] = []
        for row in rows {
            if row.firstName != first.firstName || row.lastName != first.lastName {
                refused.append(RowError(line: row.line, reason: "the holder's name differs from line \(first.line) for the same card_number"))
                continue
            }
            if let i = chips.firstIndex(where: { $0.uid == row.uid }) {
                guard chips[i].status == row.status else {
                    refused.append(RowError(line: row.line, reason: "status \(row.status.rawValue) differs from line \(chips[i].rows[0].line) (\(chips[i].status.rawValue)) for the same card"))
                    continue
                }
                if chips[i].rows.contains(where: { $0.entitlement == row.entitlement && $0.role == row.role }) {
                    refused.append(RowError(line: row.line, reason: "entitlement \(row.entitlement.rawValue) is listed twice for this card"))
                    continue
                }
                chips[i].rows.append(row)
            } else {
                if row.status == .active || row.status == .suspended, let current = chips.first(where: \.isCurrent) {
                    refused.append(RowError(line: row.line, reason: "card already has a current chip on line \(current.rows[0].line); mark the old chip revoked or lost"))
                    continue
                }
                chips.append(RegistryChip(uid: row.uid, status: row.status, rows: [row]))
            }
        }
        return chips
    }
}
