import CardModel
import Crypto
import CentralWire
import Foundation

extension RelationalCentralStore {
    // MARK: Principals

    /// The SHA-256 of a token, in hex: all the store keeps of it.
    static func hash(token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// A fresh token: a role prefix and 32 random bytes in base64url.
    static func newToken(_ kind: Principal.Kind) -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let b64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (kind == .kiosk ? "cusk_" : "cuss_") + b64
    }

    static func checkName(_ name: String) throws(CentralStoreError) {
        guard (1...64).contains(name.utf8.count),
              name.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 95 || $0 == 46 })
        else { throw .invalid("a name is 1 to 64 letters, digits, '.', '-' or '_', e.g. skalka-1") }
    }

    func enrol(_ kind: Principal.Kind, name: String) async throws(CentralStoreError) -> String {
        try Self.checkName(name)
        let token = Self.newToken(kind)
        let hash = Self.hash(token: token)
        try await run(.write) { db in
            let now = Clock.nowMillis()
            if let existing = try await db.one("SELECT id, revoked_at_ms FROM principal WHERE kind = ? AND name = ?", [.text(kind.rawValue), .text(name)]) {
                guard existing.optionalInt("revoked_at_ms") != nil else {
                    throw CentralStoreError.conflict("\(kind.rawValue) \(name) is already enrolled; revoke it first to issue a new token")
                }
                try await db.execute(
                    "UPDATE principal SET token_hash = ?, created_at_ms = ?, revoked_at_ms = NULL WHERE id = ?",
                    [.text(hash), .int(now), .int(try existing.int("id"))]
                )
            } else {
                try await db.execute(
                    "INSERT INTO principal (kind, name, token_hash, created_at_ms) VALUES (?, ?, ?, ?)",
                    [.text(kind.rawValue), .text(name), .text(hash), .int(now)]
                )
            }
        }
        return token
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
        return try await run(.read) { db -> Principal? in
            guard let row = try await db.one(
                "SELECT id, kind, name FROM principal WHERE token_hash = ? AND revoked_at_ms IS NULL", [.text(hash)]
            ), let kind = Principal.Kind(rawValue: try row.text("kind")) else { return nil }
            return Principal(id: try row.int("id"), kind: kind, name: try row.text("name"))
        }
    }

    // MARK: Requests

    func submitRequests(_ items: [RequestItem], from kiosk: Principal) async throws(CentralStoreError) -> [RequestResult] {
        try await run(.write) { db in
            var results: [RequestResult] = []
            let now = Clock.nowMillis()
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
                    results.append(RequestResult(
                        idempotencyKey: key, outcome: .duplicate, requestID: first.optionalInt("request_id"),
                        reason: first.optionalText("reason"), firstOutcome: RequestResult.Outcome(rawValue: try first.text("outcome"))
                    ))
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
                    guard let row = try await db.one("""
                        INSERT INTO service_request (idempotency_key, kiosk_id, kiosk_seq, created_at, received_at_ms, service, card_number, details, status, identity)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received', ?) RETURNING id
                        """, [.text(s.idempotencyKey), .int(kiosk.id), .int(s.kioskSeq), .text(s.createdAt), .int(now),
                              .text(s.service), .text(s.cardNumber.value), .text(s.detailsJSON), .text(s.identity.rawValue)]) else {
                        throw CentralStoreError.corrupt("INSERT returned no id")
                    }
                    let id = try row.int("id")
                    try await db.execute(
                        "INSERT INTO request_receipt (idempotency_key, kiosk_id, outcome, request_id, received_at_ms) VALUES (?, ?, 'accepted', ?, ?)",
                        [.text(s.idempotencyKey), .int(kiosk.id), .int(id), .int(now)]
                    )
                    results.append(RequestResult(idempotencyKey: s.idempotencyKey, outcome: .accepted, requestID: id))
                }
            }
            return results
        }
    }

    static let requestSelect = """
        SELECT r.id, r.idempotency_key, p.name AS kiosk, r.kiosk_id, r.kiosk_seq, r.created_at, r.received_at_ms, r.service,
               r.card_number, r.details, r.status, r.scheduled_at, r.status_reason, r.identity
        FROM service_request r JOIN principal p ON p.id = r.kiosk_id
        """

    static func request(_ row: SQLRow) throws -> StoredRequest {
        guard let status = RequestStatus(rawValue: try row.text("status")) else { throw CentralStoreError.corrupt("unknown request status") }
        guard let identity = RequestIdentity(rawValue: try row.text("identity")) else { throw CentralStoreError.corrupt("unknown request identity") }
        return StoredRequest(
            id: try row.int("id"), idempotencyKey: try row.text("idempotency_key"), kiosk: try row.text("kiosk"),
            kioskSeq: try row.int("kiosk_seq"), createdAt: try row.text("created_at"),
            receivedAt: Clock.rfc3339(millis: try row.int("received_at_ms")), service: try row.text("service"),
            cardNumber: try row.text("card_number"),
            details: (try? JSONDecoder().decode(JSONValue.self, from: Data(try row.text("details").utf8))) ?? .object([:]),
            status: status, scheduledAt: row.optionalText("scheduled_at"), reason: row.optionalText("status_reason"),
            identity: identity
        )
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

    func setRequestStatus(id: Int64, _ change: RequestStatusChange) async throws(CentralStoreError) -> StoredRequest {
        var scheduledAt: String?
        var reason: String?
        switch change.status {
        case .scheduled:
            guard let at = change.scheduledAt, InputRules.isRFC3339(at) else {
                throw .invalid("scheduled needs scheduled_at, an RFC 3339 time such as 2025-03-04T09:30:00+01:00")
            }
            scheduledAt = at
        case .declined:
            guard let why = change.reason, InputRules.isReason(why) else {
                throw .invalid("declined needs a reason (1 to 500 characters, not only spaces) the resident can be told")
            }
            reason = why.trimmingCharacters(in: .init(charactersIn: " \t\r\n"))
        case .received, .done:
            break
        }
        return try await run(.write) { db in
            guard let row = try await db.one("\(Self.requestSelect) WHERE r.id = ?", [.int(id)]) else {
                throw CentralStoreError.notFound("no request \(id)")
            }
            let current = try Self.request(row)
            if current.status.isFinal {
                throw CentralStoreError.conflict("request \(id) is already \(current.status.rawValue); a closed request cannot change")
            }
            if change.status == .done { scheduledAt = current.scheduledAt }
            try await db.execute(
                "UPDATE service_request SET status = ?, scheduled_at = ?, status_reason = ?, status_changed_at_ms = ? WHERE id = ?",
                [.text(change.status.rawValue), scheduledAt.map { .text($0) } ?? .null, reason.map { .text($0) } ?? .null,
                 .int(Clock.nowMillis()), .int(id)]
            )
            let view = RequestStatusView(requestID: id, idempotencyKey: current.idempotencyKey, status: change.status, scheduledAt: scheduledAt)
            let seq = try await nextSeq(db)
            try await db.execute(
                "INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (?, 'request_status', ?, ?, ?)",
                [.int(seq), .int(try row.int("kiosk_id")), .text(try Self.json(view)), .int(Clock.nowMillis())]
            )
            guard let updated = try await db.one("\(Self.requestSelect) WHERE r.id = ?", [.int(id)]) else {
                throw CentralStoreError.corrupt("the request just written is missing")
            }
            return try Self.request(updated)
        }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
