public import CardModel
public import Foundation
import GRDB

extension Replica {
    /// The screen preferences stored with card `number`, or `nil` when the holder never asked for any.
    public func preferences(number: CardNumber) throws(ReplicaError) -> ScreenPreferences? {
        do {
            return try pool.read { db in
                guard let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT lang, large_text, speech FROM preference WHERE number = ?"), arguments: [number.value]
                ) else { return nil }
                guard let language = ScreenPreferences.Language(rawValue: row["lang"]) else { return nil }
                return ScreenPreferences(language: language, largeText: row["large_text"], speech: row["speech"])
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// Stores `preferences` with card `number`, replacing any before.
    ///
    /// - Returns: `false`, storing nothing, when the replica has no card with that number (a signed card
    ///   the registry does not know yet has no record to keep them with).
    @discardableResult
    public func setPreferences(_ preferences: ScreenPreferences, number: CardNumber, at now: Date = Date()) throws(ReplicaError) -> Bool {
        do {
            try integrity.allowWrites(path: path)
            return try pool.write { db in
                guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM card WHERE number = ?)", arguments: [number.value]) == true else {
                    return false
                }
                try db.execute(
                    sql: """
                        INSERT INTO preference (number, lang, large_text, speech, saved_at) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (number) DO UPDATE SET lang = excluded.lang, large_text = excluded.large_text,
                            speech = excluded.speech, saved_at = excluded.saved_at
                        """,
                    arguments: [number.value, preferences.language.rawValue, preferences.largeText, preferences.speech, Replica.stamp(now)]
                )
                return true
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// Forgets the preferences stored with card `number`; `true` if there were any.
    @discardableResult
    public func forgetPreferences(number: CardNumber) throws(ReplicaError) -> Bool {
        do {
            try integrity.allowWrites(path: path)
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM preference WHERE number = ?", arguments: [number.value])
                return db.changesCount > 0
            }
        } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// How many cards have preferences stored (for the status page; never which).
    public func preferencesCount() throws(ReplicaError) -> Int {
        do { return try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM preference") ?? 0 } } catch {
            throw Replica.translate(error, path: path)
        }
    }

    /// Drops preferences whose card number the registry no longer has (inside a write that removed cards).
    static func dropOrphanPreferences(db: Database) throws {
        try db.execute(sql: "DELETE FROM preference WHERE NOT EXISTS (SELECT 1 FROM card WHERE card.number = preference.number)")
    }
}
