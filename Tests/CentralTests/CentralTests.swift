import CardModel
import CentralAPI
import CentralStore
import CompressNIO
import CentralWire
import Foundation
import HummingbirdTesting
import NIOCore
import RegistryCSV
import Testing

@Suite("cus-central")
struct CentralTests {
    @Test("PostgreSQL is tested when CUS_TEST_POSTGRES_URL is set", .enabled(if: TestBackend.postgresURL != nil, "set CUS_TEST_POSTGRES_URL (e.g. postgres://cus:cus@127.0.0.1:5432/cus_test) to run every test on PostgreSQL too"))
    func postgresIsReachable() async throws {
        try await withStore(.postgres) { store in
            let number = try CardNumber(normalising: "NONE-1")
            #expect(try await store.card(number: number) == nil)
        }
    }

    @Test("import is idempotent and refuses bad rows with their line", arguments: TestBackend.allCases)
    func importIdempotent(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withStore(backend) { store in
            let first = try await importSample(store)
            #expect(first.cards == 3)
            #expect(first.refused.isEmpty)
            #expect(first.changes == 4)  // four chips
            let again = try await importSample(store)
            #expect(again.cards == 3)
            #expect(again.changes == 0)

            let bad = """
                card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status
                SEN-0002,04:A2:24:1A:7B:5C:80,senior60,,Ewa,Lis,2024-01-01,,active
                SEN-0003,,senior60,,Piotr,Zając,2024-13-01,,active
                SEN-0004,,senior60,,Piotr,Zając,2024-01-01,,active
                """
            let parsed = try RegistryCSV.parse(Array(bad.utf8))
            #expect(parsed.errors.map(\.line) == [3])
            let report = try await store.importRegistry(parsed.rows)
            #expect(report.refused.map(\.line) == [2])  // the uid belongs to SEN-0001
            #expect(report.cards == 1)
            let number = try CardNumber(normalising: "SEN-0004")
            let card = try #require(try await store.card(number: number))
            #expect(card.holderDisplayName == "Piotr Z.")
            #expect(card.technology == .printed)
        }
    }

    @Test("revoking a card puts it in the feed with a higher seq", arguments: TestBackend.allCases)
    func revokeInFeed(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let page = try await client.call("GET", "/v1/registry/changes?after=0", token: h.kioskA)
            #expect(page.status == 200)
            // The standard catalogue (seq 1, from the migration), then the four chips.
            #expect(page.json["changes"]?.array.map { $0["op"]?.string ?? "" } == ["catalogue", "upsert", "upsert", "upsert", "upsert"])
            let head = try #require(page.json["next_after"]?.int)
            #expect(page.json["has_more"]?.bool == false)

            let revoked = try await client.call("POST", "/v1/staff/cards/sen-0001/revoke", token: h.staff)
            #expect(revoked.status == 200)
            #expect(revoked.json["status"]?.string == "revoked")

            let next = try await client.call("GET", "/v1/registry/changes?after=\(head)", token: h.kioskA)
            let changes = next.json["changes"]?.array ?? []
            #expect(changes.count == 1)
            #expect((changes.first?["seq"]?.int ?? 0) > head)
            #expect(changes.first?["op"]?.string == "upsert")
            #expect(changes.first?["card"]?["number"]?.string == "SEN0001")
            #expect(changes.first?["card"]?["status"]?.string == "revoked")
            #expect(changes.first?["card"]?["entitlements"]?.array.count == 2)

            // A revoked chip cannot come back.
            #expect(try await client.call("POST", "/v1/staff/cards/SEN0001/suspend", token: h.staff).status == 409)
        }
    }

    @Test("catch-up pages are the stored JSON as is: what a kiosk decodes equals the typed feed, page by page", arguments: TestBackend.allCases)
    func catchUpServesStoredJSON(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            _ = try await client.call("POST", "/v1/staff/cards/sen-0001/revoke", token: h.staff)
            let kiosk = try #require(try await h.store.authenticate(token: h.kioskA))
            var after: Int64 = 0
            var pages = 0
            while true {
                let reply = try await client.call("GET", "/v1/registry/changes?after=\(after)&limit=2", token: h.kioskA)
                #expect(reply.status == 200)
                let served = try JSONDecoder().decode(ChangePage.self, from: Data(reply.body.readableBytesView))
                let typed = try await h.store.changes(after: after, limit: 2, kioskID: kiosk.id)
                #expect(served.changes == typed.changes)
                #expect(served.nextAfter == typed.nextAfter && served.hasMore == typed.hasMore)
                #expect(served.changes.count <= 2)
                pages += 1
                after = served.nextAfter
                if !served.hasMore { break }
            }
            // The catalogue, four chips and the revocation: three pages of at most two.
            #expect(pages == 3)
        }
    }

    @Test("replacing a card keeps the number and points the old chip at the new one", arguments: TestBackend.allCases)
    func replace(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let head = try #require(try await client.call("GET", "/v1/registry/changes?after=0", token: h.kioskA).json["next_after"]?.int)
            let new = try await client.call("POST", "/v1/staff/cards/SEN-0001/replace", token: h.staff,
                                            body: #"{"uid":"04:99:88:77:66:55:44","technology":"ntag215"}"#)
            #expect(new.status == 200)
            #expect(new.json["uid"]?.string == "04998877665544")
            #expect(new.json["status"]?.string == "active")
            #expect(new.json["number"]?.string == "SEN0001")

            let changes = try await client.call("GET", "/v1/registry/changes?after=\(head)", token: h.kioskA).json["changes"]?.array ?? []
            let cards = changes.compactMap { $0["card"] }
            let old = cards.first { $0["uid"]?.string == "04A2241A7B5C80" }
            #expect(old?["status"]?.string == "revoked")
            #expect(old?["replaced_by_uid"]?.string == "04998877665544")
            #expect(cards.contains { $0["uid"]?.string == "04998877665544" && $0["status"]?.string == "active" })

            // The same chip cannot replace twice.
            let again = try await client.call("POST", "/v1/staff/cards/SEN-0001/replace", token: h.staff,
                                              body: #"{"uid":"04998877665544","technology":"ntag215"}"#)
            #expect(again.status == 409)
            #expect(again.json["error"]?["code"]?.string == "conflict")
        }
    }

    @Test("the snapshot is gzip NDJSON at one seq", arguments: TestBackend.allCases)
    func snapshot(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            _ = try await client.call("POST", "/v1/staff/cards/KDR-1001/suspend", token: h.staff)
            let head = try #require(try await client.call("GET", "/v1/registry/changes?after=0", token: h.kioskA).json["next_after"]?.int)
            var reply = try await client.call("GET", "/v1/registry/snapshot", token: h.kioskA)
            #expect(reply.status == 200)
            let plain = try reply.body.decompress(with: .gzip())
            let lines = String(buffer: plain).split(separator: "\n").map { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            #expect(lines.first??["seq"]?.int == head)
            #expect(lines.first??["cards"]?.int == 4)
            #expect(lines.count == 5)
            let suspended = lines.dropFirst().compactMap { $0 }.first { $0["number"]?.string == "KDR1001" }
            #expect(suspended?["status"]?.string == "suspended")
            #expect(suspended?["uid"] == .null)
        }
    }

    @Test("a snapshot is sent again, byte for byte, while the feed leads from it to the head; encoded afresh once it does not", arguments: TestBackend.allCases)
    func keptSnapshot(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            func snapshot() async throws -> (bytes: ByteBuffer, seq: Int64?, suspended: Bool) {
                var reply = try await client.call("GET", "/v1/registry/snapshot", token: h.kioskB)
                #expect(reply.status == 200)
                let body = reply.body
                let lines = String(buffer: try reply.body.decompress(with: .gzip())).split(separator: "\n")
                    .map { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
                let card = lines.dropFirst().compactMap { $0 }.first { $0["number"]?.string == "KDR1001" }
                return (body, lines.first??["seq"]?.int, card?["status"]?.string == "suspended")
            }
            let first = try await snapshot()
            let taken = try #require(first.seq)
            _ = try await client.call("POST", "/v1/staff/cards/KDR-1001/suspend", token: h.staff)

            // The feed moved on by one entry: the kept snapshot goes out again, and the feed after it has the change.
            let second = try await snapshot()
            #expect(second.seq == taken)
            #expect(second.bytes == first.bytes)
            #expect(!second.suspended)
            let after = try await client.call("GET", "/v1/registry/changes?after=\(taken)", token: h.kioskB).json
            #expect(after["changes"]?.array.contains { $0["card"]?["number"]?.string == "KDR1001" && $0["card"]?["status"]?.string == "suspended" } == true)
            let head = try #require(after["next_after"]?.int)
            #expect(head > taken)

            // Once the feed no longer leads from it (pruned past it), a new snapshot is taken at the head.
            _ = try await h.store.pruneChanges(olderThan: Date().addingTimeInterval(60))
            let third = try await snapshot()
            #expect(third.seq == head)
            #expect(third.suspended)
            #expect(third.bytes != first.bytes)
        }
    }

    @Test("a cursor behind the retained feed gets 410 cursor_expired", arguments: TestBackend.allCases)
    func cursorExpired(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let head = try #require(try await client.call("GET", "/v1/registry/changes?after=0", token: h.kioskA).json["next_after"]?.int)
            let pruned = try await h.store.pruneChanges(olderThan: Date().addingTimeInterval(60))
            #expect(pruned == 5, "the catalogue entry and the four chips")
            let old = try await client.call("GET", "/v1/registry/changes?after=1", token: h.kioskA)
            #expect(old.status == 410)
            #expect(old.json["error"]?["code"]?.string == "cursor_expired")
            let current = try await client.call("GET", "/v1/registry/changes?after=\(head)", token: h.kioskA)
            #expect(current.status == 200)
            #expect(current.json["changes"]?.array.isEmpty == true)
        }
    }

    @Test("tokens: missing, unknown and revoked get 401; roles stay apart", arguments: TestBackend.allCases)
    func auth(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            #expect(try await client.call("GET", "/v1/health").status == 200)
            #expect(try await client.call("GET", "/v1/catalogue").json["services"]?.array.count == 13)
            #expect(try await client.call("GET", "/v1/services").status == 404, "the catalogue replaced the fixed service list")
            #expect(try await client.call("GET", "/v1/registry/changes").status == 401)
            #expect(try await client.call("GET", "/v1/registry/changes", token: "cusk_nonsense-token").status == 401)
            #expect(try await client.call("GET", "/v1/registry/changes", token: h.kioskA).status == 200)
            #expect(try await client.call("GET", "/v1/staff/requests", token: h.kioskA).status == 403)
            #expect(try await client.call("GET", "/v1/registry/changes", token: h.staff).status == 403)
            try await h.store.revoke(.kiosk, name: "skalka-1")
            let revoked = try await client.call("GET", "/v1/registry/changes", token: h.kioskA)
            #expect(revoked.status == 401)
            #expect(revoked.json["error"]?["code"]?.string == "unauthorized")
            #expect(try await client.call("GET", "/v1/registry/changes", token: h.kioskB).status == 200)
        }
    }

    @Test("a batch answers accepted, duplicate and rejected per item", arguments: TestBackend.allCases)
    func requestBatch(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let key = uuid7()
            let item = #"{"idempotency_key":"\#(key)","kiosk_seq":1,"created_at":"2025-03-01T10:15:00+01:00","service":"senior_taxi","card_number":"SEN-0001","details":{"to":"Solec-Zdrój"}}"#
            let badService = #"{"idempotency_key":"\#(uuid7())","kiosk_seq":2,"created_at":"2025-03-01T10:16:00Z","service":"Spa!","card_number":"SEN-0001"}"#
            let body = #"{"requests":[\#(item),\#(item),\#(badService),{"idempotency_key":"not-a-uuid"},42]}"#
            let reply = try await client.call("POST", "/v1/requests", token: h.kioskA, body: body)
            #expect(reply.status == 200)
            let results = reply.json["results"]?.array ?? []
            #expect(results.map { $0["outcome"]?.string } == ["accepted", "duplicate", "rejected", "rejected", "rejected"])
            let id = try #require(results[0]["request_id"]?.int)
            #expect(results[0]["status"]?.string == "received")
            #expect(results[1]["request_id"]?.int == id)
            #expect(results[1]["first_outcome"]?.string == "accepted")
            #expect(results[2]["reason"]?.string?.contains("catalogue") == true)

            let retry = try await client.call("POST", "/v1/requests", token: h.kioskA, body: #"{"requests":[\#(item)]}"#)
            #expect(retry.json["results"]?[0]?["outcome"]?.string == "duplicate")
            let list = try await h.store.requests(status: nil, afterID: 0, limit: 10)
            #expect(list.count == 1)
            #expect(list.first?.kiosk == "skalka-1")
            #expect(list.first?.cardNumber == "SEN0001")
            let staffList = try await client.call("GET", "/v1/staff/requests", token: h.staff)
            #expect(staffList.json["requests"]?.array.count == 1)
        }
    }

    @Test("a status change reaches only the kiosk that took the request", arguments: TestBackend.allCases)
    func statusToOwnKiosk(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let key = uuid7()
            let body = #"{"requests":[{"idempotency_key":"\#(key)","kiosk_seq":7,"created_at":"2025-03-01T10:15:00Z","service":"handyman","card_number":"SEN-0001","details":{}}]}"#
            let id = try #require(try await client.call("POST", "/v1/requests", token: h.kioskA, body: body).json["results"]?[0]?["request_id"]?.int)
            let scheduled = try await client.call("POST", "/v1/staff/requests/\(id)/status", token: h.staff,
                                                  body: #"{"status":"scheduled","scheduled_at":"2025-03-04T09:30:00+01:00"}"#)
            #expect(scheduled.status == 200)
            #expect(try await client.call("POST", "/v1/staff/requests/\(id)/status", token: h.staff, body: #"{"status":"scheduled"}"#).status == 400)

            let a = try await client.call("GET", "/v1/registry/changes?after=0", token: h.kioskA).json
            let mine = (a["changes"]?.array ?? []).filter { $0["op"]?.string == "request_status" }
            #expect(mine.count == 1)
            #expect(mine.first?["op"]?.string == "request_status")
            #expect(mine.first?["request"]?["idempotency_key"]?.string == key)
            #expect(mine.first?["request"]?["status"]?.string == "scheduled")
            #expect(mine.first?["request"]?["scheduled_at"]?.string == "2025-03-04T09:30:00+01:00")
            #expect(mine.first?["request"]?["scheduled_for"]?.string == "2025-03-04")

            let b = try await client.call("GET", "/v1/registry/changes?after=0", token: h.kioskB).json
            #expect(b["changes"]?.array.contains { $0["op"]?.string == "request_status" } == false)
            #expect(b["next_after"]?.int == a["next_after"]?.int)

            #expect(try await client.call("POST", "/v1/staff/requests/\(id)/status", token: h.staff, body: #"{"status":"declined","reason":"no slots"}"#).status == 200)
            #expect(try await client.call("POST", "/v1/staff/requests/\(id)/status", token: h.staff, body: #"{"status":"done"}"#).status == 409)
            #expect(try await client.call("POST", "/v1/staff/requests/999/status", token: h.staff, body: #"{"status":"done"}"#).status == 404)
        }
    }

    @Test("staff manage people, entitlements and cards; personal data stays minimal", arguments: TestBackend.allCases)
    func staffRegistry(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            #expect(try await client.call("PUT", "/v1/staff/people/p-77", token: h.staff, body: #"{"display_name":"Maria Wiśniewska"}"#).status == 400)
            #expect(try await client.call("PUT", "/v1/staff/people/85010112345", token: h.staff, body: #"{"display_name":"Maria W."}"#).status == 400)
            #expect(try await client.call("PUT", "/v1/staff/people/p-77", token: h.staff, body: #"{"display_name":"Maria W."}"#).status == 200)
            let ent = #"{"entitlements":[{"kind":"senior60","role":null,"valid_from":"2025-01-01","valid_until":null}]}"#
            #expect(try await client.call("PUT", "/v1/staff/people/p-77/entitlements", token: h.staff, body: ent).status == 200)
            let card = #"{"uid":null,"technology":"printed","series":"2025A","status":"active","valid_from":"2025-01-01","valid_until":null,"person_id":"p-77"}"#
            let put = try await client.call("PUT", "/v1/staff/cards/SEN-7777", token: h.staff, body: card)
            #expect(put.status == 200)
            #expect(put.json["holder_display_name"]?.string == "Maria W.")
            #expect(put.json["entitlements"]?.array.count == 1)
            let lost = try await client.call("POST", "/v1/staff/cards/SEN-7777/report-lost", token: h.staff)
            #expect(lost.json["status"]?.string == "lost")
            #expect(try await client.call("GET", "/v1/staff/cards/SEN-0000", token: h.staff).status == 404)
            let feed = try await client.call("GET", "/v1/registry/changes?after=0&limit=1", token: h.kioskA).json
            #expect(feed["has_more"]?.bool == true)
            #expect(feed["changes"]?.array.count == 1)
        }
    }

    @Test("garbage input gets 4xx, never 5xx", arguments: TestBackend.allCases)
    func garbage(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            let bodies = ["", "null", "[]", "{", "\"x\"", #"{"requests":{}}"#, String(repeating: "[", count: 5000),
                          #"{"status":"maybe"}"#, #"{"uid":"zz","technology":"ntag213","status":"active","person_id":"x"}"#]
            let routes: [(String, String, String)] = [
                ("POST", "/v1/requests", h.kioskA), ("POST", "/v1/staff/requests/1/status", h.staff),
                ("PUT", "/v1/staff/cards/SEN-0001", h.staff), ("POST", "/v1/staff/cards/SEN-0001/replace", h.staff),
                ("PUT", "/v1/staff/people/p1", h.staff), ("PUT", "/v1/staff/people/p1/entitlements", h.staff),
            ]
            for (method, uri, token) in routes {
                for body in bodies {
                    let reply = try await client.call(method, uri, token: token, body: body)
                    #expect((400..<500).contains(reply.status), "\(method) \(uri) with \(body.prefix(20)) gave \(reply.status)")
                    #expect(reply.json["error"]?["code"] != nil)
                }
            }
            // A malformed item is rejected on its own; the batch still answers 200.
            let nullItem = try await client.call("POST", "/v1/requests", token: h.kioskA, body: #"{"requests":[null]}"#)
            #expect(nullItem.status == 200)
            #expect(nullItem.json["results"]?[0]?["outcome"]?.string == "rejected")
            #expect(try await client.call("GET", "/v1/registry/changes?after=-1", token: h.kioskA).status == 400)
            #expect(try await client.call("GET", "/v1/registry/changes?limit=abc", token: h.kioskA).status == 400)
            #expect(try await client.call("GET", "/v1/staff/cards/%E2%82%AC", token: h.staff).status == 400)
            #expect(try await client.call("GET", "/v1/nothing-here").status == 404)
            let big = #"{"requests":["# + String(repeating: #""x","#, count: 100_000) + #""x"]}"#
            #expect(try await client.call("POST", "/v1/requests", token: h.kioskA, body: big).status == 413)
        }
    }
}
