import CardModel
import CentralWire
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KioskTestSupport
import PN532Emulator
import ServiceRules
import Testing

/// A resident's requests across kiosks and the central, over the real processes: what issue 10's "done
/// when" describes (the first test), and the declines, quotas, catalogue and call-backs around it.
@Suite("Requests across kiosks and the central", .serialized, .spawnsProcesses)
struct CentralRequestsFlowTests {
    static let halina = EmulatedCard(kind: .iso14443a, uid: "04:A1:10:22:33:44:80")  // SKS-0001 in registryCSV()

    /// A kiosk whose replica is seeded from the registry, so that it can check cards before it ever reaches the central.
    static func seededKiosk(_ dir: TempDir, _ name: String, central: String, token: String, environment: [String: String] = [:]) async throws -> Kiosk {
        let state = dir.file(name)
        let seeded = try await run(binary("kioskctl"), ["replica", "import", try dir.write("\(name).csv", registryCSV())],
                                   environment: ["KIOSK_STATE_DIR": state])
        guard seeded.status == 0 else { throw TestFailure("seeding \(name): \(seeded.stderr)") }
        let kiosk = try Kiosk(state: state, central: central, token: token, extraEnvironment: environment)
        try await kiosk.waitUntilListening()
        return kiosk
    }

    static func readerEnvironment(_ emulator: PN532Emulator) -> [String: String] {
        ["KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0"]
    }

    @Test("a bundle asked for on an offline kiosk with a phone reaches the central once; scheduled with the CLI; seen at the next tap on another kiosk",
          arguments: CentralStoreKind.allCases)
    func bundleOfflineScheduledSeenElsewhere(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir(prefix: "flow")
        let central = CentralProcess(dir: dir, store: store)
        try await central.importRegistry(registryCSV())
        let tokenA = try await central.enrolKiosk("outreach-a")
        let tokenB = try await central.enrolKiosk("skalka-b")
        let port = try freePort()
        let a = try await Self.seededKiosk(dir, "a", central: "http://127.0.0.1:\(port)", token: tokenA)
        defer { a.terminate() }
        let typed = try #require(try await a.check("SKS-0001")["session"] as? String)
        let (status, answer) = try await a.request(
            #"{"session":"\#(typed)","bundle":"home_support","phone":"512 345 678","details":\#(requestDetailsJSON(for: "home_support"))}"#
        )
        #expect(status == 201, "\(answer)")
        let ticket = try #require(answer["ticket"] as? String)
        let key = try #require((answer["request"] as? [String: Any])?["id"] as? String)
        // The kiosk's number from its enrolment token.
        if let number = Ticket.kioskNumber(inToken: tokenA) { #expect(ticket.hasPrefix(Ticket.kioskCode(number) + "-")) }

        // The network comes back.
        try await central.start(port: port)
        defer { central.stop() }
        _ = try await a.syncUntilOK()
        _ = try await a.syncUntilOK()
        let inbox = try await central.requests()
        #expect(inbox.compactMap { $0["idempotency_key"] as? String } == [key], "exactly once: \(inbox)")
        #expect(a.outboxFilesHold("512345678").isEmpty)

        // A coordinator schedules it by the ticket the resident quotes.
        let date = warsawDay(10)
        try await central.admin(["requests", "schedule", ticket, "--date", date])

        // The resident taps the card at another kiosk, online.
        let emulator = try PN532Emulator(linkPath: dir.file("pn532-b"))
        emulator.start()
        defer { emulator.stop() }
        let b = try await Self.seededKiosk(dir, "b", central: central.url, token: tokenB, environment: Self.readerEnvironment(emulator))
        defer { b.terminate() }
        _ = try await b.syncUntilOK()
        let session = try await b.tap(Self.halina, on: emulator)
        let (code, list) = try await b.requests(session: session)
        #expect(code == 200)
        let seen = try #require(list.first { $0["id"] as? String == key }, "\(list)")
        #expect(seen["status"] as? String == "scheduled")
        #expect(seen["scheduled_for"] as? String == date)
        #expect(seen["ticket"] as? String == ticket)

        // The kiosk that took it learns it from the feed too.
        _ = try await a.syncUntilOK()
        let one = try #require(try await http("GET", a.base + "/requests/\(key)").json?["request"] as? [String: Any])
        #expect(one["status"] as? String == "scheduled" && one["scheduled_for"] as? String == date)
    }

    @Test("declined by a coordinator: the reason reaches the resident at the next tap on another kiosk, and the kiosk that took it")
    func declinedShownAtTheNextTap() async throws {
        let dir = TempDir(prefix: "declined")
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let tokenA = try await central.enrolKiosk("skalka-a")
        let tokenB = try await central.enrolKiosk("skalka-b")
        try await central.start()
        defer { central.stop() }
        let a = try await Self.seededKiosk(dir, "a", central: central.url, token: tokenA)
        defer { a.terminate() }
        let typed = try #require(try await a.check("SKS-0001")["session"] as? String)
        let (_, answer) = try await a.request(#"{"session":"\#(typed)","service":"senior_taxi","details":\#(requestDetailsJSON(for: "senior_taxi"))}"#)
        let ticket = try #require(answer["ticket"] as? String)
        let key = try #require((answer["request"] as? [String: Any])?["id"] as? String)
        _ = try await a.syncUntilOK()
        try await central.admin(["requests", "decline", ticket, "--reason", "Brak wolnego kierowcy w tym dniu"])

        let emulator = try PN532Emulator(linkPath: dir.file("pn532-b"))
        emulator.start()
        defer { emulator.stop() }
        let b = try await Self.seededKiosk(dir, "b", central: central.url, token: tokenB, environment: Self.readerEnvironment(emulator))
        defer { b.terminate() }
        _ = try await b.syncUntilOK()
        let session = try await b.tap(Self.halina, on: emulator)
        let (_, list) = try await b.requests(session: session)
        let seen = try #require(list.first { $0["id"] as? String == key }, "\(list)")
        #expect(seen["status"] as? String == "declined")
        let reason = try #require(seen["reason"] as? [String: Any])
        let words = (reason["text"] as? [String: String])?["pl"] ?? ""
        #expect(words.contains("Brak wolnego kierowcy"))

        _ = try await a.syncUntilOK()
        let one = try #require(try await http("GET", a.base + "/requests/\(key)").json?["request"] as? [String: Any])
        #expect(one["status"] as? String == "declined")
        #expect(((one["reason"] as? [String: Any])?["text"] as? [String: String])?["pl"]?.contains("Brak wolnego kierowcy") == true)
    }

    @Test("offline quotas: two offline kiosks each accept the month's only vaccination; the central declines one, and the tap shows why")
    func offlineQuotasReconciled() async throws {
        let dir = TempDir(prefix: "quota")
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let tokenA = try await central.enrolKiosk("outreach-a")
        let tokenB = try await central.enrolKiosk("outreach-b")
        let port = try freePort()
        let emulator = try PN532Emulator(linkPath: dir.file("pn532-b"))
        emulator.start()
        defer { emulator.stop() }
        let a = try await Self.seededKiosk(dir, "a", central: "http://127.0.0.1:\(port)", token: tokenA)
        defer { a.terminate() }
        let b = try await Self.seededKiosk(dir, "b", central: "http://127.0.0.1:\(port)", token: tokenB, environment: Self.readerEnvironment(emulator))
        defer { b.terminate() }
        var keys: [String] = []
        for kiosk in [a, b] {
            let session = try #require(try await kiosk.check("SKS-0001")["session"] as? String)
            let (status, answer) = try await kiosk.request(#"{"session":"\#(session)","service":"vaccinations","details":\#(requestDetailsJSON(for: "vaccinations"))}"#)
            #expect(status == 201, "each kiosk knows only its own: \(answer)")
            keys.append(try #require((answer["request"] as? [String: Any])?["id"] as? String))
        }
        try await central.start(port: port)
        defer { central.stop() }
        _ = try await a.syncUntilOK()
        _ = try await b.syncUntilOK()
        #expect(try await central.requests().count == 2, "the central stores both, and declines what went over")
        var statuses: [String] = []
        for (kiosk, key) in zip([a, b], keys) {
            let one = try #require(try await http("GET", kiosk.base + "/requests/\(key)").json?["request"] as? [String: Any])
            statuses.append(one["status"] as? String ?? "?")
        }
        #expect(statuses.sorted() == ["declined", "received"], "\(statuses)")
        let session = try await b.tap(Self.halina, on: emulator)
        let (_, list) = try await b.requests(session: session)
        let declined = try #require(list.first { $0["status"] as? String == "declined" }, "\(list)")
        #expect((declined["reason"] as? [String: Any])?["code"] as? String == "quota_used")
        // And the month's vaccination is used: the central's list counts it.
        let listing = try await b.services(session: session)
        let vaccinations = (listing["services"] as? [[String: Any]])?.first { $0["id"] as? String == "vaccinations" }
        #expect((vaccinations?["reason"] as? [String: Any])?["code"] as? String == "quota_used")
    }

    @Test("a catalogue published at the central reaches the kiosk through the feed and is kept across an offline restart")
    func catalogueThroughTheFeed() async throws {
        let dir = TempDir(prefix: "catalogue")
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-c")
        let staff = try await central.admin(["staff", "add", "kipus-c"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await central.start()
        defer { central.stop() }
        let state = dir.file("kiosk")
        do {
            let kiosk = try Kiosk(state: state, central: central.url, token: token)
            defer { kiosk.terminate() }
            try await kiosk.waitUntilListening()
            _ = try await kiosk.syncUntilOK()
            var next = StandardCatalogue.catalogue
            next.version = 2
            next.services[0].name = LocalizedText(pl: "Opiekunka w domu", uk: "Доглядальниця вдома", en: "A carer at home")
            let body = String(decoding: try JSONEncoder().encode(next), as: UTF8.self)
            let put = try await httpPut(central.url + "/v1/staff/catalogue", body: body, bearer: staff)
            #expect((200...299).contains(put), "PUT /v1/staff/catalogue answered \(put)")
            let outcome = try await kiosk.syncUntilOK()
            #expect((outcome["catalogue_version"] as? Int ?? 0) >= 2)
            let first = (try await kiosk.services()["services"] as? [[String: Any]])?.first
            #expect((first?["name"] as? [String: String])?["uk"] == "Доглядальниця вдома")
        }
        let offline = try Kiosk(state: state, central: "http://127.0.0.1:\(try freePort())", token: token)
        defer { offline.terminate() }
        try await offline.waitUntilListening()
        #expect((try await offline.services()["catalogue_version"] as? Int ?? 0) >= 2)
    }

    @Test("a call-back without a card reaches the central; the phone is then erased at the kiosk")
    func callbackDelivered() async throws {
        let dir = TempDir(prefix: "callback")
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(registryCSV())
        let token = try await central.enrolKiosk("skalka-cb")
        try await central.start()
        defer { central.stop() }
        let kiosk = try Kiosk(state: dir.file("kiosk"), central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        let (status, answer) = try await kiosk.request(#"{"callback":{"phone":"512 345 678","service":"home_care","note":"mama potrzebuje opieki"}}"#)
        #expect(status == 201)
        let key = try #require((answer["request"] as? [String: Any])?["id"] as? String)
        let outcome = try await kiosk.syncUntilOK()
        #expect(outcome["requests_delivered"] as? Int == 1 && outcome["requests_quarantined"] as? Int == 0, "\(outcome)")
        let inbox = try await central.requests()
        #expect(inbox.compactMap { $0["idempotency_key"] as? String } == [key])
        #expect(kiosk.outboxFilesHold("512345678").isEmpty)
    }
}

/// `PUT` with a JSON body and a bearer token; the HTTP status.
func httpPut(_ url: String, body: String, bearer: String) async throws -> Int {
    guard let u = URL(string: url) else { throw TestFailure("bad url \(url)") }
    var request = URLRequest(url: u)
    request.httpMethod = "PUT"
    request.httpBody = Data(body.utf8)
    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
    request.timeoutInterval = 30
    let (_, response) = try await URLSession.shared.data(for: request)
    return (response as? HTTPURLResponse)?.statusCode ?? 0
}
