import CentralWire
import Foundation
import ServiceRules
import KioskTestSupport
import KioskCore
import Outbox
import Replica
import Testing

/// `kioskd` and `cus-central` as real processes over real HTTP.
@Suite("Sync between kioskd and cus-central", .serialized, .spawnsProcesses)
struct SyncTests {
    @Test(arguments: CentralStoreKind.allCases) func bootstrapDeltasRevocationAndRequestStatus(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-1")
        let staff = try await central.admin(["staff", "add", "kipus-anna"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await central.start()
        defer { central.stop() }

        let kiosk = try Kiosk(state: dir.file("kiosk"), central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK()
        #expect(try await kiosk.cardCount() == 5)
        #expect(try await kiosk.check("SKS-0001")["verdict"] as? String == "valid")
        #expect(try await kiosk.check("USM-3001")["verdict"] as? String == "valid")
        let status = try await kiosk.status()
        let centralInfo = try #require(status["central"] as? [String: Any])
        #expect(centralInfo["state"] as? String == "online")
        #expect(centralInfo["last_successful_sync"] is String)
        #expect(centralInfo["last_contact"] is String)

        // Deltas: a new card and a revocation.
        try await central.importRegistry(registryCSV() + "\nNEW-0042;;disability;;Ewa;Kowalska;\(warsawDay(-3));;active\n")
        try await central.admin(["card", "revoke", "SKS-0001"])
        let outcome = try await kiosk.syncUntilOK()
        #expect(outcome["bootstrapped"] as? Bool == false)
        #expect((outcome["changes_applied"] as? Int ?? 0) >= 2)
        #expect(try await kiosk.check("SKS-0001")["verdict"] as? String == "revoked")
        #expect(try await kiosk.check("NEW-0042")["verdict"] as? String == "valid")

        // A request made at the kiosk reaches the central; staff schedule it; the kiosk sees it.
        let session = try #require(try await kiosk.check("USM-3001")["session"] as? String)
        let created = try await http(
            "POST", kiosk.base + "/requests",
            body: #"{"session":"\#(session)","service":"senior_taxi","details":\#(requestDetailsJSON(for: "senior_taxi"))}"#
        )
        #expect(created.status == 201)
        let key = try #require((created.json?["request"] as? [String: Any])?["id"] as? String)
        _ = try await kiosk.syncUntilOK()
        let inbox = try await central.requests()
        #expect(inbox.count == 1)
        #expect(inbox.first?["idempotency_key"] as? String == key)
        #expect(inbox.first?["card_number"] as? String == "USM3001")
        let id = try #require(inbox.first?["id"] as? Int)
        let scheduled = try await http("POST", central.url + "/v1/staff/requests/\(id)/status",
                                       body: #"{"status":"scheduled","scheduled_at":"2030-03-04T09:30:00+01:00"}"#, bearer: staff)
        #expect(scheduled.status == 200)
        _ = try await kiosk.syncUntilOK()
        let seen = try await http("GET", kiosk.base + "/requests/\(key)")
        let info = try #require(seen.json?["request"] as? [String: Any])
        #expect(info["status"] as? String == "scheduled")
        #expect(info["scheduled_at"] as? String == "2030-03-04T09:30:00+01:00")
        // The card number is never in the kiosk's log.
        #expect(!kiosk.log.contains("USM3001") && !kiosk.log.contains("USM-3001"))
        #expect(!kiosk.log.contains(token))
    }

    @Test(arguments: CentralStoreKind.allCases) func localRequestRoutesAndCatalogue(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-2")
        try await central.start()
        defer { central.stop() }
        let kiosk = try Kiosk(state: dir.file("kiosk"), central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK()

        // The kiosk lists the central's catalogue (GET /v1/catalogue) and keeps it in its state directory.
        let theirs = try #require(try await http("GET", central.url + "/v1/catalogue").json)
        let ours = try #require(try await http("GET", kiosk.base + "/services").json)
        #expect(ours["catalogue_version"] as? Int == theirs["version"] as? Int)
        let ourIDs = (ours["services"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ourIDs.count == 13)
        #expect(ourIDs == (theirs["services"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        #expect(ourIDs == StandardCatalogue.catalogue.services.map(\.id))
        #expect(FileManager.default.fileExists(atPath: kiosk.state + "/catalogue.json"))

        let session = try #require(try await kiosk.check("SKS-0001")["session"] as? String)
        func post(_ body: String) async throws -> (Int, String?) {
            let r = try await http("POST", kiosk.base + "/requests", body: body)
            return (r.status, (r.json?["error"] as? [String: Any])?["code"] as? String)
        }
        #expect(try await post("not json") == (400, "malformed_json"))
        #expect(try await post(#"{"session":"\#(session)"}"#) == (400, "malformed_json"))
        #expect(try await post(#"{"session":"\#(session)","service":"senior_taxi","details":[1]}"#) == (400, "malformed_json"))
        #expect(try await post(#"{"session":"nope","service":"senior_taxi"}"#) == (410, "session_expired"))
        #expect(try await post(#"{"session":"\#(session)","service":"space_travel"}"#) == (404, "unknown_service"))
        // A senior card does not open the support package for large families.
        #expect(try await post(#"{"session":"\#(session)","service":"family_crisis_support"}"#) == (409, "not_available"))
        #expect(try await post(#"{"session":"\#(session)","service":"senior_taxi"}"#) == (422, "invalid_details"))
        let ok = try await http(
            "POST", kiosk.base + "/requests",
            body: #"{"session":"\#(session)","service":"senior_taxi","details":\#(requestDetailsJSON(for: "senior_taxi"))}"#
        )
        #expect(ok.status == 201)
        let request = try #require(ok.json?["request"] as? [String: Any])
        #expect(request["status"] as? String == "queued")
        #expect(request["service"] as? String == "senior_taxi")
        #expect(UUIDv7.isValid(request["id"] as? String ?? ""))
        #expect(request["created_at"] is String)
        // The ticket carries the kiosk number the central gave at enrolment (in its token), or for an older
        // token one derived from the kiosk's name ("kiosk" by default).
        let ticket = try #require(ok.json?["ticket"] as? String)
        let number = KioskTicketNumber.number(centralToken: token, kioskName: "kiosk")
        #expect(ticket.hasPrefix(Ticket.kioskCode(number) + "-"))
        // Errors carry Polish and Ukrainian too.
        let expired = try await http("POST", kiosk.base + "/requests", body: #"{"session":"nope","service":"senior_taxi"}"#)
        #expect((expired.json?["error"] as? [String: Any])?["message_pl"] is String)
        #expect((expired.json?["error"] as? [String: Any])?["message_uk"] is String)
        // A new tap ends the session.
        _ = try await kiosk.check("KDR-1001")
        #expect(try await post(#"{"session":"\#(session)","service":"senior_taxi"}"#) == (410, "session_expired"))
        let outbox = try #require(try await kiosk.status()["outbox"] as? [String: Any])
        #expect(outbox["pending"] as? Int == 1)
    }

    @Test(arguments: CentralStoreKind.allCases) func offlineKioskQueuesAndRequestsArriveExactlyOnce(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("outreach-1")
        let port = try freePort()
        let state = dir.file("kiosk")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let csv = try dir.write("seed.csv", registryCSV())
        let seeded = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(seeded.status == 0, "\(seeded.stderr)")

        let kiosk = try Kiosk(state: state, central: "http://127.0.0.1:\(port)", token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        var keys: Set<String> = []
        for service in ["senior_taxi", "home_care", "handyman", "vaccinations"] {
            let session = try #require(try await kiosk.check("SKS-0001")["session"] as? String)
            let r = try await http(
                "POST", kiosk.base + "/requests",
                body: #"{"session":"\#(session)","service":"\#(service)","details":\#(requestDetailsJSON(for: service))}"#
            )
            #expect(r.status == 201, "\(service): \(String(decoding: r.body, as: UTF8.self))")
            keys.insert(try #require((r.json?["request"] as? [String: Any])?["id"] as? String))
        }
        let (code, outcome) = try await kiosk.sync()
        #expect(code == 502)
        #expect(outcome["ok"] as? Bool == false)
        let status = try await kiosk.status()
        #expect((status["central"] as? [String: Any])?["state"] as? String == "offline")
        #expect((status["outbox"] as? [String: Any])?["pending"] as? Int == 4)
        #expect(try await kiosk.check("SKS-0001")["verdict"] as? String == "valid")

        try await central.start(port: port)
        defer { central.stop() }
        _ = try await kiosk.syncUntilOK()
        _ = try await kiosk.syncUntilOK()  // a second sync sends nothing again
        let inbox = try await central.requests()
        #expect(inbox.count == 4)
        #expect(Set(inbox.compactMap { $0["idempotency_key"] as? String }) == keys)
        #expect(Set(inbox.compactMap { $0["kiosk_seq"] as? Int }).count == 4)
        let after = try await kiosk.status()
        #expect((after["outbox"] as? [String: Any])?["pending"] as? Int == 0)
        #expect((after["central"] as? [String: Any])?["state"] as? String == "online")
    }

    @Test(arguments: [FakeCentral.Mode.serverError, .garbage, .hangUp])
    func misbehavingCentralNeverStopsChecksOrChangesState(mode: FakeCentral.Mode) async throws {
        let dir = TempDir()
        let fake = try FakeCentral(mode: mode)
        let state = dir.file("kiosk")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let csv = try dir.write("seed.csv", registryCSV())
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0)
        let kiosk = try Kiosk(state: state, central: fake.url, token: "cusk_not-a-real-token-but-long-enough")
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        let session = try #require(try await kiosk.check("SKS-0001")["session"] as? String)
        #expect(try await http("POST", kiosk.base + "/requests", body: #"{"session":"\#(session)","service":"psychologist"}"#).status == 201)
        for _ in 0..<3 {
            let (code, outcome) = try await kiosk.sync()
            #expect(code == 502)
            #expect(outcome["error"] is String)
            #expect(try await kiosk.check("SKS-0001")["verdict"] as? String == "valid")
            #expect(try await kiosk.check("SKS-0008")["verdict"] as? String == "valid")
        }
        let status = try await kiosk.status()
        #expect(try await kiosk.cardCount() == 5)
        #expect((status["outbox"] as? [String: Any])?["pending"] as? Int == 1)
        let centralInfo = try #require(status["central"] as? [String: Any])
        #expect(centralInfo["state"] as? String == "offline")
        #expect(centralInfo["last_error"] is String)
        #expect(centralInfo["last_successful_sync"] == nil)
    }

    @Test(arguments: CentralStoreKind.allCases) func revokedKioskTokenIsRefusedAndShownInStatus(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-9")
        try await central.start()
        defer { central.stop() }
        let kiosk = try Kiosk(state: dir.file("kiosk"), central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK()
        try await central.admin(["kiosk", "revoke", "skalka-9"])
        let (code, outcome) = try await kiosk.sync()
        #expect(code == 502)
        #expect((outcome["error"] as? String ?? "").contains("token"))
        let info = try #require(try await kiosk.status()["central"] as? [String: Any])
        #expect(info["state"] as? String == "offline")
        #expect((info["last_error"] as? String ?? "").contains("401"))
        #expect(try await kiosk.check("SKS-0001")["verdict"] as? String == "valid")
        #expect(!kiosk.log.contains(token))
        // kioskctl sync says so too, with exit status 1.
        let ctl = try await run(binary("kioskctl"), ["sync"], environment: ["KIOSK_STATE_DIR": kiosk.state])
        #expect(ctl.status == 1)
        #expect(ctl.stdout.contains("token"))
    }

    @Test(arguments: CentralStoreKind.allCases) func sigkillDuringUploadLosesNothingAndDuplicatesNothing(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-k")
        let staff = try await central.admin(["staff", "add", "kipus-k"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await central.start()
        defer { central.stop() }
        let state = dir.file("kiosk")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var keys: Set<String> = []
        do {
            let outbox = try Outbox(path: state + "/outbox.sqlite")
            for i in 0..<1200 {
                keys.insert(try await outbox.enqueue(service: i % 2 == 0 ? "senior_taxi" : "home_care", cardNumber: "SKS0001", detailsJSON: #"{"i":\#(i)}"#).idempotencyKey)
            }
        }
        // Each start syncs at once; kill it part-way, several times, at random moments.
        for _ in 0..<4 {
            let kiosk = try Kiosk(state: state, central: central.url, token: token)
            try await kiosk.waitUntilListening()
            try await Task.sleep(for: .milliseconds(Int.random(in: 30...1500)))
            kiosk.sigkill()
        }
        let kiosk = try Kiosk(state: state, central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        try await eventually("every request delivered", timeout: .seconds(180)) {
            _ = try? await kiosk.sync()
            return ((try await kiosk.status())["outbox"] as? [String: Any])?["pending"] as? Int == 0
        }
        let inbox = try await central.allRequests(staffToken: staff)
        #expect(inbox.count == 1200)
        #expect(Set(inbox.compactMap { $0["idempotency_key"] as? String }).symmetricDifference(keys).isEmpty)
        #expect(Set(inbox.compactMap { $0["kiosk_seq"] as? Int }).count == 1200)
        kiosk.terminate()
        let outbox = try Outbox(path: state + "/outbox.sqlite")
        #expect(try await outbox.counts() == OutboxCounts(pending: 0, quarantined: 0, delivered: 1200))
    }

    @Test(arguments: CentralStoreKind.allCases) func sigkillDuringDeltaApplyLeavesAConsistentReplica(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-d")
        try await central.start()
        defer { central.stop() }
        let state = dir.file("kiosk")
        do {
            let kiosk = try Kiosk(state: state, central: central.url, token: token)
            try await kiosk.waitUntilListening()
            _ = try await kiosk.syncUntilOK()
            kiosk.terminate()
        }
        let base = try Replica(path: state + "/replica.sqlite").stats(detailed: false)
        let baseCursor = try #require(base.cursor)
        var added = 0
        for round in 0..<3 {
            try await central.importRegistry(bigRegistryCSV(count: 2500, prefix: "R\(round)"))
            added += 2500
            let kiosk = try Kiosk(state: state, central: central.url, token: token)
            try await kiosk.waitUntilListening()
            try await Task.sleep(for: .milliseconds(Int.random(in: 10...1200)))
            kiosk.sigkill()
            // Whatever moment it died at, the replica holds whole pages and the cursor that goes with them.
            let replica = try Replica(path: state + "/replica.sqlite")
            #expect(try replica.consistencyProblems() == [])
            let stats = try replica.stats(detailed: false)
            let cursor = try #require(stats.cursor)
            #expect(stats.cards == base.cards + Int(cursor - baseCursor))
        }
        let kiosk = try Kiosk(state: state, central: central.url, token: token)
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK()
        #expect(try await kiosk.cardCount() == base.cards + added)
        #expect(try await kiosk.check("R2-02499")["verdict"] as? String == "valid")
        kiosk.terminate()
        #expect(try Replica(path: state + "/replica.sqlite").consistencyProblems() == [])
    }
}
