import CardModel
import CentralWire
import Crypto
import Foundation
import Logging
import ServiceRules

extension RelationalCentralStore {
    // MARK: Principals

    /// The SHA-256 of a token, in hex: all the store keeps of it.
    static func hash(token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// A fresh token: a role prefix and 32 random bytes in base64url; a kiosk's also carries its number
    /// (`cusk_<Ticket.kioskCode(number)>_<secret>`), so the kiosk can make tickets without asking.
    static func newToken(_ kind: Principal.Kind, number: Int64?) -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let b64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        switch kind {
        case .kiosk: return "cusk_\(Ticket.kioskCode(Int(number ?? 0)))_\(b64)"
        case .staff: return "cuss_" + b64
        }
    }

    static func checkName(_ name: String) throws(CentralStoreError) {
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 })
        else { throw .invalid("a name is 1 to 64 letters, digits, '.', '-' or '_', e.g. skalka-1") }
    }

    func enrol(_ kind: Principal.Kind, name: String) async throws(CentralStoreError) -> String {
        try Self.checkName(name)
        return try await run(.write) { db in
            let now = Clock.nowMillis()
            let existing = try await db.one("SELECT id, revoked_at_ms FROM principal WHERE kind = ? AND name = ?", [.text(kind.rawValue), .text(name)])
            if let existing, existing.optionalInt("revoked_at_ms") == nil {
                throw CentralStoreError.conflict("\(kind.rawValue) \(name) is already enrolled; revoke it first to issue a new token")
            }
            // Every enrolment of a kiosk, a re-enrolment too, takes a number never used before: the
            // tickets made under the old token stay unique.
            var number: Int64?
            if kind == .kiosk {
                number = (try await db.one("SELECT max(number) AS n FROM principal")?.optionalInt("n") ?? 0) + 1
            }
            let token = Self.newToken(kind, number: number)
            let hash = Self.hash(token: token)
            if let existing {
                try await db.execute(
                    "UPDATE principal SET token_hash = ?, created_at_ms = ?, revoked_at_ms = NULL, number = ? WHERE id = ?",
                    [.text(hash), .int(now), number.map { .int($0) } ?? .null, .int(try existing.int("id"))]
                )
            } else {
                try await db.execute(
                    "INSERT INTO principal (kind, name, token_hash, created_at_ms, number) VALUES (?, ?, ?, ?, ?)",
                    [.text(kind.rawValue), .text(name), .text(hash), .int(now), number.map { .int($0) } ?? .null]
                )
            }
            return token
        }
    }

    func revoke(_ kind: Principal.Kind, name: String) async throws(CentralStoreError) {
        try Self.checkName(name)
        try await run(.write) { db in
            guard let row = try await db.one("SELECT id FROM principal WHERE kind = ? AND name = ?", [.text(kind.rawValue), .text(name)]) else {
                throw CentralStoreError.notFound("no \(kind.rawValue) named \(name)")
            }
            try await db.execute(
                "UPDATE principal SET revoked_at_ms = ? WHERE id = ? AND revoked_at_ms IS NULL",
                [.int(Clock.nowMillis()), .int(try row.int("id"))]
            )
        }
    }

    func authenticate(token: String) async throws(CentralStoreError) -> Principal? {
        guard (8...200).contains(token.utf8.count) else { return nil }
        let hash = Self.hash(token: token)
        return try await run(.statement) { db -> Principal? in
            guard let row = try await db.one(
                "SELECT id, kind, name, number FROM principal WHERE token_hash = ? AND revoked_at_ms IS NULL", [.text(hash)]
            ), let kind = Principal.Kind(rawValue: try row.text("kind")) else { return nil }
            return Principal(id: try row.int("id"), kind: kind, name: try row.text("name"), number: row.optionalInt("number"))
        }
    }

    // MARK: Intake

    /// A card's requests that count against quotas, by Warsaw month (`YYYY-MM`) and service id.
    typealias Usage = [String: [String: Int]]

    /// One kiosk's batch of requests.
    struct RequestBatch: Sendable {
        var items: [RequestItem]
        var kiosk: Principal
    }

    /// Batches that arrive while others are written go in together, each in a savepoint of its own: one
    /// commit for all (``GroupCommit``). A kiosk's answer still comes only after its requests are committed,
    /// and a batch that fails is rolled back alone.
    func submitRequests(_ items: [RequestItem], from kiosk: Principal) async throws(CentralStoreError) -> [RequestResult] {
        try await requestBatches.submit(RequestBatch(items: items, kiosk: kiosk)) { [self] batches in
            do {
                return try await run(.write) { db in
                    guard batches.count > 1 else { return [.success(try await store(db, batches[0]))] }
                    var outcomes: [Result<[RequestResult], CentralStoreError>] = []
                    for batch in batches {
                        try await db.execute("SAVEPOINT request_batch")
                        do {
                            outcomes.append(.success(try await store(db, batch)))
                            try await db.execute("RELEASE SAVEPOINT request_batch")
                        } catch {
                            try await db.execute("ROLLBACK TO SAVEPOINT request_batch")
                            try await db.execute("RELEASE SAVEPOINT request_batch")
                            outcomes.append(.failure(Self.storeError(error)))
                        }
                    }
                    return outcomes
                }
            } catch {
                return Array(repeating: .failure(Self.storeError(error)), count: batches.count)
            }
        }.get()
    }

    /// Stores one kiosk's batch inside the caller's write transaction; each request's result.
    func store(_ db: any SQLConnection, _ batch: RequestBatch) async throws -> [RequestResult] {
        let (items, kiosk) = (batch.items, batch.kiosk)
        var results: [RequestResult] = []
        let now = Clock.nowMillis()
        let today = CivilDate(Date(), in: .warsaw)
        var catalogue: Catalogue?
        // Quota counts of the cards in this batch, loaded once each and kept up to date as items are stored.
        var usage: [String: Usage] = [:]
        for item in items {
            let key: String?
            switch item {
            case .valid(let s): key = s.idempotencyKey
            case .invalid(let k, _): key = UUIDv7.isValid(k ?? "") ? k?.lowercased() : nil
            }
            if let key, let first = try await db.one(
                "SELECT kiosk_id, outcome, request_id, reason FROM request_receipt WHERE idempotency_key = ?", [.text(key)]
            ) {
                guard try first.int("kiosk_id") == kiosk.id else {
                    results.append(RequestResult(idempotencyKey: key, outcome: .rejected, reason: "idempotency_key was already used; make a new UUIDv7"))
                    continue
                }
                var result = RequestResult(
                    idempotencyKey: key, outcome: .duplicate, requestID: first.optionalInt("request_id"),
                    reason: first.optionalText("reason"), firstOutcome: RequestResult.Outcome(rawValue: try first.text("outcome"))
                )
                // Where the request is now: a kiosk whose first answer was lost learns its status and ticket here.
                if let id = result.requestID, let row = try await db.one(
                    "SELECT status, ticket, reason_code, reason_text FROM service_request WHERE id = ?", [.int(id)]
                ) {
                    result.status = RequestStatus(rawValue: try row.text("status"))
                    result.statusReason = Self.statusReason(row)
                    result.ticket = row.optionalText("ticket").flatMap(Ticket.init(parsing:))
                }
                results.append(result)
                continue
            }
            switch item {
            case .invalid(let raw, let reason):
                if let key {
                    try await db.execute(
                        "INSERT INTO request_receipt (idempotency_key, kiosk_id, outcome, reason, received_at_ms) VALUES (?, ?, 'rejected', ?, ?)",
                        [.text(key), .int(kiosk.id), .text(reason), .int(now)]
                    )
                }
                results.append(RequestResult(idempotencyKey: key ?? raw.map { String($0.prefix(64)) }, outcome: .rejected, reason: reason))
            case .valid(let s):
                if catalogue == nil { catalogue = try await newestCatalogue(db) }
                guard let catalogue else { throw CentralStoreError.corrupt("no catalogue") }
                let judged = try await judge(db, s, catalogue: catalogue, today: today, usage: &usage)
                results.append(try await store(db, s, from: kiosk, declined: judged.decline, now: now))
                if judged.decline == nil, let number = s.cardNumber?.value, usage[number] != nil, let month = judged.month {
                    for id in judged.counts { usage[number, default: [:]][month, default: [:]][id, default: 0] += 1 }
                }
            }
        }
        return results
    }

    /// Writes one well-formed request (and, when declined, the kiosk's feed entry); its result.
    func store(_ db: any SQLConnection, _ s: RequestSubmission, from kiosk: Principal, declined: StatusReason?, now: Int64) async throws -> RequestResult {
        // The ticket as the kiosk made it, unless another request holds it already (a kiosk restored
        // from an old backup, say): then the central's own, kiosk 0 (never a kiosk's number) and the id.
        var ticket = s.ticket
        if let sent = ticket {
            let taken = try await db.one("SELECT id FROM service_request WHERE ticket = ?", [.text(sent.code)]) != nil
            if taken || Self.kioskNumber(of: sent) == 0 { ticket = nil }
        }
        let status: RequestStatus = declined == nil ? .received : .declined
        guard let row = try await db.one("""
            INSERT INTO service_request (idempotency_key, kiosk_id, kiosk_seq, created_at, received_at_ms, service, card_number, details,
                                         status, identity, ticket, kind, phone, catalogue_version, status_reason, reason_code, reason_text,
                                         status_changed_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
            """, [
                .text(s.idempotencyKey), .int(kiosk.id), .int(s.kioskSeq), .text(s.createdAt), .int(now), .text(s.service ?? ""),
                s.cardNumber.map { .text($0.value) } ?? .null, .text(s.detailsJSON), .text(status.rawValue), .text(s.identity.rawValue),
                ticket.map { .text($0.code) } ?? .null, .text(s.kind.rawValue), s.phone.map { .text($0) } ?? .null,
                s.catalogueVersion.map { .int($0) } ?? .null, declined.map { .text($0.text.en) } ?? .null,
                declined.map { .text($0.code) } ?? .null, try declined.map { .text(try Self.json($0.text)) } ?? .null,
                declined == nil ? .null : .int(now),
            ]) else {
            throw CentralStoreError.corrupt("INSERT returned no id")
        }
        let id = try row.int("id")
        if s.ticket != nil, ticket == nil {
            let own = Ticket(kiosk: 0, sequence: id)
            try await db.execute("UPDATE service_request SET ticket = ? WHERE id = ?", [.text(own.code), .int(id)])
            ticket = own
            logger.warning("a request came with a ticket already in use; the central gave it its own", metadata: [
                "request_id": "\(id)", "kiosk": "\(kiosk.name)", "ticket": "\(own.code)",
            ])
        }
        try await db.execute(
            "INSERT INTO request_receipt (idempotency_key, kiosk_id, outcome, request_id, received_at_ms) VALUES (?, ?, 'accepted', ?, ?)",
            [.text(s.idempotencyKey), .int(kiosk.id), .int(id), .int(now)]
        )
        if let declined {
            let view = RequestStatusView(requestID: id, idempotencyKey: s.idempotencyKey, status: .declined, reason: declined, ticket: ticket)
            try await publish(db, view, to: kiosk.id, at: now)
        }
        return RequestResult(
            idempotencyKey: s.idempotencyKey, outcome: .accepted, requestID: id, status: status, statusReason: declined, ticket: ticket
        )
    }

    /// Judges a well-formed request by the central's newest catalogue and registry: why to decline it,
    /// or `nil`; and, for the quota, the Warsaw month it counts in and the services it counts for.
    func judge(
        _ db: any SQLConnection, _ s: RequestSubmission, catalogue: Catalogue, today: CivilDate, usage: inout [String: Usage]
    ) async throws -> (decline: StatusReason?, month: String?, counts: [String]) {
        guard s.kind != .callback, let id = s.service else { return (nil, nil, []) }
        var services: [ServiceDefinition] = []
        switch s.kind {
        case .service:
            guard let service = catalogue.service(id: id), service.offered else { return (.serviceWithdrawn, nil, []) }
            services = [service]
        case .bundle:
            guard let bundle = catalogue.bundle(id: id) else { return (.serviceWithdrawn, nil, []) }
            for member in bundle.services {
                guard let service = catalogue.service(id: member), service.offered else { return (.serviceWithdrawn, nil, []) }
                services.append(service)
            }
        case .callback:
            return (nil, nil, [])
        }
        var applicant = Applicant.noCard
        if let number = s.cardNumber {
            guard let card = try await currentView(db, number: number), card.status == .active,
                  card.validFrom.map({ $0 <= today }) ?? true, card.validUntil.map({ today <= $0 }) ?? true
            else { return (.cardNotValid, nil, []) }
            applicant = Applicant(entitlements: card.entitlements.map(\.entitlement))
        }
        for service in services where [.noEntitlement, .cardRequired].contains(Eligibility.assess(service, for: applicant, today: today, used: 0).reason) {
            return (.notEntitled, nil, [])
        }
        // Quotas count per card: a request without one (no card to count by) is judged on the rest.
        guard let number = s.cardNumber?.value, let made = InputRules.instant(rfc3339: s.createdAt) else { return (nil, nil, []) }
        let month = QuotaPeriod.month(of: made)
        let counts = services.map(\.id)
        guard services.contains(where: { $0.quota != nil }) else { return (nil, month, counts) }
        if usage[number] == nil { usage[number] = try await loadUsage(db, number: number, catalogue: catalogue) }
        for service in services {
            if let quota = service.quota, (usage[number]?[month]?[service.id] ?? 0) + 1 > quota.limit {
                return (.quotaUsed, month, counts)
            }
        }
        return (nil, month, counts)
    }

    /// A card's stored requests that count against quotas (not declined), by Warsaw month and service (a bundle counts for each of its services).
    func loadUsage(_ db: any SQLConnection, number: String, catalogue: Catalogue) async throws -> Usage {
        var usage: Usage = [:]
        for row in try await db.query("""
            SELECT kind, service, created_at FROM service_request
            WHERE card_number = ? AND status <> 'declined' AND kind IN ('service','bundle')
            """, [.text(number)]) {
            guard let made = InputRules.instant(rfc3339: try row.text("created_at")) else { continue }
            let month = QuotaPeriod.month(of: made)
            let service = try row.text("service")
            let ids = try row.text("kind") == RequestKind.bundle.rawValue ? (catalogue.bundle(id: service)?.services ?? []) : [service]
            for id in ids { usage[month, default: [:]][id, default: 0] += 1 }
        }
        return usage
    }

    /// The kiosk number in a ticket's first part.
    static func kioskNumber(of ticket: Ticket) -> Int? {
        guard let prefix = ticket.code.split(separator: "-").first else { return nil }
        var n = 0
        for ch in prefix {
            guard let digit = Ticket.alphabet.firstIndex(of: ch), n < Int.max / 64 else { return nil }
            n = n * Ticket.alphabet.count + digit
        }
        return n
    }

    /// Writes a `request_status` feed entry that only `kioskID` sees.
    func publish(_ db: any SQLConnection, _ view: RequestStatusView, to kioskID: Int64, at now: Int64) async throws {
        let seq = try await nextSeq(db)
        try await db.execute(
            "INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (?, 'request_status', ?, ?, ?)",
            [.int(seq), .int(kioskID), .text(try Self.json(view)), .int(now)]
        )
    }

    // MARK: Requests as staff see them

    static let requestSelect = """
        SELECT r.id, r.idempotency_key, p.name AS kiosk, r.kiosk_id, r.kiosk_seq, r.created_at, r.received_at_ms, r.service,
               r.card_number, r.details, r.status, r.scheduled_at, r.status_reason, r.identity, r.ticket, r.kind, r.phone,
               r.scheduled_for, r.reason_code, r.reason_text
        FROM service_request r JOIN principal p ON p.id = r.kiosk_id
        """

    static func request(_ row: SQLRow) throws -> StoredRequest {
        guard let status = RequestStatus(rawValue: try row.text("status")) else { throw CentralStoreError.corrupt("unknown request status") }
        guard let identity = RequestIdentity(rawValue: try row.text("identity")) else { throw CentralStoreError.corrupt("unknown request identity") }
        guard let kind = RequestKind(rawValue: try row.text("kind")) else { throw CentralStoreError.corrupt("unknown request kind") }
        return StoredRequest(
            id: try row.int("id"), idempotencyKey: try row.text("idempotency_key"), kiosk: try row.text("kiosk"),
            kioskSeq: try row.int("kiosk_seq"), createdAt: try row.text("created_at"),
            receivedAt: Clock.rfc3339(millis: try row.int("received_at_ms")),
            ticket: row.optionalText("ticket").flatMap(Ticket.init(parsing:)), kind: kind, service: try row.text("service"),
            cardNumber: row.optionalText("card_number"), phone: row.optionalText("phone"),
            details: (try? JSONDecoder().decode(JSONValue.self, from: Data(try row.text("details").utf8))) ?? .object([:]),
            status: status, scheduledAt: row.optionalText("scheduled_at"), scheduledFor: row.optionalText("scheduled_for"),
            reason: row.optionalText("status_reason"), reasonCode: row.optionalText("reason_code"), identity: identity
        )
    }

    /// The reason in a row's `reason_code` and `reason_text`, if any.
    static func statusReason(_ row: SQLRow) -> StatusReason? {
        guard let code = row.optionalText("reason_code") else { return nil }
        let text = row.optionalText("reason_text").flatMap { try? JSONDecoder().decode(LocalizedText.self, from: Data($0.utf8)) }
        let words = row.optionalText("status_reason") ?? code
        return StatusReason(code: code, text: text ?? LocalizedText(pl: words, uk: words, en: words))
    }

    func requests(status: RequestStatus?, afterID: Int64, limit: Int) async throws(CentralStoreError) -> [StoredRequest] {
        let limit = Int64(min(max(limit, 1), 1000))
        return try await run(.read) { db in
            let rows = if let status {
                try await db.query("\(Self.requestSelect) WHERE r.id > ? AND r.status = ? ORDER BY r.id LIMIT ?", [.int(afterID), .text(status.rawValue), .int(limit)])
            } else {
                try await db.query("\(Self.requestSelect) WHERE r.id > ? ORDER BY r.id LIMIT ?", [.int(afterID), .int(limit)])
            }
            return try rows.map(Self.request)
        }
    }

    /// The row of the request `ref` names, or 404.
    func requestRow(_ db: any SQLConnection, _ ref: RequestRef) async throws -> SQLRow {
        let row = switch ref {
        case .id(let id): try await db.one("\(Self.requestSelect) WHERE r.id = ?", [.int(id)])
        case .ticket(let ticket): try await db.one("\(Self.requestSelect) WHERE r.ticket = ?", [.text(ticket.code)])
        }
        guard let row else { throw CentralStoreError.notFound("no \(ref); check the ticket's characters, or use the request id from requests list") }
        return row
    }

    func request(_ ref: RequestRef) async throws(CentralStoreError) -> StoredRequest {
        try await run(.read) { db in try Self.request(try await requestRow(db, ref)) }
    }

    // MARK: Coordinators move requests on

    func setRequestStatus(_ ref: RequestRef, _ change: RequestStatusChange) async throws(CentralStoreError) -> StoredRequest {
        switch change.status {
        case .scheduled:
            var day: CivilDate?
            if let text = change.scheduledFor {
                guard let parsed = try? CivilDate(iso: text) else { throw .invalid("scheduled_for must be a day, YYYY-MM-DD, e.g. 2025-03-04") }
                day = parsed
            }
            if let at = change.scheduledAt {
                guard let instant = InputRules.instant(rfc3339: at) else {
                    throw .invalid("scheduled_at must be an RFC 3339 time such as 2025-03-04T09:30:00+01:00")
                }
                day = day ?? CivilDate(instant, in: .warsaw)
            }
            guard let day else {
                throw .invalid("scheduled needs scheduled_for, a day such as 2025-03-04, or scheduled_at, an RFC 3339 time such as 2025-03-04T09:30:00+01:00")
            }
            return try await move(ref, to: .scheduled, scheduledAt: change.scheduledAt, scheduledFor: day.iso, reason: nil)
        case .declined:
            guard let why = change.reason, InputRules.isReason(why) else {
                throw .invalid("declined needs a reason (1 to 500 characters, not only spaces) the resident can be told")
            }
            return try await move(ref, to: .declined, scheduledAt: nil, scheduledFor: nil, reason: .coordinator(why.trimmingCharacters(in: .init(charactersIn: " \t\r\n"))))
        case .received, .done:
            return try await move(ref, to: change.status, scheduledAt: nil, scheduledFor: nil, reason: nil)
        }
    }

    func scheduleRequest(_ ref: RequestRef, date: CivilDate, time: String?) async throws(CentralStoreError) -> StoredRequest {
        var at: String?
        if let time {
            guard let text = Self.rfc3339(date, time) else { throw .invalid("time must be HH:MM, from 00:00 to 23:59, e.g. 09:30") }
            at = text
        }
        return try await move(ref, to: .scheduled, scheduledAt: at, scheduledFor: date.iso, reason: nil)
    }

    func declineRequest(_ ref: RequestRef, reason: String) async throws(CentralStoreError) -> StoredRequest {
        try await setRequestStatus(ref, RequestStatusChange(status: .declined, reason: reason))
    }

    /// `time` (`HH:MM`) on `day` in Warsaw as RFC 3339 with Warsaw's offset that day, e.g. `2025-03-04T09:30:00+01:00`.
    static func rfc3339(_ day: CivilDate, _ time: String) -> String? {
        let parts = time.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
              parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
              let hour = Int(parts[0]), let minute = Int(parts[1]), hour < 24, minute < 60 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .warsaw
        guard let instant = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: hour, minute: minute)) else { return nil }
        let offset = TimeZone.warsaw.secondsFromGMT(for: instant) / 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = offset < 0 ? "-" : "+"
        return "\(day.iso)T\(two(hour)):\(two(minute)):00\(sign)\(two(abs(offset) / 60)):\(two(abs(offset) % 60))"
    }

    /// Moves a request on and tells the kiosk that took it, through its feed.
    func move(
        _ ref: RequestRef, to status: RequestStatus, scheduledAt: String?, scheduledFor: String?, reason: StatusReason?
    ) async throws(CentralStoreError) -> StoredRequest {
        try await run(.write) { db in
            let row = try await requestRow(db, ref)
            let current = try Self.request(row)
            if current.status.isFinal {
                throw CentralStoreError.conflict("\(ref) is already \(current.status.rawValue); a closed request cannot change")
            }
            var (at, day) = (scheduledAt, scheduledFor)
            // Done keeps the appointment it was done at.
            if status == .done { (at, day) = (current.scheduledAt, current.scheduledFor) }
            let now = Clock.nowMillis()
            try await db.execute("""
                UPDATE service_request SET status = ?, scheduled_at = ?, scheduled_for = ?, status_reason = ?, reason_code = ?, reason_text = ?,
                       status_changed_at_ms = ?
                WHERE id = ?
                """, [
                    .text(status.rawValue), at.map { .text($0) } ?? .null, day.map { .text($0) } ?? .null,
                    reason.map { .text($0.text.en) } ?? .null, reason.map { .text($0.code) } ?? .null,
                    try reason.map { .text(try Self.json($0.text)) } ?? .null, .int(now), .int(current.id),
                ])
            let view = RequestStatusView(
                requestID: current.id, idempotencyKey: current.idempotencyKey, status: status, scheduledAt: at, scheduledFor: day,
                reason: reason, ticket: current.ticket
            )
            try await publish(db, view, to: try row.int("kiosk_id"), at: now)
            return try Self.request(try await requestRow(db, .id(current.id)))
        }
    }

    // MARK: A card holder's own requests

    /// How long a closed request stays in the holder's list.
    static let holderHistory: Int64 = 90 * 86_400_000

    func holderRequests(_ query: HolderQuery) async throws(CentralStoreError) -> HolderRequests {
        // One answer for every mismatch: a kiosk token alone must not tell which numbers exist.
        let notFound = CentralStoreError.notFound("no card with this number and chip; tap the card again")
        guard let number = try? CardNumber(normalising: query.cardNumber), let uid = try? ChipUID(hex: query.uid) else { throw notFound }
        return try await run(.read) { db in
            guard let chip = try await db.one(Self.currentChip, [.text(number.value)]), chip.optionalText("uid") == uid.hex else {
                throw notFound
            }
            let rows = try await db.query("""
                SELECT id, idempotency_key, ticket, kind, service, status, created_at, scheduled_for, reason_code, reason_text, status_reason
                FROM service_request
                WHERE card_number = ? AND (status IN ('received','scheduled') OR status_changed_at_ms >= ?)
                ORDER BY id DESC LIMIT 50
                """, [.text(number.value), .int(Clock.nowMillis() - Self.holderHistory)])
            return HolderRequests(requests: try rows.map { row in
                guard let status = RequestStatus(rawValue: try row.text("status")), let kind = RequestKind(rawValue: try row.text("kind")) else {
                    throw CentralStoreError.corrupt("unknown request status or kind")
                }
                let service = try row.text("service")
                return HolderRequest(
                    requestID: try row.int("id"), idempotencyKey: try row.text("idempotency_key"),
                    ticket: row.optionalText("ticket").flatMap(Ticket.init(parsing:)), kind: kind, service: service.isEmpty ? nil : service,
                    status: status, createdAt: try row.text("created_at"), scheduledFor: row.optionalText("scheduled_for"),
                    reason: Self.statusReason(row)
                )
            })
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
