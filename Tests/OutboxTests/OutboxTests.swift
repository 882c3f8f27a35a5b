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
    @Test func enqueueIsDurableOrderedAndSequenced() throws {
        let dir = TempDir()
        let path = dir.file("outbox.sqlite")
        var keys: [String] = []
        do {
            let outbox = try Outbox(path: path)
            for i in 0..<5 {
                let item = try outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001", detailsJSON: #"{"n":\#(i)}"#)
                #expect(item.kioskSeq == Int64(i + 1))
                #expect(item.state == .pending)
                keys.append(item.idempotencyKey)
            }
            let mode = try outbox.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(mode == "wal")
            // On the writer connection itself, the one every commit goes through (a reader's says nothing).
            #expect(try outbox.writerSynchronousLevel() == 2)  // FULL
            let writer = try outbox.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(writer == 2)
            // Only its owner may read it, and so the WAL it writes.
            for file in [path, path + "-wal"] {
                let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
                #expect(mode == 0o600, "\(file)")
            }
        }
        // Reopened (as after a restart): everything is there, oldest first.
        let outbox = try Outbox(path: path)
        let pending = try outbox.pending(limit: 10)
        #expect(pending.map(\.idempotencyKey) == keys)
        #expect(pending.map(\.kioskSeq) == [1, 2, 3, 4, 5])
        #expect(try outbox.pending(limit: 2).count == 2)
        #expect(try outbox.counts() == OutboxCounts(pending: 5, quarantined: 0, delivered: 0))
    }

    @Test func resultsPerItemInOneTransactionBlankTheCardNumberAndNeverReuseSeq() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let a = try outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001")
        let b = try outbox.enqueue(service: "home_care", cardNumber: "SKS0002")
        let c = try outbox.enqueue(service: "handyman", cardNumber: "SKS0003")
        try outbox.record([
            a.idempotencyKey: .delivered(.accepted, requestID: 41),
            b.idempotencyKey: .rejected(reason: "service not offered"),
            c.idempotencyKey: .failed(error: "timeout"),
        ])
        let da = try #require(try outbox.item(key: a.idempotencyKey))
        #expect(da.state == .delivered(outcome: .accepted, requestID: 41))
        #expect(da.cardNumber == nil)
        let qb = try #require(try outbox.item(key: b.idempotencyKey))
        #expect(qb.state == .quarantined(reason: "service not offered"))
        #expect(qb.cardNumber == nil)
        let pc = try #require(try outbox.item(key: c.idempotencyKey))
        #expect(pc.state == .pending)
        #expect(pc.cardNumber == "SKS0003")
        #expect(pc.attempts == 1)
        #expect(pc.lastError == "timeout")
        // The quarantined item does not block the one behind it.
        #expect(try outbox.pending(limit: 10).map(\.idempotencyKey) == [c.idempotencyKey])
        #expect(try outbox.counts() == OutboxCounts(pending: 1, quarantined: 1, delivered: 1))

        // Recording again (a replay after a crash) changes nothing settled.
        try outbox.record([a.idempotencyKey: .delivered(.duplicate, requestID: 99)])
        #expect(try outbox.item(key: a.idempotencyKey)?.state == .delivered(outcome: .accepted, requestID: 41))

        // Sequence numbers keep growing even if rows were to disappear.
        try outbox.pool.write { db in try db.execute(sql: "DELETE FROM request") }
        let d = try outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0004")
        #expect(d.kioskSeq == 4)
    }

    @Test func quarantineAndStatusUpdatesFromTheFeed() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let a = try outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001")
        try outbox.quarantine(key: a.idempotencyKey, reason: "bad")
        #expect(try outbox.counts().quarantined == 1)
        let b = try outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001")
        try outbox.record([b.idempotencyKey: .delivered(.accepted, requestID: 7)])
        let changed = try outbox.apply([
            .init(idempotencyKey: b.idempotencyKey.uppercased(), requestID: 7, status: "scheduled", scheduledAt: "2030-03-04T09:30:00+01:00"),
            .init(idempotencyKey: UUIDv7.make(), requestID: 8, status: "done", scheduledAt: nil),  // not ours: ignored
        ])
        #expect(changed == 1)
        let item = try #require(try outbox.item(key: b.idempotencyKey))
        #expect(item.centralStatus == "scheduled")
        #expect(item.scheduledAt == "2030-03-04T09:30:00+01:00")
    }

    @Test func refusesBadDetailsAndForeignFiles() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        #expect(throws: OutboxError.self) { try outbox.enqueue(service: "x", cardNumber: "SKS0001", detailsJSON: "[1]") }
        #expect(throws: OutboxError.self) { try outbox.enqueue(service: "x", cardNumber: "SKS0001", detailsJSON: "{\"a\":\"" + String(repeating: "x", count: 5000) + "\"}") }
        #expect(try outbox.counts().pending == 0)

        let garbage = dir.file("garbage.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: OutboxError.self) { _ = try Outbox(path: garbage) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: garbage)) == Data(repeating: 0x41, count: 8192))
    }

    @Test("prune deletes settled items by age and beyond the count, never a pending one; counts report the oldest pending")
    func pruneSettledKeepsPending() throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let day: TimeInterval = 86_400
        let now = Date()
        let oldPending = try outbox.enqueue(service: "senior_taxi", cardNumber: "SKS0001", at: now.addingTimeInterval(-400 * day))
        var settled: [String] = []
        for i in 0..<6 {
            let item = try outbox.enqueue(service: "handyman", cardNumber: "SKS0002", at: now.addingTimeInterval(-Double(200 - i) * day))
            settled.append(item.idempotencyKey)
        }
        // Two settled long ago, four recently (one of them quarantined).
        try outbox.record([settled[0]: .delivered(.accepted, requestID: 1)], at: now.addingTimeInterval(-120 * day))
        try outbox.quarantine(key: settled[1], reason: "unparseable", at: now.addingTimeInterval(-100 * day))
        for (n, key) in settled[2...4].enumerated() {
            try outbox.record([key: .delivered(.accepted, requestID: Int64(n + 2))], at: now.addingTimeInterval(-Double(10 - n) * day))
        }
        try outbox.quarantine(key: settled[5], reason: "unparseable", at: now.addingTimeInterval(-1 * day))
        let counts = try outbox.counts()
        #expect(counts.pending == 1)
        #expect(abs((try outbox.oldestPending() ?? .distantFuture).timeIntervalSince(now.addingTimeInterval(-400 * day))) < 2)

        // Older than 90 days: the first two go; the pending one, older still, stays.
        #expect(try outbox.prune(settledBefore: now.addingTimeInterval(-90 * day), keepSettled: 100) == 2)
        #expect(try outbox.item(key: settled[0]) == nil)
        #expect(try outbox.item(key: settled[1]) == nil)
        #expect(try outbox.item(key: oldPending.idempotencyKey) != nil)
        // At most two settled: the oldest settled of the rest go.
        #expect(try outbox.prune(settledBefore: now.addingTimeInterval(-90 * day), keepSettled: 2) == 2)
        #expect(try outbox.item(key: settled[2]) == nil)
        #expect(try outbox.item(key: settled[3]) == nil)
        #expect(try outbox.item(key: settled[4]) != nil)
        #expect(try outbox.item(key: settled[5]) != nil)
        #expect(try outbox.counts() == OutboxCounts(pending: 1, quarantined: 1, delivered: 1))
        // Nothing settled left to drop: pending items survive even `keepSettled: 0`.
        #expect(try outbox.prune(settledBefore: now, keepSettled: 0) == 2)
        #expect(try outbox.counts().pending == 1)
    }
}
