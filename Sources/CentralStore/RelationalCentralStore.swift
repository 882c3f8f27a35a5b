import CardModel
import Crypto
import CentralWire
import Foundation
import Logging
import RegistryCSV
import Synchronization

/// ``CentralStore`` over any ``SQLBackend``: the one implementation of the central's rules.
final class RelationalCentralStore: CentralStore {
    let backend: any SQLBackend
    let logger: Logger
    /// The newest catalogue version decoded so far (see ``newestCatalogue(_:)``).
    let decodedCatalogue = Mutex<Catalogue?>(nil)
    /// Kiosks' request batches that arrive together, written together (see ``submitRequests(_:from:)``).
    let requestBatches = GroupCommit<RequestBatch, [RequestResult]>()

    init(backend: any SQLBackend, logger: Logger) {
        self.backend = backend
        self.logger = logger
    }

    func close() async { await backend.close() }

    // MARK: Transactions

    /// Runs `body` in a transaction; write transactions first take the feed lock, so writers queue.
    func run<T>(_ kind: SQLTransactionKind, _ body: (any SQLConnection) async throws -> T) async throws(CentralStoreError) -> T {
        let dialect = backend.dialect
        do {
            return try await backend.transaction(kind) { db in
                if kind == .write, dialect == .postgres {
                    try await db.execute("SELECT last_seq FROM feed_state WHERE id = 1 FOR UPDATE")
                }
                return try await body(db)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// `error` as the store reports it: its own errors as they are, the database's as `unavailable`.
    static func storeError(_ error: any Error) -> CentralStoreError {
        error as? CentralStoreError ?? .unavailable("database error: \(String(reflecting: error))")
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// A card's feed entry: the JSON ``encoder`` writes, written by ``SnapshotLine`` at a fraction of the cost
    /// (an import of 200,000 new cards spent 17 % of its time in `JSONEncoder`).
    ///
    /// ``encoder`` writes `/` as `\/` and ``SnapshotLine`` does not: a card with a `/` anywhere goes to ``encoder``.
    static func feedJSON(_ card: CardView) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        SnapshotLine.write(card, into: &bytes)
        if bytes.contains(UInt8(ascii: "/")) { return try json(card) }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Card views and the feed

    static let cardSelect = """
        SELECT c.id, c.number, c.uid, c.technology, c.series, c.status, c.valid_from, c.valid_until,
               r.uid AS replaced_by_uid, c.person_id, p.display_name
        FROM card c JOIN person p ON p.id = c.person_id LEFT JOIN card r ON r.id = c.replaced_by
        """

    /// Card views by card id, for the cards selected by `filter` (SQL after WHERE).
    func cardViews(_ db: any SQLConnection, where filter: String, _ binds: [SQLValue]) async throws -> [(Int64, CardView)] {
        let rows = try await db.query("\(Self.cardSelect) WHERE \(filter)", binds)
        let persons = Array(Set(try rows.map { row throws(CentralStoreError) in try row.text("person_id") }))
        var entitlements: [String: [EntitlementView]] = [:]
        if !persons.isEmpty {
            let marks = Array(repeating: "?", count: persons.count).joined(separator: ",")
            for row in try await db.query("""
                SELECT person_id, kind, role, valid_from, valid_until FROM entitlement
                WHERE person_id IN (\(marks)) ORDER BY person_id, kind, valid_from, id
                """, persons.map { .text($0) }) {
                guard let kind = EntitlementKind(rawValue: try row.text("kind")) else { throw CentralStoreError.corrupt("unknown entitlement kind") }
                let view = EntitlementView(
                    kind: kind, role: row.optionalText("role").flatMap(FamilyRole.init(rawValue:)),
                    validFrom: try Self.date(row.text("valid_from")), validUntil: try row.optionalText("valid_until").map(Self.date)
                )
                entitlements[try row.text("person_id"), default: []].append(view)
            }
        }
        return try rows.map { row in
            guard let technology = CardTechnology(rawValue: try row.text("technology")),
                  let status = CardStatus(rawValue: try row.text("status"))
            else { throw CentralStoreError.corrupt("card with an unknown technology or status") }
            let person = try row.text("person_id")
            return (try row.int("id"), CardView(
                number: try row.text("number"), uid: row.optionalText("uid"), technology: technology,
                series: row.optionalText("series"), status: status,
                validFrom: try row.optionalText("valid_from").map(Self.date),
                validUntil: try row.optionalText("valid_until").map(Self.date),
                replacedByUID: row.optionalText("replaced_by_uid"), holderDisplayName: try row.text("display_name"),
                personID: person, entitlements: entitlements[person] ?? []
            ))
        }
    }

    static func date(_ text: String) throws -> CivilDate {
        do { return try CivilDate(iso: text) } catch { throw CentralStoreError.corrupt("bad date in the database") }
    }

    /// Every card of `persons`, by id.
    func views(_ db: any SQLConnection, persons: Set<String>) async throws -> [Int64: CardView] {
        guard !persons.isEmpty else { return [:] }
        let marks = Array(repeating: "?", count: persons.count).joined(separator: ",")
        let pairs = try await cardViews(db, where: "c.person_id IN (\(marks)) ORDER BY c.id", persons.sorted().map { .text($0) })
        return Dictionary(uniqueKeysWithValues: pairs)
    }

    /// Takes the next number of the global sequence (inside the caller's write transaction).
    func nextSeq(_ db: any SQLConnection) async throws -> Int64 {
        guard let row = try await db.one("UPDATE feed_state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq") else {
            throw CentralStoreError.corrupt("the feed_state row is missing")
        }
        return try row.int("last_seq")
    }

    /// Writes one feed entry per card that changed between `before` and `after`; returns how many.
    @discardableResult
    func emit(_ db: any SQLConnection, before: [Int64: CardView], after: [Int64: CardView]) async throws -> Int {
        var written = 0
        let now = Clock.nowMillis()
        for id in Set(before.keys).union(after.keys).sorted() {
            let change: (ChangeOp, CardView)
            if let a = after[id] {
                guard before[id] != a else { continue }
                change = (.upsert, a)
            } else if let b = before[id] {
                change = (.remove, b)
            } else { continue }
            // The last line of defence: never publish a card a kiosk's reader would refuse (it would
            // refuse the whole page, and stop syncing). Every input is checked before it gets here.
            do { try change.1.checkPublishable() } catch {
                throw CentralStoreError.invalid("card …\(change.1.number.suffix(4)) would break the registry rules kiosks check: \(error); fix it and try again")
            }
            let seq = try await nextSeq(db)
            try await db.execute(
                "INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (?, ?, NULL, ?, ?)",
                [.int(seq), .text(change.0.rawValue), .text(try Self.feedJSON(change.1)), .int(now)]
            )
            written += 1
        }
        return written
    }

    /// Runs `body` between two looks at the cards of `persons` and writes the differences to the feed.
    func tracking(_ db: any SQLConnection, persons: Set<String>, _ body: () async throws -> Set<String>) async throws -> Int {
        let before = try await views(db, persons: persons)
        let more = try await body()
        let after = try await views(db, persons: persons.union(more))
        return try await emit(db, before: before, after: after)
    }

    // MARK: Registry

    func replaceEntitlements(_ db: any SQLConnection, personID: String, _ entitlements: [EntitlementView]) async throws {
        try await db.execute("DELETE FROM entitlement WHERE person_id = ?", [.text(personID)])
        for e in entitlements {
            try await db.execute(
                "INSERT INTO entitlement (person_id, kind, role, valid_from, valid_until) VALUES (?, ?, ?, ?, ?)",
                [.text(personID), .text(e.kind.rawValue), e.role.map { .text($0.rawValue) } ?? .null,
                 .text(e.validFrom.iso), e.validUntil.map { .text($0.iso) } ?? .null]
            )
        }
    }

    /// Runs a ``RegistryRules`` check, turning its error into a 400-style store error.
    static func rule<T>(_ check: () throws(RegistryRuleError) -> T) throws(CentralStoreError) -> T {
        do { return try check() } catch { throw .invalid(error.description) }
    }

    static func checkPersonID(_ id: String) throws(CentralStoreError) {
        try rule { () throws(RegistryRuleError) in try RegistryRules.checkPersonID(id) }
    }

    /// Display names are first name plus initial ("Anna K."): never a full last name.
    static func checkDisplayName(_ name: String) throws(CentralStoreError) {
        try rule { () throws(RegistryRuleError) in try RegistryRules.checkDisplayName(name) }
        guard InputRules.isDisplayName(name) else {
            throw .invalid("display_name must be the first name and the initial of the last name, e.g. \"Anna K.\" (at most 64 characters, single spaces)")
        }
    }

    func upsertPerson(id: String, displayName: String) async throws(CentralStoreError) {
        try Self.checkPersonID(id)
        try Self.checkDisplayName(displayName)
        _ = try await run(.write) { db in
            try await tracking(db, persons: [id]) {
                try await db.execute("""
                    INSERT INTO person (id, display_name) VALUES (?, ?)
                    ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name
                    """, [.text(id), .text(displayName)])
                return []
            }
        }
    }

    func setEntitlements(personID: String, _ entitlements: [EntitlementView]) async throws(CentralStoreError) {
        try Self.checkPersonID(personID)
        try Self.rule { () throws(RegistryRuleError) in try RegistryRules.checkEntitlements(entitlements.map(\.entitlement)) }
        _ = try await run(.write) { db in
            guard try await db.one("SELECT id FROM person WHERE id = ?", [.text(personID)]) != nil else {
                throw CentralStoreError.notFound("no person \(personID); create it with PUT /v1/staff/people/{person_id}")
            }
            return try await tracking(db, persons: [personID]) {
                try await replaceEntitlements(db, personID: personID, entitlements)
                return []
            }
        }
    }

    /// The current chip of `number`: not replaced, active or suspended first, newest first.
    static let currentChip = """
        SELECT id, person_id, status, uid, technology, series, valid_from, valid_until FROM card
        WHERE number = ? AND replaced_by IS NULL
        ORDER BY CASE status WHEN 'active' THEN 0 WHEN 'suspended' THEN 1 ELSE 2 END, id DESC LIMIT 1
        """

    func currentView(_ db: any SQLConnection, number: CardNumber) async throws -> CardView? {
        guard let row = try await db.one(Self.currentChip, [.text(number.value)]) else { return nil }
        return try await cardViews(db, where: "c.id = ?", [.int(try row.int("id"))]).first?.1
    }

    func card(number: CardNumber) async throws(CentralStoreError) -> CardView? {
        try await run(.read) { db in try await currentView(db, number: number) }
    }

    static func chip(uid: String?, technology: CardTechnology) throws(CentralStoreError) -> ChipUID? {
        try rule { () throws(RegistryRuleError) in try RegistryRules.checkChip(uid: uid, technology: technology) }
    }

    func upsertCard(number: CardNumber, _ input: CardInput) async throws(CentralStoreError) -> CardView {
        let uid = try Self.chip(uid: input.uid, technology: input.technology)
        try Self.checkPersonID(input.personID)
        try Self.rule { () throws(RegistryRuleError) in
            try RegistryRules.checkValidity(from: input.validFrom, until: input.validUntil)
            try RegistryRules.checkSeries(input.series)
        }
        return try await run(.write) { db in
            guard try await db.one("SELECT id FROM person WHERE id = ?", [.text(input.personID)]) != nil else {
                throw CentralStoreError.notFound("no person \(input.personID); create it with PUT /v1/staff/people/{person_id}")
            }
            let current = try await db.one(Self.currentChip, [.text(number.value)])
            let currentID = current?.optionalInt("id")
            if let uid, let owner = try await db.one("SELECT id FROM card WHERE uid = ?", [.text(uid.hex)])?.optionalInt("id"), owner != currentID {
                throw CentralStoreError.conflict("uid \(uid.masked) already belongs to another card; revoke or replace that card first")
            }
            var persons: Set<String> = [input.personID]
            if let p = current?.optionalText("person_id") { persons.insert(p) }
            let fields: [SQLValue] = [
                uid.map { .text($0.hex) } ?? .null, .text(input.technology.rawValue), input.series.map { .text($0) } ?? .null,
                .text(input.status.rawValue), input.validFrom.map { .text($0.iso) } ?? .null,
                input.validUntil.map { .text($0.iso) } ?? .null, .text(input.personID),
            ]
            _ = try await tracking(db, persons: persons) {
                if let currentID {
                    try await db.execute("""
                        UPDATE card SET uid = ?, technology = ?, series = ?, status = ?, valid_from = ?, valid_until = ?, person_id = ?
                        WHERE id = ?
                        """, fields + [.int(currentID)])
                } else {
                    try await db.execute("""
                        INSERT INTO card (uid, technology, series, status, valid_from, valid_until, person_id, number)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """, fields + [.text(number.value)])
                }
                return []
            }
            guard let view = try await currentView(db, number: number) else { throw CentralStoreError.corrupt("the card just written is missing") }
            return view
        }
    }

    func setCardStatus(number: CardNumber, to status: CardStatus) async throws(CentralStoreError) -> CardView {
        try await run(.write) { db in
            guard let current = try await db.one(Self.currentChip, [.text(number.value)]) else {
                throw CentralStoreError.notFound("no card \(number.masked)")
            }
            let from = CardStatus(rawValue: try current.text("status")) ?? .revoked
            if from != status {
                if from == .revoked || from == .lost {
                    throw CentralStoreError.conflict("card \(number.masked) is \(from.rawValue) for good; issue a replacement instead")
                }
                _ = try await tracking(db, persons: [try current.text("person_id")]) {
                    try await db.execute("UPDATE card SET status = ? WHERE id = ?", [.text(status.rawValue), .int(try current.int("id"))])
                    return []
                }
            }
            guard let view = try await cardViews(db, where: "c.id = ?", [.int(try current.int("id"))]).first?.1 else {
                throw CentralStoreError.corrupt("the card just written is missing")
            }
            return view
        }
    }

    func replaceCard(number: CardNumber, with replacement: ReplacementInput) async throws(CentralStoreError) -> CardView {
        let uid = try Self.chip(uid: replacement.uid, technology: replacement.technology)
        try Self.rule { () throws(RegistryRuleError) in try RegistryRules.checkSeries(replacement.series) }
        return try await run(.write) { db in
            guard let current = try await db.one(Self.currentChip, [.text(number.value)]) else {
                throw CentralStoreError.notFound("no card \(number.masked)")
            }
            if let uid, try await db.one("SELECT id FROM card WHERE uid = ?", [.text(uid.hex)]) != nil {
                throw CentralStoreError.conflict("uid \(uid.masked) already belongs to a card; use a new chip")
            }
            let oldID = try current.int("id")
            let oldStatus = try current.text("status")
            _ = try await tracking(db, persons: [try current.text("person_id")]) {
                guard let row = try await db.one("""
                    INSERT INTO card (number, uid, technology, series, status, valid_from, valid_until, person_id)
                    VALUES (?, ?, ?, ?, 'active', ?, ?, ?) RETURNING id
                    """, [.text(number.value), uid.map { .text($0.hex) } ?? .null, .text(replacement.technology.rawValue),
                          replacement.series.map { .text($0) } ?? .null, current["valid_from"] ?? .null,
                          current["valid_until"] ?? .null, .text(try current.text("person_id"))]) else {
                    throw CentralStoreError.corrupt("INSERT returned no id")
                }
                try await db.execute("UPDATE card SET status = ?, replaced_by = ? WHERE id = ?", [
                    .text(oldStatus == CardStatus.lost.rawValue ? oldStatus : CardStatus.revoked.rawValue), .int(try row.int("id")), .int(oldID),
                ])
                return []
            }
            guard let view = try await currentView(db, number: number) else { throw CentralStoreError.corrupt("the card just written is missing") }
            return view
        }
    }

    // MARK: Feed

    func storedChanges(after: Int64, limit: Int, kioskID: Int64) async throws(CentralStoreError) -> StoredFeedPage {
        let limit = min(max(limit, 1), 1000)
        // One statement (one round trip, one point in time): the feed's head and pruning mark, then the page,
        // by keyset paging on the sequence's index, so each page starts where the last ended, however far in.
        let rows = try await run(.statement) { db in
            try await db.query("""
                SELECT 1 AS part, last_seq AS seq, pruned_through, NULL AS op, NULL AS payload FROM feed_state WHERE id = 1
                UNION ALL
                SELECT 2, seq, NULL, op, payload FROM (
                    SELECT seq, op, payload FROM registry_change
                    WHERE seq > ? AND (kiosk_id IS NULL OR kiosk_id = ?) ORDER BY seq LIMIT ?
                ) AS page
                """, [.int(after), .int(kioskID), .int(Int64(limit + 1))])
        }
        guard let state = rows.first(where: { $0.optionalInt("part") == 1 }) else {
            throw CentralStoreError.corrupt("the feed_state row is missing")
        }
        let head = try state.int("seq")
        let pruned = try state.int("pruned_through")
        if after < pruned {
            throw CentralStoreError(.cursorExpired, "changes up to \(pruned) were pruned; bootstrap again from GET /v1/registry/snapshot")
        }
        if after > head {
            throw CentralStoreError(.cursorExpired, "the cursor \(after) is ahead of this central (\(head)); bootstrap again from GET /v1/registry/snapshot")
        }
        var page: [StoredFeedPage.Entry] = []
        page.reserveCapacity(min(rows.count, limit + 1))
        for row in rows where row.optionalInt("part") == 2 {
            guard let op = ChangeOp(rawValue: try row.text("op")) else { throw CentralStoreError.corrupt("unknown feed op") }
            page.append(.init(seq: try row.int("seq"), op: op, payload: try row.text("payload")))
        }
        // A UNION ALL keeps no order of its own: the page is put back in sequence order.
        page.sort { $0.seq < $1.seq }
        let hasMore = page.count > limit
        let entries = Array(page.prefix(limit))
        return StoredFeedPage(entries: entries, nextAfter: hasMore ? (entries.last?.seq ?? after) : head, hasMore: hasMore)
    }

    func snapshot(pageSize: Int, _ consume: (SnapshotPart) async throws -> Void) async throws {
        let pageSize = Int64(min(max(pageSize, 1), 5000))
        _ = try await run(.snapshot) { db in
            guard let state = try await db.one("SELECT last_seq FROM feed_state WHERE id = 1"),
                  let count = try await db.one("SELECT count(*) AS n FROM card")
            else { throw CentralStoreError.corrupt("the feed_state row is missing") }
            try await consume(.header(seq: try state.int("last_seq"), cards: Int(try count.int("n"))))
            var lastID: Int64 = 0
            while true {
                let page = try await cardViews(db, where: "c.id > ? ORDER BY c.id LIMIT ?", [.int(lastID), .int(pageSize)])
                guard let last = page.last else { break }
                try await consume(.cards(page.map(\.1)))
                lastID = last.0
            }
        }
    }

    func feedPosition() async throws(CentralStoreError) -> FeedPosition {
        try await run(.statement) { db in
            guard let row = try await db.one("SELECT last_seq, pruned_through FROM feed_state WHERE id = 1") else {
                throw CentralStoreError.corrupt("the feed_state row is missing")
            }
            return FeedPosition(head: try row.int("last_seq"), prunedThrough: try row.int("pruned_through"))
        }
    }

    func pruneChanges(olderThan date: Date) async throws(CentralStoreError) -> Int {
        try await run(.write) { db in
            guard let through = try await db.one("SELECT max(seq) AS s FROM registry_change WHERE at_ms < ?", [.int(Clock.millis(date))])?
                .optionalInt("s") else { return 0 }
            let count = try await db.one("SELECT count(*) AS n FROM registry_change WHERE seq <= ?", [.int(through)])?.optionalInt("n") ?? 0
            try await db.execute("DELETE FROM registry_change WHERE seq <= ?", [.int(through)])
            try await db.execute("UPDATE feed_state SET pruned_through = ? WHERE id = 1 AND pruned_through < ?", [.int(through), .int(through)])
            return Int(count)
        }
    }
}
