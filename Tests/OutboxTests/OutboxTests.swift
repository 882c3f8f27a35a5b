import CardModel
import CentralWire
import Foundation
import GRDB
import Testing
@testable import Outbox

/// A fresh folder under the system temp dir, removed when the test ends.
final class TempDir: Sendable {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "cus-outbox-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite("UUIDv7")
struct UUIDv7Tests {
    @Test func formatVersionVariantAndTime() throws {
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        let key = UUIDv7.make()
        let after = UInt64(Date().timeIntervalSince1970 * 1000) + 1
        #expect(UUIDv7.isValid(key))
        #expect(key == key.lowercased())
        let chars = Array(key)
        #expect(chars[14] == "7")
        #expect("89ab".contains(chars[19]))
        let millis = try #require(UUIDv7.millis(of: key))
        #expect(millis >= before && millis <= after)
        #expect(UUID(uuidString: key) != nil)
    }

    @Test func strictlyIncreasingEvenWithinOneMillisecondAndWhenTheClockStepsBack() {
        var keys: [String] = []
        for _ in 0..<5000 { keys.append(UUIDv7.make(nowMillis: 1_700_000_000_000)) }
        keys.append(UUIDv7.make(nowMillis: 1_600_000_000_000))  // clock went back
        for _ in 0..<10 { keys.append(UUIDv7.make()) }
        #expect(Set(keys).count == keys.count)
        #expect(keys == keys.sorted())
        #expect(keys.allSatisfy(UUIDv7.isValid))
    }

    @Test func refusesNonV7() {
        #expect(!UUIDv7.isValid(UUID().uuidString.lowercased()))  // v4
        #expect(!UUIDv7.isValid("0190b7c4-5e6f-7a8b-1c0d-1e2f3a4b5c6d"))  // wrong variant
        #expect(!UUIDv7.isValid("not a uuid"))
    }
}

@Suite("Outbox")
struct OutboxTests {
    @Test func enqueueIsDurableOrderedAndSequenced() async throws {
        let dir = TempDir()
        let path = dir.file("outbox.sqlite")
        var keys: [String] = []
        do {
            let outbox = try Outbox(path: path)
            for i in 0..<5 {
                let item = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001", detailsJSON: #"{"n":\#(i)}"#)
                #expect(item.kioskSeq == Int64(i + 1))
                #expect(item.state == .pending)
                keys.append(item.idempotencyKey)
            }
            let mode = try await outbox.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
            // On the writer connection itself, the one every commit goes through (a reader's says nothing).
            #expect(try outbox.writerSynchronousLevel() == 2)  // FULL
            let writer = try await outbox.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(writer == 2)
            // Only its owner may read it, and so the WAL it writes.
            for file in [path, path + "-wal"] {
                let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
                #expect(mode == 0o600, "\(file)")
            }
        }
        // Reopened (as after a restart): everything is there, oldest first.
        let outbox = try Outbox(path: path)
        let pending = try await outbox.pending(limit: 10)
        #expect(pending.map(\.idempotencyKey) == keys)
        #expect(pending.map(\.kioskSeq) == [1, 2, 3, 4, 5])
        #expect(try await outbox.pending(limit: 2).count == 2)
        #expect(try await outbox.counts() == OutboxCounts(pending: 5, quarantined: 0, delivered: 0))
    }

    @Test func resultsPerItemInOneTransactionEraseTheCardNumberOnDeliveryAndNeverReuseSeq() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let a = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001")
        let b = try await outbox.enqueue(service: "home_care", cardNumber: "SKS0002")
        let c = try await outbox.enqueue(service: "handyman", cardNumber: "SKS0003")
        try await outbox.record([
            a.idempotencyKey: .delivered(.accepted, requestID: 41),
            b.idempotencyKey: .rejected(reason: "service not offered"),
            c.idempotencyKey: .failed(error: "timeout"),
        ])
        let da = try #require(try outbox.item(key: a.idempotencyKey))
        #expect(da.state == .delivered(outcome: .accepted, requestID: 41))
        #expect(da.cardNumber == nil)
        let qb = try #require(try outbox.item(key: b.idempotencyKey))
        #expect(qb.state == .quarantined(reason: "service not offered"))
        // Quarantine keeps the number until a person has dealt with the item.
        #expect(qb.cardNumber == "SKS0002")
        let pc = try #require(try outbox.item(key: c.idempotencyKey))
        #expect(pc.state == .pending)
        #expect(pc.cardNumber == "SKS0003")
        #expect(pc.attempts == 1)
        #expect(pc.lastError == "timeout")
        // The quarantined item does not block the one behind it.
        #expect(try await outbox.pending(limit: 10).map(\.idempotencyKey) == [c.idempotencyKey])
        #expect(try await outbox.counts() == OutboxCounts(pending: 1, quarantined: 1, delivered: 1))

        // Recording again (a replay after a crash) changes nothing settled.
        try await outbox.record([a.idempotencyKey: .delivered(.duplicate, requestID: 99)])
        #expect(try outbox.item(key: a.idempotencyKey)?.state == .delivered(outcome: .accepted, requestID: 41))

        // Sequence numbers keep growing even if rows were to disappear.
        try await outbox.pool.write { db in try db.execute(sql: "DELETE FROM request") }
        let d = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0004")
        #expect(d.kioskSeq == 4)
    }

    @Test func quarantineAndStatusUpdatesFromTheFeed() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let a = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001")
        try outbox.quarantine(key: a.idempotencyKey, reason: "bad")
        #expect(try await outbox.counts().quarantined == 1)
        let b = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001")
        try await outbox.record([b.idempotencyKey: .delivered(.accepted, requestID: 7)])
        let changed = try await outbox.apply([
            .init(idempotencyKey: b.idempotencyKey.uppercased(), requestID: 7, status: "scheduled", scheduledAt: "2030-03-04T09:30:00+01:00"),
            .init(idempotencyKey: UUIDv7.make(), requestID: 8, status: "done", scheduledAt: nil),  // not ours: ignored
        ])
        #expect(changed == 1)
        let item = try #require(try outbox.item(key: b.idempotencyKey))
        #expect(item.centralStatus == "scheduled")
        #expect(item.scheduledAt == "2030-03-04T09:30:00+01:00")
    }

    @Test func refusesBadDetailsAndForeignFiles() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        await #expect(throws: OutboxError.self) { try await outbox.enqueue(service: "x", cardNumber: "SKS0001", detailsJSON: "[1]") }
        await #expect(throws: OutboxError.self) { try await outbox.enqueue(service: "x", cardNumber: "SKS0001", detailsJSON: "{\"a\":\"" + String(repeating: "x", count: 5000) + "\"}") }
        #expect(try await outbox.counts().pending == 0)

        let garbage = dir.file("garbage.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: OutboxError.self) { _ = try Outbox(path: garbage) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: garbage)) == Data(repeating: 0x41, count: 8192))
    }

    @Test("prune deletes settled items by age and beyond the count, never a pending one; counts report the oldest pending")
    func pruneSettledKeepsPending() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let day: TimeInterval = 86_400
        let now = Date()
        let oldPending = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001", at: now.addingTimeInterval(-400 * day))
        var settled: [String] = []
        for i in 0..<6 {
            let item = try await outbox.enqueue(service: "handyman", cardNumber: "SKS0002", at: now.addingTimeInterval(-Double(200 - i) * day))
            settled.append(item.idempotencyKey)
        }
        // Two settled long ago, four recently (one of them quarantined).
        try await outbox.record([settled[0]: .delivered(.accepted, requestID: 1)], at: now.addingTimeInterval(-120 * day))
        try outbox.quarantine(key: settled[1], reason: "unparseable", at: now.addingTimeInterval(-100 * day))
        for (n, key) in settled[2...4].enumerated() {
            try await outbox.record([key: .delivered(.accepted, requestID: Int64(n + 2))], at: now.addingTimeInterval(-Double(10 - n) * day))
        }
        try outbox.quarantine(key: settled[5], reason: "unparseable", at: now.addingTimeInterval(-1 * day))
        let counts = try await outbox.counts()
        #expect(counts.pending == 1)
        #expect(abs((try await outbox.oldestPending() ?? .distantFuture).timeIntervalSince(now.addingTimeInterval(-400 * day))) < 2)

        // Older than 90 days: the delivered one goes; the quarantined one (waiting for a person) and the
        // pending one, older still, stay.
        #expect(try await outbox.prune(settledBefore: now.addingTimeInterval(-90 * day), keepSettled: 100) == 1)
        #expect(try outbox.item(key: settled[0]) == nil)
        #expect(try outbox.item(key: settled[1]) != nil)
        #expect(try outbox.item(key: oldPending.idempotencyKey) != nil)
        // At most one delivered: the oldest delivered of the rest go.
        #expect(try await outbox.prune(settledBefore: now.addingTimeInterval(-90 * day), keepSettled: 1) == 2)
        #expect(try outbox.item(key: settled[2]) == nil)
        #expect(try outbox.item(key: settled[3]) == nil)
        #expect(try outbox.item(key: settled[4]) != nil)
        #expect(try outbox.item(key: settled[5]) != nil)
        #expect(try await outbox.counts() == OutboxCounts(pending: 1, quarantined: 2, delivered: 1))
        // Only delivered items can go: pending and quarantined ones survive even `keepSettled: 0`.
        #expect(try await outbox.prune(settledBefore: now, keepSettled: 0) == 1)
        #expect(try await outbox.counts() == OutboxCounts(pending: 1, quarantined: 2, delivered: 0))
        // A delivered item of this month stays whatever the settings: the kiosk counts it against quotas.
        let recent = try await outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0005")
        try await outbox.record([recent.idempotencyKey: .delivered(.accepted, requestID: 9)], at: now.addingTimeInterval(-3 * day))
        #expect(try await outbox.prune(settledBefore: now, keepSettled: 0) == 0)
        #expect(try await outbox.prune(settledBefore: now, keepSettled: 0, keepMonth: "9999-12") == 1)
    }
}

@Suite("Outbox: tickets, phones, card tags, quarantine")
struct OutboxRequestTests {
    /// Whether any of the outbox's three files holds `text` anywhere in its raw bytes.
    static func filesHold(_ path: String, _ text: String) -> [String] {
        [path, path + "-wal", path + "-shm"].filter { file in
            guard let data = FileManager.default.contents(atPath: file) else { return false }
            return data.range(of: Data(text.utf8)) != nil
        }
    }

    @Test("a request gets a ticket from the kiosk number and its sequence; it is found by key or ticket as read aloud")
    func tickets() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let a = try await outbox.enqueue(NewRequest(kind: .service, service: "psychologist", cardNumber: "SKS0001", identity: .verified), ticketKiosk: 7)
        let b = try await outbox.enqueue(NewRequest(kind: .service, service: "psychologist", cardNumber: "SKS0001", identity: .verified), ticketKiosk: 7)
        #expect(a.ticket == Ticket(kiosk: 7, sequence: 1).code)
        #expect(b.ticket == Ticket(kiosk: 7, sequence: 2).code)
        #expect(a.ticket != b.ticket)
        let spoken = try #require(b.ticket).lowercased().replacingOccurrences(of: "-", with: " - ")
        #expect(try outbox.item(keyOrTicket: spoken)?.idempotencyKey == b.idempotencyKey)
        #expect(try outbox.item(keyOrTicket: a.idempotencyKey.uppercased())?.idempotencyKey == a.idempotencyKey)
        #expect(try outbox.item(keyOrTicket: "ZZ-22222") == nil)
    }

    @Test("a call-back carries a phone and no card number; a card request may not carry none")
    func callbacks() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let c = try await outbox.enqueue(NewRequest(kind: .callback, service: nil, cardNumber: nil, identity: .unverified, phone: "+48512345678"), ticketKiosk: 3)
        #expect(c.kind == .callback && c.cardNumber == nil && c.cardTag == nil && c.phone == "+48512345678")
        await #expect(throws: OutboxError.self) {
            try await outbox.enqueue(NewRequest(kind: .callback, service: nil, cardNumber: "SKS0001", identity: .unverified, phone: "+48512345678"), ticketKiosk: 3)
        }
        await #expect(throws: OutboxError.self) { try await outbox.enqueue(NewRequest(kind: .callback, service: nil, cardNumber: nil, identity: .unverified), ticketKiosk: 3) }
        await #expect(throws: OutboxError.self) { try await outbox.enqueue(NewRequest(kind: .service, service: "psychologist", cardNumber: nil, identity: .verified), ticketKiosk: 3) }
    }

    @Test("delivery erases the card number and the phone from outbox.sqlite, its WAL and its shm; the card tag still counts the request")
    func deliveryErasesDigits() async throws {
        let dir = TempDir()
        let path = dir.file("outbox.sqlite")
        let outbox = try Outbox(path: path)
        let item = try await outbox.enqueue(
            NewRequest(kind: .service, service: "senior_taxi", cardNumber: "SKS0001", identity: .verified, detailsJSON: #"{"note":"x"}"#, phone: "+48512345678"),
            ticketKiosk: 1
        )
        let callback = try await outbox.enqueue(NewRequest(kind: .callback, service: nil, cardNumber: nil, identity: .unverified, phone: "+48609111222"), ticketKiosk: 1)
        #expect(!Self.filesHold(path, "512345678").isEmpty, "the test must see the digits before delivery")
        try await outbox.record([
            item.idempotencyKey: .delivered(.accepted, requestID: 1, status: "received"),
            callback.idempotencyKey: .delivered(.accepted, requestID: 2),
        ])
        for digits in ["512345678", "609111222", "SKS0001"] {
            #expect(Self.filesHold(path, digits).isEmpty, "\(digits) still in \(Self.filesHold(path, digits))")
        }
        let delivered = try #require(try outbox.item(key: item.idempotencyKey))
        #expect(delivered.cardNumber == nil && delivered.phone == nil)
        #expect(delivered.centralStatus == "received")
        #expect(try outbox.items(forCard: "SKS0001").map(\.idempotencyKey) == [item.idempotencyKey])
        #expect(try outbox.items(forCard: "SKS0001", month: Outbox.month(of: Date())).count == 1)
        #expect(try outbox.items(forCard: "SKS0001", month: "1999-01").isEmpty)
        #expect(try outbox.items(forCard: "SKS0002").isEmpty)
        // The tag is no number: another outbox (another key) gives the same card another tag.
        let other = try Outbox(path: dir.file("other.sqlite"))
        #expect(other.cardTag(for: "SKS0001") != outbox.cardTag(for: "SKS0001"))
        #expect(outbox.cardTag(for: "SKS0001").count == 64)
    }

    @Test("a decline from the central is kept with its reason; feed updates store the day, reason and ticket")
    func declinesAndStatuses() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let a = try await outbox.enqueue(NewRequest(kind: .service, service: "senior_taxi", cardNumber: "SKS0001", identity: .verified), ticketKiosk: 1)
        let b = try await outbox.enqueue(NewRequest(kind: .service, service: "senior_taxi", cardNumber: "SKS0001", identity: .verified), ticketKiosk: 1)
        let reason = StatusReason(code: "quota_used", text: LocalizedText(pl: "Limit", uk: "Ліміт", en: "Limit"))
        try await outbox.record([
            a.idempotencyKey: .delivered(.accepted, requestID: 5, status: "declined", reason: reason),
            b.idempotencyKey: .delivered(.accepted, requestID: 6, status: "received"),
        ])
        let declined = try #require(try outbox.item(key: a.idempotencyKey))
        #expect(declined.centralStatus == "declined" && declined.reason == reason)
        try await outbox.apply([.init(idempotencyKey: b.idempotencyKey, requestID: 6, status: "scheduled", scheduledAt: nil, scheduledFor: "2030-03-04",
                                reason: nil, ticket: "22-2222Z")])
        let scheduled = try #require(try outbox.item(key: b.idempotencyKey))
        #expect(scheduled.centralStatus == "scheduled" && scheduled.scheduledFor == "2030-03-04" && scheduled.ticket == "22-2222Z")
    }

    @Test("quarantine keeps the number and phone; requeue sends it again; discard erases both from the files")
    func quarantineRequeueDiscard() async throws {
        let dir = TempDir()
        let path = dir.file("outbox.sqlite")
        let outbox = try Outbox(path: path)
        let item = try await outbox.enqueue(
            NewRequest(kind: .service, service: "senior_taxi", cardNumber: "SKS0001", identity: .verified, phone: "+48512345678"), ticketKiosk: 4
        )
        try await outbox.record([item.idempotencyKey: .rejected(reason: "cannot parse")])
        let held = try #require(try outbox.item(key: item.idempotencyKey))
        #expect(held.state == .quarantined(reason: "cannot parse") && held.cardNumber == "SKS0001" && held.phone == "+48512345678")
        #expect(throws: OutboxError.self) { try outbox.discard(keyOrTicket: UUIDv7.make()) }

        let again = try outbox.requeue(keyOrTicket: try #require(item.ticket))
        #expect(again.state == .pending && again.attempts == 0 && again.cardNumber == "SKS0001")
        #expect(try await outbox.pending(limit: 10).map(\.idempotencyKey) == [item.idempotencyKey])
        #expect(throws: OutboxError.self) { try outbox.requeue(keyOrTicket: item.idempotencyKey) }  // pending, not quarantined
        #expect(throws: OutboxError.self) { try outbox.discard(keyOrTicket: item.idempotencyKey) }  // only quarantined ones

        try outbox.quarantine(key: item.idempotencyKey, reason: "still cannot parse")
        let gone = try outbox.discard(keyOrTicket: item.idempotencyKey)
        #expect(gone.state == .discarded && gone.cardNumber == nil && gone.phone == nil)
        for digits in ["512345678", "SKS0001"] { #expect(Self.filesHold(path, digits).isEmpty, "\(digits)") }
        #expect(try await outbox.counts() == OutboxCounts(pending: 0, quarantined: 0, delivered: 0, discarded: 1))
        // Discarded requests do not count for the card any more.
        #expect(try outbox.items(forCard: "SKS0001").isEmpty)
    }

    @Test("migrating a v2 outbox keeps every row, tags pending card numbers and stamps months")
    func migratesV2() async throws {
        let dir = TempDir()
        let path = dir.file("outbox.sqlite")
        do {
            let queue = try DatabaseQueue(path: path)
            try Outbox.migrator.migrate(queue, upTo: "v2 identity")
            try await queue.write { db in
                try db.execute(sql: """
                    INSERT INTO request (kiosk_seq, idempotency_key, created_at, service, card_number, details, state, identity)
                    VALUES (1, '0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d', '2026-01-15T10:00:00Z', 'senior_taxi', 'SKS0001', '{}', 'pending', 'unverified');
                    INSERT INTO request (kiosk_seq, idempotency_key, created_at, service, card_number, details, state, outcome, request_id, settled_at)
                    VALUES (2, '0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6e', '2026-01-31T23:30:00Z', 'home_care', NULL, '{}', 'delivered', 'accepted', 9, '2026-02-01T00:00:00Z');
                    INSERT INTO request (kiosk_seq, idempotency_key, created_at, service, card_number, details, state, reason)
                    VALUES (3, '0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6f', '2026-02-02T10:00:00Z', 'handyman', NULL, '{}', 'quarantined', 'bad');
                    UPDATE outbox_meta SET last_seq = 3;
                    """)
            }
            try queue.close()
        }
        let outbox = try Outbox(path: path)
        let items = try outbox.items(inStates: ["pending", "delivered", "quarantined"])
        #expect(items.map(\.kioskSeq) == [1, 2, 3])
        #expect(items[0].cardNumber == "SKS0001" && items[0].cardTag == outbox.cardTag(for: "SKS0001") && items[0].identity == .unverified)
        #expect(items[0].month == "2026-01")
        // 23:30 UTC on 31 January is 1 February in Warsaw.
        #expect(items[1].month == "2026-02" && items[1].state == .delivered(outcome: .accepted, requestID: 9))
        #expect(items[2].state == .quarantined(reason: "bad"))
        #expect(items.allSatisfy { $0.kind == .service && $0.ticket == nil })
        // The sequence goes on after the old rows.
        #expect(try await outbox.enqueue(service: "psychologist", cardNumber: "SKS0002").kioskSeq == 4)
        // An item quarantined by the old kioskd has no number to send again.
        #expect(throws: OutboxError.self) { try outbox.requeue(keyOrTicket: items[2].idempotencyKey) }
    }
}
