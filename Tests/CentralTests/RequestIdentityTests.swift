import CardModel
@testable import CentralStore
import CentralWire
import Foundation
import HummingbirdTesting
import Testing

/// Requests whose card number was typed rather than tapped are stored and shown as `unverified`.
@Suite("cus-central request identity")
struct RequestIdentityTests {
    static func item(_ key: String, seq: Int, identity: String?) -> String {
        let field = identity.map { #","identity":\#($0)"# } ?? ""
        return #"{"idempotency_key":"\#(key)","kiosk_seq":\#(seq),"created_at":"2025-03-01T10:15:00Z","service":"senior_taxi","card_number":"SEN-0001"\#(field)}"#
    }

    @Test("identity verified/unverified is stored and shown to staff; absent means verified; anything else is rejected per item", arguments: TestBackend.allCases)
    func identityIsStoredAndShown(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let keys = (0..<6).map { _ in uuid7() }
            let items = [
                Self.item(keys[0], seq: 1, identity: nil),
                Self.item(keys[1], seq: 2, identity: #""verified""#),
                Self.item(keys[2], seq: 3, identity: #""unverified""#),
                Self.item(keys[3], seq: 4, identity: #""maybe""#),
                Self.item(keys[4], seq: 5, identity: "null"),
                Self.item(keys[5], seq: 6, identity: #""UNVERIFIED""#),
            ].joined(separator: ",")
            let body = #"{"requests":[\#(items)]}"#
            let reply = try await client.call("POST", "/v1/requests", token: h.kioskA, body: body)
            #expect(reply.status == 200)
            let outcomes = reply.json["results"]?.array.map { $0["outcome"]?.string ?? "" }
            #expect(outcomes == ["accepted", "accepted", "accepted", "rejected", "rejected", "rejected"])
            #expect(reply.json["results"]?[3]?["reason"]?.string?.contains("identity") == true, "\(reply.json)")

            let list = try await client.call("GET", "/v1/staff/requests", token: h.staff)
            #expect(list.status == 200)
            let identities = list.json["requests"]?.array.map { $0["identity"]?.string ?? "-" }
            #expect(identities == ["verified", "verified", "unverified"])
            let unverified = try #require(list.json["requests"]?[2]?["id"]?.int)
            let scheduled = try await client.call("POST", "/v1/staff/requests/\(unverified)/status", token: h.staff, body: #"{"status":"done"}"#)
            #expect(scheduled.json["identity"]?.string == "unverified")

            // A retry of the rejected item gets the same answer, not a second chance with another meaning.
            let retry = try await client.call("POST", "/v1/requests", token: h.kioskA, body: #"{"requests":[\#(Self.item(keys[3], seq: 4, identity: #""verified""#))]}"#)
            #expect(retry.json["results"]?[0]?["first_outcome"]?.string == "rejected")
        }
    }

    @Test("requests list shows the identity column and JSON field", arguments: TestBackend.allCases)
    func cliShowsIdentity(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, _ in
            let store = try await openCentralStore(db, logger: testLogger)
            let token = try await store.enrol(.kiosk, name: "skalka-1")
            let kiosk = try #require(try await store.authenticate(token: token))
            for (seq, identity) in [(1, nil), (2, "unverified")] as [(Int, String?)] {
                var object: [String: JSONValue] = [
                    "idempotency_key": .string(uuid7()), "kiosk_seq": .number(Double(seq)), "created_at": .string("2025-03-01T10:15:00Z"),
                    "service": .string("senior_taxi"), "card_number": .string("SEN-0001"),
                ]
                if let identity { object["identity"] = .string(identity) }
                let results = try await store.submitRequests([RequestItem.validate(.object(object))], from: kiosk)
                #expect(results.first?.outcome == .accepted)
            }
            await store.close()
            let text = try await cusCentral(["requests", "list", "--database", db])
            #expect(text.status == 0, "\(text.stderr)")
            let rows = text.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
            #expect(rows.first == ["id", "status", "identity", "service", "kiosk", "received_at"])
            #expect(rows.dropFirst().map { $0.count > 2 ? $0[2] : "" } == ["verified", "unverified"])
            let json = try await cusCentral(["requests", "list", "--json", "--database", db])
            let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
            #expect(decoded["requests"]?.array.map { $0["identity"]?.string ?? "-" } == ["verified", "unverified"])
        }
    }

    @Test("requests stored before the identity migration read as verified", arguments: TestBackend.allCases)
    func migrationKeepsOldRequestsVerified(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, _ in
            // Wind the database back to v1: no identity column, one request stored then.
            var store = try await openCentralStore(db, logger: testLogger)
            let token = try await store.enrol(.kiosk, name: "skalka-1")
            let kiosk = try #require(try await store.authenticate(token: token))
            let backend = try #require((store as? RelationalCentralStore)?.backend)
            try await backend.transaction(.write) { db in
                try await db.execute("ALTER TABLE service_request DROP COLUMN identity")
                try await db.execute("DELETE FROM schema_migration WHERE id = 'v2 request identity'")
                try await db.execute("""
                    INSERT INTO service_request (idempotency_key, kiosk_id, kiosk_seq, created_at, received_at_ms, service, card_number, details, status)
                    VALUES ('0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d', ?, 1, '2025-03-01T10:15:00Z', 0, 'senior_taxi', 'SEN0001', '{}', 'received')
                    """, [.int(kiosk.id)])
            }
            await store.close()
            store = try await openCentralStore(db, logger: testLogger)
            let requests = try await store.requests(status: nil, afterID: 0, limit: 10)
            await store.close()
            #expect(requests.map(\.identity) == [.verified])
        }
    }
}
