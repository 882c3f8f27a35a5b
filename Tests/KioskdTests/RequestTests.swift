import CardModel
import CentralWire
import Foundation
import KioskCore
import KioskTestSupport
import Outbox
import ServiceRules
import Synchronization
import Testing

/// A central's answer for one holder, as a test sets it (`nil`: the central cannot be reached).
final class FakeHolders: HolderRequestsSource {
    private let state = Mutex<(list: [HolderRequest]?, calls: Int, asked: [String])>((nil, 0, []))
    init(_ list: [HolderRequest]?) { state.withLock { $0.list = list } }
    var calls: Int { state.withLock { $0.calls } }
    var asked: [String] { state.withLock { $0.asked } }
    func holderRequests(cardNumber: CardNumber, chip: ChipUID) async throws(HolderLookupError) -> [HolderRequest] {
        let list = state.withLock { s in
            s.calls += 1
            s.asked.append("\(cardNumber.value)/\(chip.hex)")
            return s.list
        }
        guard let list else { throw HolderLookupError("unreachable") }
        return list
    }
}

/// Requests at the kiosk through the local API, served in-process on a real socket with a real outbox file.
@Suite("Service requests at the kiosk")
struct RequestTests {
    static let halinaChip = "04A11022334480"  // SKS-0001, senior60, in registryCSV()
    static let agnieszkaChip = "04B22011223390"  // KDR-1001, large-family parent

    static func tap(_ server: APIServer, _ uid: String) async throws -> String {
        let event = await server.checkpoint.check(.chip(uid: try ChipUID(hex: uid), technology: .iso14443a, record: nil), source: .tap)
        return try #require(event.session)
    }

    static func typed(_ server: APIServer, _ number: String) async throws -> String {
        let event = try #require(try await http("POST", server.base + "/api/v1/check", body: #"{"number":"\#(number)"}"#).json)
        return try #require(event["session"] as? String)
    }

    static func request(_ server: APIServer, _ body: String) async throws -> HTTPResult {
        try await http("POST", server.base + "/api/v1/requests", body: body)
    }

    static func service(_ listing: [String: Any], _ id: String) -> [String: Any]? {
        (listing["services"] as? [[String: Any]])?.first { $0["id"] as? String == id }
    }

    static func error(_ r: HTTPResult) -> [String: Any] { r.json?["error"] as? [String: Any] ?? [:] }

    @Test("GET /api/v1/services: the public catalogue without a session; availability, reasons and fees for a tapped or typed card")
    func listing() async throws {
        try await APIServer.with { server in
            let anyone = try #require(try await http("GET", server.base + "/api/v1/services").json)
            #expect(anyone["catalogue_version"] as? Int == 1)
            #expect((anyone["services"] as? [Any])?.count == 13)
            #expect((anyone["bundles"] as? [Any])?.count == 3)
            // Only for card holders: not available, with the reason in three languages, and no fee.
            let taxi = try #require(Self.service(anyone, "senior_taxi"))
            #expect(taxi["available"] as? Bool == false)
            #expect(taxi["fee"] is NSNull)
            let reason = try #require(taxi["reason"] as? [String: Any])
            #expect(reason["code"] as? String == "card_required")
            let words = try #require(reason["text"] as? [String: String])
            #expect(words["pl"]?.isEmpty == false && words["uk"]?.isEmpty == false && words["en"]?.isEmpty == false)
            // Open to everyone at the public fee.
            let care = try #require(Self.service(anyone, "home_care"))
            #expect(care["available"] as? Bool == true && care["reason"] == nil)
            #expect((care["fee"] as? [String: Any])?["kind"] as? String == "full")
            #expect((care["fee"] as? [String: Any])?["amount_grosze"] as? Int == 3200)
            #expect((care["name"] as? [String: String])?["uk"] == "Послуги догляду вдома")
            for key in ["description", "provider", "hours", "fields", "next_step"] { #expect(care[key] != nil, "\(key)") }

            // A tapped senior card: the taxi at the senior fee; the large-family package not for her.
            let halina = try await Self.tap(server, Self.halinaChip)
            let hers = try #require(try await http("GET", server.base + "/api/v1/services?session=\(halina)").json)
            let herTaxi = try #require(Self.service(hers, "senior_taxi"))
            #expect(herTaxi["available"] as? Bool == true)
            #expect((herTaxi["fee"] as? [String: Any])?["amount_grosze"] as? Int == 500)
            let crisis = try #require(Self.service(hers, "family_crisis_support"))
            #expect(crisis["available"] as? Bool == false)
            #expect((crisis["reason"] as? [String: Any])?["code"] as? String == "no_entitlement")
            let bundle = try #require((hers["bundles"] as? [[String: Any]])?.first { $0["id"] as? String == "home_support" })
            #expect(bundle["available"] as? Bool == true)
            #expect(bundle["services"] as? [String] == ["home_care", "mobile_physiotherapist", "handyman"])
            #expect(((bundle["fees"] as? [String: Any])?["handyman"] as? [String: Any])?["amount_grosze"] as? Int == 1000)

            // A typed large-family parent: the family package is hers, the taxi is not.
            let agnieszka = try await Self.typed(server, "KDR-1001")
            let typedList = try #require(try await http("GET", server.base + "/api/v1/services?session=\(agnieszka)").json)
            #expect(Self.service(typedList, "family_crisis_support")?["available"] as? Bool == true)
            #expect(Self.service(typedList, "senior_taxi")?["available"] as? Bool == false)

            let gone = try await http("GET", server.base + "/api/v1/services?session=nope")
            #expect(gone.status == 410)
            #expect(Self.error(gone)["code"] as? String == "session_expired")
            #expect(Self.error(gone)["message_uk"] as? String != nil)
        }
    }

    @Test("intake: every bad field gets its own message, in the language the screen asked for", arguments: ["pl", "uk", "en"])
    func oneMessagePerBadField(lang: String) async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        try await APIServer.with(outbox: outbox) { server in
            let session = try await Self.tap(server, Self.halinaChip)
            let body = #"""
                {"session":"\#(session)","service":"senior_taxi","lang":"\#(lang)","phone":"123",
                 "details":{"pickup":"  ","destination":"x","date":"2000-01-01","time":"25:00","bogus":1}}
                """#
            let r = try await Self.request(server, body)
            #expect(r.status == 422)
            let error = Self.error(r)
            #expect(error["code"] as? String == "invalid_details")
            #expect(error["message"] is String && error["message_pl"] is String && error["message_uk"] is String)
            let fields = try #require(error["fields"] as? [[String: Any]])
            let codes = Dictionary(uniqueKeysWithValues: fields.map { ($0["field"] as? String ?? "?", $0["code"] as? String ?? "?") })
            #expect(codes == ["pickup": "required", "destination": "too_short", "date": "too_early", "time": "not_a_time",
                              "bogus": "unknown_field", "phone": "not_a_phone"])
            for field in fields {
                let text = try #require(field["text"] as? [String: String])
                #expect(field["message"] as? String == text[lang], "\(field)")
                #expect(text["pl"] != text["uk"] && text["uk"] != text["en"])
            }
            #expect(try await outbox.counts().pending == 0)
        }
    }

    @Test("intake: 201 with the ticket and the next step, stored with the phone; a bundle too; refusals say why")
    func accepted() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        try await APIServer.with(outbox: outbox) { server in
            let session = try await Self.tap(server, Self.halinaChip)
            let r = try await Self.request(server, #"""
                {"session":"\#(session)","service":"senior_taxi","phone":"512 345 678","details":\#(requestDetailsJSON(for: "senior_taxi"))}
                """#)
            #expect(r.status == 201, "\(String(decoding: r.body, as: UTF8.self))")
            let json = try #require(r.json)
            let request = try #require(json["request"] as? [String: Any])
            let ticket = try #require(json["ticket"] as? String)
            // The kiosk without a central: its number is derived from its name, and the ticket from its sequence.
            let kiosk = KioskTicketNumber.number(centralToken: nil, kioskName: "test")
            #expect((27_000..<810_000).contains(kiosk))
            #expect(ticket == Ticket(kiosk: kiosk, sequence: 1).code)
            #expect(Ticket(parsing: ticket) != nil)
            #expect(request["ticket"] as? String == ticket)
            #expect(request["status"] as? String == "queued" && request["kind"] as? String == "service")
            let taxi = try #require(StandardCatalogue.catalogue.service(id: "senior_taxi"))
            #expect(json["next_step"] as? [String: String] == ["pl": taxi.nextStep.pl, "uk": taxi.nextStep.uk, "en": taxi.nextStep.en])
            #expect(request["next_step"] as? [String: String] == json["next_step"] as? [String: String])
            #expect((request["fee"] as? [String: Any])?["amount_grosze"] as? Int == 500)
            let stored = try #require(try outbox.item(key: request["id"] as? String ?? ""))
            #expect(stored.phone == "+48512345678" && stored.cardNumber == "SKS0001" && stored.identity == .verified)
            #expect(stored.ticket == ticket && stored.catalogueVersion == 1)
            // The details as checked: trimmed and in their normal form.
            #expect(stored.detailsJSON.contains(#""time":"10:30""#))

            let bundle = try await Self.request(server, #"""
                {"session":"\#(session)","bundle":"home_support","details":\#(requestDetailsJSON(for: "home_support"))}
                """#)
            #expect(bundle.status == 201, "\(String(decoding: bundle.body, as: UTF8.self))")
            let b = try #require(bundle.json?["request"] as? [String: Any])
            #expect(b["kind"] as? String == "bundle" && b["service"] as? String == "home_support")
            #expect((b["fees"] as? [String: Any])?.keys.sorted() == ["handyman", "home_care", "mobile_physiotherapist"])
            #expect(bundle.json?["ticket"] as? String == Ticket(kiosk: kiosk, sequence: 2).code)

            let refused = try await Self.request(server, #"{"session":"\#(session)","service":"family_crisis_support","details":{"note":"abc"}}"#)
            #expect(refused.status == 409)
            #expect(Self.error(refused)["code"] as? String == "not_available")
            let why = try #require(Self.error(refused)["reason"] as? [String: Any])
            #expect(why["code"] as? String == "no_entitlement")
            #expect((why["text"] as? [String: String])?["uk"] == UnavailableReason.noEntitlement.text.uk)
            #expect(Self.error(refused)["message_uk"] as? String == UnavailableReason.noEntitlement.text.uk)
            #expect(try await Self.request(server, #"{"session":"\#(session)","bundle":"nope"}"#).status == 404)
            #expect(try await Self.request(server, #"{"session":"\#(session)","service":"psychologist","bundle":"home_support"}"#).status == 400)
        }
    }

    @Test("a call-back needs no card: 201 with a ticket, unverified, no card number; rate-limited across a restart")
    func callbacks() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let guardFile = dir.file("callback-entry.json")
        try await APIServer.with(outbox: outbox, callbackGuard: CallbackGuard(path: guardFile)) { server in
            let first = try await Self.request(server, #"{"callback":{"phone":"512 345 678","service":"home_care","note":"proszę o telefon"},"lang":"uk"}"#)
            #expect(first.status == 201, "\(String(decoding: first.body, as: UTF8.self))")
            let request = try #require(first.json?["request"] as? [String: Any])
            #expect(request["kind"] as? String == "callback" && request["identity"] as? String == "unverified")
            #expect(first.json?["ticket"] is String)
            #expect((first.json?["next_step"] as? [String: String])?["uk"] == StandardCatalogue.callbackNextStep.uk)
            let stored = try #require(try outbox.item(key: request["id"] as? String ?? ""))
            #expect(stored.cardNumber == nil && stored.cardTag == nil && stored.phone == "+48512345678" && stored.service == "home_care")

            let bad = try await Self.request(server, #"{"callback":{"phone":"12"},"lang":"en"}"#)
            #expect(bad.status == 422)
            #expect((Self.error(bad)["fields"] as? [[String: Any]])?.first?["message"] as? String == PolishPhone.problem.message.en)
            #expect(try await Self.request(server, #"{"callback":{}}"#).status == 422)
            #expect(try await Self.request(server, #"{"callback":{"phone":"512345678","service":"space"}}"#).status == 404)
            #expect(try await Self.request(server, #"{"callback":{"phone":"512345678"},"session":"x"}"#).status == 400)
            for _ in 0..<4 { #expect(try await Self.request(server, #"{"callback":{"phone":"+48 600 100 200"}}"#).status == 201) }
            let sixth = try await Self.request(server, #"{"callback":{"phone":"+48 600 100 200"}}"#)
            #expect(sixth.status == 429)
            #expect(Self.error(sixth)["code"] as? String == "too_many_attempts")
            let wait = Int(sixth.header("Retry-After") ?? "") ?? 0
            #expect((1...600).contains(wait))
        }
        #expect(StateFilesMode.of(guardFile) == 0o600)
        try await APIServer.with(outbox: outbox, callbackGuard: CallbackGuard(path: guardFile)) { server in
            let again = try await Self.request(server, #"{"callback":{"phone":"+48 600 100 200"}}"#)
            #expect(again.status == 429)
        }
        #expect(try await outbox.counts().pending == 5)
    }

    @Test("offline quotas: accepted up to the limit, then quota_used; a delivered request still counts, a declined one does not")
    func offlineQuota() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        try await APIServer.with(outbox: outbox) { server in
            let handyman = #"\#(requestDetailsJSON(for: "handyman"))"#
            var keys: [String] = []
            for _ in 0..<2 {
                let session = try await Self.typed(server, "SKS-0001")
                let r = try await Self.request(server, #"{"session":"\#(session)","service":"handyman","details":\#(handyman)}"#)
                #expect(r.status == 201)
                keys.append(try #require((r.json?["request"] as? [String: Any])?["id"] as? String))
            }
            // The limit is two a month: the third is refused, and the list says so.
            var session = try await Self.typed(server, "SKS-0001")
            let third = try await Self.request(server, #"{"session":"\#(session)","service":"handyman","details":\#(handyman)}"#)
            #expect(third.status == 409)
            #expect((Self.error(third)["reason"] as? [String: Any])?["code"] as? String == "quota_used")
            let listed = try #require(try await http("GET", server.base + "/api/v1/services?session=\(session)").json)
            #expect((Self.service(listed, "handyman")?["reason"] as? [String: Any])?["code"] as? String == "quota_used")
            // The bundle that holds the handyman is used up too.
            let bundle = (listed["bundles"] as? [[String: Any]])?.first { $0["id"] as? String == "home_support" }
            #expect((bundle?["reason"] as? [String: Any])?["code"] as? String == "quota_used")
            // Another card, and the same card tapped, are counted by card: the tap is the same person.
            #expect(try await Self.request(server, #"{"session":"\#(try await Self.typed(server, "CUS-0001"))","service":"psychologist"}"#).status == 201)
            let tapped = try await Self.tap(server, Self.halinaChip)
            #expect(try await Self.request(server, #"{"session":"\#(tapped)","service":"handyman","details":\#(handyman)}"#).status == 409)

            // Delivered: the number is gone from the outbox, but the card tag still counts it.
            try await outbox.record([keys[0]: .delivered(.accepted, requestID: 1, status: "received")])
            #expect(try outbox.item(key: keys[0])?.cardNumber == nil)
            session = try await Self.typed(server, "SKS-0001")
            #expect(try await Self.request(server, #"{"session":"\#(session)","service":"handyman","details":\#(handyman)}"#).status == 409)
            // Declined at the central: it no longer counts, so one more may be asked for.
            try await outbox.apply([.init(idempotencyKey: keys[0], requestID: 1, status: "declined", scheduledAt: nil,
                                    reason: StatusReason(code: "quota_used", text: UnavailableReason.quotaUsed.text))])
            #expect(try await Self.request(server, #"{"session":"\#(session)","service":"handyman","details":\#(handyman)}"#).status == 201)
            #expect(try await Self.request(server, #"{"session":"\#(session)","service":"handyman","details":\#(handyman)}"#).status == 409)
        }
    }

    @Test("GET /api/v1/requests: 403 for a typed number; for a tapped card what the kiosk knows, offline")
    func statusOffline() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        try await APIServer.with(outbox: outbox) { server in
            let typed = try await Self.typed(server, "SKS-0001")
            let made = try await Self.request(server, #"{"session":"\#(typed)","service":"psychologist"}"#)
            let key = try #require((made.json?["request"] as? [String: Any])?["id"] as? String)
            let refused = try await http("GET", server.base + "/api/v1/requests?session=\(typed)")
            #expect(refused.status == 403)
            #expect(Self.error(refused)["code"] as? String == "typed_session")
            #expect(Self.error(refused)["message_uk"] is String)
            #expect(try await http("GET", server.base + "/api/v1/requests").status == 400)
            #expect(try await http("GET", server.base + "/api/v1/requests?session=nope").status == 410)

            let tapped = try await Self.tap(server, Self.halinaChip)
            let second = try await Self.request(server, #"{"session":"\#(tapped)","service":"psychologist"}"#)
            let secondKey = try #require((second.json?["request"] as? [String: Any])?["id"] as? String)
            func mine() async throws -> [String: [String: Any]] {
                let list = try #require(try await http("GET", server.base + "/api/v1/requests?session=\(tapped)").json?["requests"] as? [[String: Any]])
                return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as? String ?? "", $0) })
            }
            var list = try await mine()
            #expect(list.count == 2)
            #expect(list[key]?["status"] as? String == "queued" && list[key]?["ticket"] is String && list[key]?["service"] as? String == "psychologist")
            // Delivered and scheduled (known by the card tag once the number is gone); declined with the reason.
            try await outbox.record([key: .delivered(.accepted, requestID: 1), secondKey: .delivered(.accepted, requestID: 2)])
            list = try await mine()
            #expect(list[key]?["status"] as? String == "received")
            try await outbox.apply([
                .init(idempotencyKey: key, requestID: 1, status: "scheduled", scheduledAt: nil, scheduledFor: "2030-03-04"),
                .init(idempotencyKey: secondKey, requestID: 2, status: "declined", scheduledAt: nil,
                      reason: StatusReason(code: "coordinator", text: LocalizedText(pl: "Brak terminów", uk: "Немає дат", en: "No dates"))),
            ])
            list = try await mine()
            #expect(list[key]?["status"] as? String == "scheduled" && list[key]?["scheduled_for"] as? String == "2030-03-04")
            #expect(list[secondKey]?["status"] as? String == "declined")
            #expect(((list[secondKey]?["reason"] as? [String: Any])?["text"] as? [String: String])?["uk"] == "Немає дат")
            // One request by its id still works, with the new fields.
            let one = try #require(try await http("GET", server.base + "/api/v1/requests/\(key)").json?["request"] as? [String: Any])
            #expect(one["status"] as? String == "scheduled" && one["ticket"] is String && one["scheduled_for"] as? String == "2030-03-04")
        }
    }

    @Test("online: the central's list for a tapped card is merged with what waits here, and counts against quotas")
    func statusAndQuotaOnline() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let now = Date().formatted(.iso8601)
        let reason = StatusReason(code: "quota_used", text: UnavailableReason.quotaUsed.text)
        let fromCentral = [
            HolderRequest(requestID: 1, idempotencyKey: UUIDv7.make(), ticket: Ticket(kiosk: 5, sequence: 1), kind: .service, service: "handyman",
                          status: .scheduled, createdAt: now, scheduledFor: "2030-03-04"),
            HolderRequest(requestID: 2, idempotencyKey: UUIDv7.make(), ticket: Ticket(kiosk: 5, sequence: 2), kind: .service, service: "handyman",
                          status: .declined, createdAt: now, reason: reason),
            HolderRequest(requestID: 3, idempotencyKey: UUIDv7.make(), ticket: Ticket(kiosk: 6, sequence: 1), kind: .bundle, service: "home_support",
                          status: .received, createdAt: now),
        ]
        let central = FakeHolders(fromCentral)
        try await APIServer.with(outbox: outbox, holders: central) { server in
            let session = try await Self.tap(server, Self.halinaChip)
            // One handyman scheduled, one declined (not counted), one in a bundle: the limit of two is reached.
            let listed = try #require(try await http("GET", server.base + "/api/v1/services?session=\(session)").json)
            #expect((Self.service(listed, "handyman")?["reason"] as? [String: Any])?["code"] as? String == "quota_used")
            #expect(Self.service(listed, "home_care")?["available"] as? Bool == true)
            #expect(central.asked.first == "SKS0001/\(Self.halinaChip)")
            let made = try await Self.request(server, #"{"session":"\#(session)","service":"psychologist"}"#)
            let local = try #require((made.json?["request"] as? [String: Any])?["id"] as? String)
            let list = try #require(try await http("GET", server.base + "/api/v1/requests?session=\(session)").json?["requests"] as? [[String: Any]])
            #expect(list.count == 4)
            #expect(list.first { $0["id"] as? String == local }?["status"] as? String == "queued")
            let declined = try #require(list.first { $0["status"] as? String == "declined" })
            #expect((declined["reason"] as? [String: Any])?["code"] as? String == "quota_used")
            #expect(list.contains { $0["status"] as? String == "scheduled" && $0["scheduled_for"] as? String == "2030-03-04" })
            // Asked once for the whole visit (a short cache), never for a typed number.
            #expect(central.calls == 1)
            let typed = try await Self.typed(server, "SKS-0001")
            _ = try await http("GET", server.base + "/api/v1/services?session=\(typed)")
            #expect(central.calls == 1)
        }
        // The central cannot answer: the kiosk shows and counts what it knows.
        try await APIServer.with(outbox: outbox, holders: FakeHolders(nil)) { server in
            let session = try await Self.tap(server, Self.halinaChip)
            let listed = try #require(try await http("GET", server.base + "/api/v1/services?session=\(session)").json)
            #expect(Self.service(listed, "handyman")?["available"] as? Bool == true)
            let list = try #require(try await http("GET", server.base + "/api/v1/requests?session=\(session)").json?["requests"] as? [[String: Any]])
            #expect(list.count == 1)
        }
    }

    @Test("the catalogue: a higher sound version replaces it and is kept in its file (0600); lower, equal or broken ones do not")
    func cataloguePersisted() throws {
        let dir = TempDir()
        let path = dir.file("catalogue.json")
        let catalog = ServiceCatalog(path: path)
        #expect(catalog.version == 1 && !catalog.hasCentralCatalogue)
        var next = StandardCatalogue.catalogue
        next.version = 3
        next.services[0].name = LocalizedText(pl: "Opieka w domu", uk: "Догляд удома", en: "Care at home")
        #expect(try catalog.replace(with: next) == .replaced)
        #expect(catalog.version == 3 && catalog.hasCentralCatalogue)
        #expect(StateFilesMode.of(path) == 0o600)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        var older = StandardCatalogue.catalogue
        older.version = 2
        #expect(try catalog.replace(with: older) == .notNewer)
        var broken = next
        broken.version = 4
        broken.services[1].id = broken.services[0].id
        guard case .refused(let problems) = try catalog.replace(with: broken) else {
            Issue.record("a catalogue with a repeated id was not refused")
            return
        }
        #expect(!problems.isEmpty)
        // Read back at start, as after a restart without the central.
        let restarted = ServiceCatalog(path: path)
        #expect(restarted.version == 3 && restarted.hasCentralCatalogue && restarted.loadProblem == nil)
        #expect(restarted.services[0].name.en == "Care at home")
        // A damaged file is left alone and the standard catalogue used until the central sends one.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: path))
        let damaged = ServiceCatalog(path: path)
        #expect(damaged.version == 1 && !damaged.hasCentralCatalogue && damaged.loadProblem != nil)
    }
}
