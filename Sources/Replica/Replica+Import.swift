import CardModel
public import Foundation
import GRDB
public import RegistryCSV

/// What an import did, and which rows it refused.
public struct ImportReport: Sendable {
    /// Distinct cards written (inserted or replaced).
    public var cards: Int
    /// Entitlement rows written.
    public var entitlements: Int
    /// Rows refused, with line and reason, in file order.
    public var refused: [RowError]
}

extension Replica {
    /// Seeds or updates the replica from registry rows, without a central server.
    ///
    /// Idempotent: importing the same rows twice leaves the same replica. Every card number in
    /// `rows` is replaced as a whole (its chips, holder and entitlements); cards not in `rows`
    /// are left alone. Several rows with one number and one UID are several entitlements on that
    /// card; one number with several UIDs is a replaced card: the `active`/`suspended` chip is the
    /// current one and the `revoked`/`lost` chips point to it.
    ///
    /// - Parameter progress: told the card numbers written so far and their total as the import goes on.
    public func importRegistry(
        _ rows: [RegistryRow], at now: Date = Date(), progress: ((_ done: Int, _ total: Int) -> Void)? = nil
    ) throws(ReplicaError) -> ImportReport {
        var refused: [RowError] = []
        var report = ImportReport(cards: 0, entitlements: 0, refused: [])
        do {
            try integrity.allowWrites(path: path)
            try pool.write { db in
                let groups = RegistryChip.groupByCard(rows)
                for (done, (number, group)) in groups.enumerated() {
                    progress?(done, groups.count)
                    let cards = RegistryChip.plan(group, refused: &refused)
                    guard !cards.isEmpty else { continue }
                    // A chip may not move silently from one card number to another.
                    var clean: [RegistryChip] = []
                    for card in cards {
                        if let uid = card.uid,
                           let owner = try String.fetchOne(db.cachedStatement(sql: "SELECT number FROM card WHERE uid = ?"), arguments: [Data(uid.bytes)]),
                           owner != number.value {
                            for row in card.rows {
                                refused.append(RowError(line: row.line, reason: "uid \(uid.masked) already belongs to card …\(owner.suffix(4)); revoke that card first"))
                            }
                            continue
                        }
                        clean.append(card)
                    }
                    guard !clean.isEmpty else { continue }
                    let (cardsWritten, entitlementsWritten) = try Self.write(number: number, cards: clean, db: db)
                    report.cards += cardsWritten
                    report.entitlements += entitlementsWritten
                }
                try db.execute(sql: "UPDATE sync_state SET last_import_at = ? WHERE id = 1", arguments: [Replica.stamp(now)])
                progress?(groups.count, groups.count)
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
        report.refused = refused.sorted { $0.line < $1.line }
        return report
    }

    /// Replaces everything the replica holds for `number` with `cards`.
    static func write(number: CardNumber, cards: [RegistryChip], db: Database) throws -> (Int, Int) {
        let existing = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT id, uid, technology, person_id FROM card WHERE number = ?"), arguments: [number.value]
        )
        var personID: Int64? = existing.first?["person_id"]
        var knownTechnology: [Data: String] = [:]
        for row in existing {
            if let uid: Data = row["uid"] { knownTechnology[uid] = row["technology"] }
        }
        let first = cards[0].rows[0]
        if let personID {
            try db.cachedStatement(sql: "DELETE FROM card WHERE number = ?").execute(arguments: [number.value])
            try db.cachedStatement(sql: "DELETE FROM entitlement WHERE person_id = ?").execute(arguments: [personID])
            try db.cachedStatement(sql: "UPDATE person SET display_name = ? WHERE id = ?").execute(arguments: [first.displayName, personID])
        } else {
            try db.cachedStatement(sql: "INSERT INTO person (display_name) VALUES (?)").execute(arguments: [first.displayName])
            personID = db.lastInsertedRowID
        }

        // Current chip first, so that old chips can point at it.
        let ordered = cards.sorted { $0.isCurrent && !$1.isCurrent }
        var currentID: Int64?
        var entitlements: [Entitlement] = []
        for card in ordered {
            let uidData = card.uid.map { Data($0.bytes) }
            let technology = card.uid == nil ? CardTechnology.printed.rawValue : (uidData.flatMap { knownTechnology[$0] } ?? CardTechnology.iso14443a.rawValue)
            let from = card.rows.map(\.validFrom).min()
            let until: CivilDate? = card.rows.contains { $0.validUntil == nil } ? nil : card.rows.compactMap(\.validUntil).max()
            try db.cachedStatement(sql: """
                INSERT INTO card (number, uid, technology, series, status, valid_from, valid_until, replaced_by, person_id)
                VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    number.value, uidData, technology, card.status.rawValue, from?.iso, until?.iso,
                    card.isCurrent ? nil : currentID, personID,
                ])
            if card.isCurrent { currentID = db.lastInsertedRowID }
            // The holder's entitlements are those of the current chip; old chips' rows only say it existed.
            let counts = card.isCurrent || !ordered.contains(where: \.isCurrent)
            for row in card.rows where counts && !entitlements.contains(row.entitlementValue) {
                entitlements.append(row.entitlementValue)
            }
        }
        for e in entitlements {
            try db.cachedStatement(sql: "INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)")
                .execute(arguments: [personID, e.kind.rawValue, e.role?.rawValue, e.validFrom.iso, e.validUntil?.iso])
        }
        return (cards.count, entitlements.count)
    }
}
