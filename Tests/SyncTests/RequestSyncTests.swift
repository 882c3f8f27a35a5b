import CardModel
import CentralWire
import Foundation
import KioskTestSupport
import ServiceRules
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Requests between a real `kioskd` and a real `cus-central` (or a scripted one): durability, erasure,
/// and the catalogue a kiosk keeps.
@Suite("Requests between kioskd and the central", .serialized, .spawnsProcesses)
struct RequestSyncTests {
    @Test("kill -9 right after the 201, then a restart: the request reaches the central exactly once")
    func killedRightAfterTheAnswer() async throws {
        let dir = TempDir()
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-kill")
        try await central.start()
        defer { central.stop() }
        let state = dir.file("kiosk")
        var keys: [String] = []
        for round in 0..<5 {
            let kiosk = try Kiosk(state: state, central: central.url, token: token)
            try await kiosk.waitUntilListening()
            // The first kioskd bootstraps its replica after it starts listening: the card is known once that is done.
            try await eventually("the replica bootstrapped", timeout: .seconds(60)) { try await kiosk.cardCount() > 0 }
            let session = try #require(try await kiosk.check("SKS-0001")["session"] as? String)
            let (status, answer) = try await kiosk.request(
                #"{"session":"\#(session)","service":"psychologist","phone":"512 345 678","details":{"note":"runda \#(round)"}}"#
            )
            // The answer is in; the power goes at once (an upload may be under way, or not yet started).
            kiosk.sigkill()
            #expect(status == 201)
            keys.append(try #require((answer["request"] as? [String: Any])?["id"] as? String))
        }
        let kiosk = try Kiosk(state: state, central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        try await eventually("every request delivered", timeout: .seconds(120)) {
            _ = try? await kiosk.sync()
            return ((try await kiosk.status())["outbox"] as? [String: Any])?["pending"] as? Int == 0
        }
        let inbox = try await central.requests()
        let delivered = inbox.compactMap { $0["idempotency_key"] as? String }
        #expect(delivered.sorted() == keys.sorted(), "each acknowledged request exactly once")
    }

    @Test("after delivery the phone and the card number are gone from outbox.sqlite, its WAL and its shm")
    func phoneAndNumberErasedAfterDelivery() async throws {
        let dir = TempDir()
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-erase")
        let port = try freePort()
        // Offline first, so the digits are certainly in the files before the delivery.
        let state = dir.file("kiosk")
        let seeded = try await run(binary("kioskctl"), ["replica", "import", try dir.write("seed.csv", registryCSV())],
                                   environment: ["KIOSK_STATE_DIR": state])
        #expect(seeded.status == 0, "\(seeded.stderr)")
        let kiosk = try Kiosk(state: state, central: "http://127.0.0.1:\(port)", token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        let session = try #require(try await kiosk.check("USM-3001")["session"] as? String)
        let (status, _) = try await kiosk.request(#"{"session":"\#(session)","service":"psychologist","phone":"+48 512 345 678"}"#)
        #expect(status == 201)
        #expect(!kiosk.outboxFilesHold("512345678").isEmpty, "the digits must be on disk before the delivery")
        #expect(!kiosk.outboxFilesHold("USM3001").isEmpty)

        try await central.start(port: port)
        defer { central.stop() }
        _ = try await kiosk.syncUntilOK()
        #expect(((try await kiosk.status())["outbox"] as? [String: Any])?["pending"] as? Int == 0)
        // Read while kioskd runs (closing the database would checkpoint by itself and prove nothing).
        #expect(kiosk.outboxFilesHold("512345678").isEmpty, "phone still in \(kiosk.outboxFilesHold("512345678"))")
        #expect(kiosk.outboxFilesHold("USM3001").isEmpty, "card number still in \(kiosk.outboxFilesHold("USM3001"))")
        #expect(try await central.requests().count == 1)
    }

    @Test("the central's catalogue is kept in the state directory: a kiosk restarted offline still offers it")
    func catalogueSurvivesAnOfflineRestart() async throws {
        let dir = TempDir()
        var published = StandardCatalogue.catalogue
        published.version = 7
        published.services[0].name = LocalizedText(pl: "Opiekunka w domu", uk: "Доглядальниця вдома", en: "A carer at home")
        published.services.removeAll { $0.id == "training_flats" }
        let encoded = String(decoding: try JSONEncoder().encode(published), as: UTF8.self)
        let central = try ScriptedCentral(catalogue: encoded)
        let state = dir.file("kiosk")
        do {
            let kiosk = try Kiosk(state: state, central: central.url, token: "cusk_2B_not-a-real-secret-but-long")
            defer { kiosk.terminate() }
            try await kiosk.waitUntilListening()
            let outcome = try await kiosk.syncUntilOK()
            #expect(outcome["catalogue_version"] as? Int == 7)
            let listing = try await kiosk.services()
            #expect(listing["catalogue_version"] as? Int == 7)
            #expect((listing["services"] as? [Any])?.count == 12)
        }
        #expect(StateFilesModeCheck.of(state + "/catalogue.json") == 0o600)
        // Restarted with the central out of reach.
        let kiosk = try Kiosk(state: state, central: "http://127.0.0.1:\(try freePort())", token: "cusk_2B_not-a-real-secret-but-long")
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        let (code, _) = try await kiosk.sync()
        #expect(code == 502)
        let listing = try await kiosk.services()
        #expect(listing["catalogue_version"] as? Int == 7)
        let first = try #require((listing["services"] as? [[String: Any]])?.first)
        #expect((first["name"] as? [String: String])?["uk"] == "Доглядальниця вдома")
        #expect(!((listing["services"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == "training_flats" })
    }
}

/// File modes, read with stat(2).
enum StateFilesModeCheck {
    static func of(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }
}
