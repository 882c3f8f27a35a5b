import CardModel
@testable import CentralStore
import CentralWire
import Foundation
import HummingbirdTesting
import NIOCore
import Testing

/// The central's side of service requests: the catalogue as data, kiosk numbers and tickets,
/// declines at intake, call-backs, a holder's own requests, and coordinators moving requests on.
@Suite("cus-central service requests")
struct ServiceRequestTests {
    // MARK: The catalogue

    @Test("GET /v1/catalogue is public; PUT /v1/staff/catalogue publishes the next version to every kiosk's feed; a refused draft changes nothing", arguments: TestBackend.allCases)
    func cataloguePublish(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            let first = try await client.call("GET", "/v1/catalogue")
            #expect(first.status == 200)
            var draft = try JSONDecoder().decode(Catalogue.self, from: Data(first.body.readableBytesView))
            #expect(draft.version == 1)
            #expect(draft.services.count == 13)
            #expect(draft.bundles.count == 3)

            draft.version = 42  // ignored: the central gives the next version
            draft.services[0].offered = false
            let body = String(decoding: try JSONEncoder().encode(draft), as: UTF8.self)
            #expect(try await client.call("PUT", "/v1/staff/catalogue", body: body).status == 401)
            #expect(try await client.call("PUT", "/v1/staff/catalogue", token: h.kioskA, body: body).status == 403)
            let published = try await client.call("PUT", "/v1/staff/catalogue", token: h.staff, body: body)
            #expect(published.status == 200, "\(published.json)")
            #expect(published.json["version"]?.int == 2)
            #expect(published.json["services"]?[0]?["offered"]?.bool == false)
            #expect(try await client.call("GET", "/v1/catalogue").json["version"]?.int == 2)

            // A draft with problems is refused as a whole, every problem named; nothing is written.
            var bad = draft
            bad.services.append(draft.services[1])
            bad.bundles[0].services = ["home_care", "nope"]
            let refused = try await client.call("PUT", "/v1/staff/catalogue", token: h.staff, body: String(decoding: try JSONEncoder().encode(bad), as: UTF8.self))
            #expect(refused.status == 400)
            #expect(refused.json["error"]?["code"]?.string == "bad_request")
            let message = refused.json["error"]?["message"]?.string ?? ""
            #expect(message.contains("the id is used twice") && message.contains("no service nope"), "\(message)")
            #expect(try await client.call("PUT", "/v1/staff/catalogue", token: h.staff, body: #"{"services": 3}"#).status == 400)
            #expect(try await h.store.catalogue().version == 2)

            // Every kiosk sees every version, whole, in its feed.
            for token in [h.kioskA, h.kioskB] {
                let feed = try await client.call("GET", "/v1/registry/changes?after=0", token: token).json["changes"]?.array ?? []
                let catalogues = feed.filter { $0["op"]?.string == "catalogue" }
                #expect(catalogues.map { $0["catalogue"]?["version"]?.int } == [1, 2])
                #expect(catalogues.last?["catalogue"]?["services"]?.array.count == 13)
                #expect(catalogues.last?["catalogue"]?["services"]?[0]?["offered"]?.bool == false)
            }
            let page = try await h.store.changes(after: 0, limit: 10, kioskID: 1)
            #expect(page.changes.compactMap(\.catalogue?.version) == [1, 2])
            #expect(page.changes.first?.catalogue?.services.map(\.id) == Array(try await h.store.catalogue().services.map(\.id)))

            // The version in a draft never matters.
            var zero = draft
            zero.version = 0
            #expect(try await h.store.publishCatalogue(zero, by: "test").version == 3)
        }
    }

    /// `ticket` with its check character changed: a ticket misheard.
    static func miswritten(_ ticket: Ticket) -> String {
        let last = ticket.code.last == "Z" ? "Y" : "Z"
        return String(ticket.code.dropLast()) + last
    }

    // MARK: Kiosk numbers

    @Test("a kiosk token carries the kiosk's number; every enrolment, a re-enrolment too, gets a new one", arguments: TestBackend.allCases)
    func kioskNumbers(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withStore(backend) { store in
            let staff = try await store.enrol(.staff, name: "kipus-anna")
            #expect(staff.hasPrefix("cuss_"))
            #expect(Ticket.kioskNumber(inToken: staff) == nil)
            #expect(try await store.authenticate(token: staff)?.number == nil)

            let a = try await store.enrol(.kiosk, name: "skalka-1")
            let b = try await store.enrol(.kiosk, name: "lazy-mobile")
            let numberA = try #require(Ticket.kioskNumber(inToken: a))
            let numberB = try #require(Ticket.kioskNumber(inToken: b))
            #expect(numberA >= 1)
            #expect(numberB == numberA + 1)
            #expect(a.hasPrefix("cusk_\(Ticket.kioskCode(numberA))_"))
            #expect(try await store.authenticate(token: a)?.number == Int64(numberA))
            #expect(try await store.authenticate(token: b)?.number == Int64(numberB))

            try await store.revoke(.kiosk, name: "skalka-1")
            let again = try await store.enrol(.kiosk, name: "skalka-1")
            let numberAgain = try #require(Ticket.kioskNumber(inToken: again))
            #expect(numberAgain == numberB + 1, "a re-enrolled kiosk never reuses a number its old tickets carry")
            #expect(try await store.authenticate(token: a) == nil)
            #expect(try await store.authenticate(token: again)?.number == Int64(numberAgain))
        }
    }

    // MARK: Intake

    @Test("intake declines what breaks a rule at the central, one reason code each, and tells the kiosk in its feed", arguments: TestBackend.allCases)
    func declinesAtIntake(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            var catalogue = try await h.store.catalogue()
            let theatre = try #require(catalogue.services.firstIndex { $0.id == "theatre_trips" })
            catalogue.services[theatre].offered = false
            _ = try await h.store.publishCatalogue(catalogue, by: "test")

            let cases: [(JSONValue, String?)] = [
                (item("spa", card: "SEN-0001"), "service_withdrawn"),
                (item("theatre_trips", card: "SEN-0001"), "service_withdrawn"),
                (item("no_such_bundle", card: "SEN-0001", kind: "bundle"), "service_withdrawn"),
                (item("psychologist", card: "XYZ-9999"), "card_not_valid"),
                (item("senior_taxi", card: "KDR-1001"), "not_entitled"),
                (item("family_in_crisis", card: "SEN-0001", kind: "bundle"), "not_entitled"),
                (item("psychologist", card: "SEN-0001"), nil),
                (item("senior_taxi", card: "SEN-0001", extra: ["identity": "unverified"]), nil),
                // Without a card, the public terms: only what is open to everyone.
                (item("senior_taxi", card: nil), "not_entitled"),
                (item("psychologist", card: nil), nil),
            ]
            let number = try #require(Ticket.kioskNumber(inToken: h.kioskA))
            let results = try await client.submit(cases.enumerated().map { i, c in c.0.with(ticket: Ticket(kiosk: number, sequence: Int64(i + 1))) }, token: h.kioskA)
            #expect(results.count == cases.count)
            for (result, expected) in zip(results, cases.map(\.1)) {
                #expect(result["outcome"]?.string == "accepted", "a well-formed request is always stored: \(result)")
                #expect(result["request_id"]?.int != nil)
                #expect(result["status"]?.string == (expected == nil ? "received" : "declined"), "\(result)")
                #expect(result["status_reason"]?["code"]?.string == expected, "\(result)")
                if expected != nil {
                    for language in ["pl", "uk", "en"] {
                        let words = result["status_reason"]?["text"]?[language]?.string ?? ""
                        #expect(!words.isEmpty, "\(language): \(result)")
                    }
                }
                #expect(result["ticket"]?.string != nil)
            }
            #expect(results[3]["status_reason"]?["text"]?["en"]?.string == StatusReason.cardNotValid.text.en)
            let noCard = try await h.store.request(.id(try #require(results[9]["request_id"]?.int)))
            #expect(noCard.cardNumber == nil && noCard.identity == .unverified, "nobody checked who asked")

            // A card revoked meanwhile.
            _ = try await client.call("POST", "/v1/staff/cards/KDR-1002/revoke", token: h.staff)
            let revoked = try await client.submit([item("psychologist", card: "KDR-1002", seq: 20)], token: h.kioskA)
            #expect(revoked.first?["status_reason"]?["code"]?.string == "card_not_valid")

            // The kiosk that took them sees each decline in its feed, with the ticket and the reason; no other kiosk does.
            let feed = try await client.call("GET", "/v1/registry/changes?after=0&limit=1000", token: h.kioskA).json["changes"]?.array ?? []
            let statuses = feed.filter { $0["op"]?.string == "request_status" }.compactMap { $0["request"] }
            let declinedIDs = (results + revoked).filter { $0["status"]?.string == "declined" }.compactMap { $0["request_id"]?.int }
            #expect(statuses.compactMap { $0["request_id"]?.int } == declinedIDs)
            for (status, result) in zip(statuses, (results + revoked).filter { $0["status"]?.string == "declined" }) {
                #expect(status["status"]?.string == "declined")
                #expect(status["reason"]?["code"] == result["status_reason"]?["code"])
                #expect(status["ticket"] == result["ticket"])
            }
            let other = try await client.call("GET", "/v1/registry/changes?after=0&limit=1000", token: h.kioskB).json["changes"]?.array ?? []
            #expect(!other.contains { $0["op"]?.string == "request_status" })

            // Staff see the code and the words.
            let id = try #require(results[4]["request_id"]?.int)
            let stored = try await client.call("GET", "/v1/staff/requests/\(id)", token: h.staff)
            #expect(stored.json["status"]?.string == "declined")
            #expect(stored.json["reason_code"]?.string == "not_entitled")
            #expect(stored.json["reason"]?.string == StatusReason.notEntitled.text.en)
            // A declined request is closed.
            #expect(try await client.call("POST", "/v1/staff/requests/\(id)/status", token: h.staff, body: #"{"status":"done"}"#).status == 409)
        }
    }

    @Test("quotas count a card's requests per Warsaw month, across batches and within one, bundles for each service, declined ones not at all", arguments: TestBackend.allCases)
    func quotas(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            // senior_taxi: 4 a month.
            let first = try await client.submit((1...3).map { item("senior_taxi", card: "SEN-0001", seq: $0) }, token: h.kioskA)
            #expect(first.map { $0["status"]?.string } == ["received", "received", "received"])
            let second = try await client.submit([item("senior_taxi", card: "SEN 0001", seq: 4), item("senior_taxi", card: "sen-0001", seq: 5)], token: h.kioskB)
            #expect(second.map { $0["status"]?.string } == ["received", "declined"])
            #expect(second[1]["status_reason"]?["code"]?.string == "quota_used")
            // A declined request does not count: a coordinator declines one, and the next fits again.
            let firstID = try #require(first[0]["request_id"]?.int)
            _ = try await client.call("POST", "/v1/staff/requests/\(firstID)/decline", token: h.staff, body: #"{"reason":"Kierowca chory"}"#)
            let third = try await client.submit([item("senior_taxi", card: "SEN-0001", seq: 6), item("senior_taxi", card: "SEN-0001", seq: 7)], token: h.kioskA)
            #expect(third.map { $0["status"]?.string } == ["received", "declined"])

            // The month is Warsaw's: 2025-01-31T23:30Z is 1 February there.
            let february = (1...4).map { item("senior_taxi", card: "SEN-0001", seq: 10 + $0, createdAt: "2025-02-1\($0)T10:00:00Z") }
            let lateJanuary = item("senior_taxi", card: "SEN-0001", seq: 20, createdAt: "2025-01-31T22:30:00Z")
            let earlyFebruary = item("senior_taxi", card: "SEN-0001", seq: 21, createdAt: "2025-01-31T23:30:00Z")
            let months = try await client.submit(february + [lateJanuary, earlyFebruary], token: h.kioskA)
            #expect(months.map { $0["status"]?.string } == ["received", "received", "received", "received", "received", "declined"])

            // Bundles count for each of their services: vaccinations is once a month.
            let vaccination = try await client.submit([item("vaccinations", card: "SEN-0001", seq: 30)], token: h.kioskA)
            #expect(vaccination.first?["status"]?.string == "received")
            let healthy = try await client.submit([item("senior_health", card: "SEN-0001", seq: 31, kind: "bundle")], token: h.kioskA)
            #expect(healthy.first?["status_reason"]?["code"]?.string == "quota_used")
            // home_support holds the handyman (twice a month): the third bundle in one batch is one too many.
            let home = try await client.submit((32...34).map { item("home_support", card: "SEN-0001", seq: $0, kind: "bundle") }, token: h.kioskA)
            #expect(home.map { $0["status"]?.string } == ["received", "received", "declined"])
            let handyman = try await client.submit([item("handyman", card: "SEN-0001", seq: 35)], token: h.kioskA)
            #expect(handyman.first?["status_reason"]?["code"]?.string == "quota_used")
            // Another month's count is its own.
            let other = try await client.submit([item("handyman", card: "SEN-0001", seq: 36, createdAt: "2025-02-01T10:00:00Z")], token: h.kioskA)
            #expect(other.first?["status"]?.string == "received")
        }
    }

    @Test("a call-back needs a phone and no card; it is stored unverified with the phone normalised", arguments: TestBackend.allCases)
    func callbacks(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let ticket = Ticket(kiosk: try #require(Ticket.kioskNumber(inToken: h.kioskA)), sequence: 1)
            let results = try await client.submit([
                item(nil, card: nil, kind: "callback", extra: ["phone": "512 345 678", "ticket": .string(ticket.code), "details": ["note": "proszę o telefon"]]),
                item("senior_taxi", card: "KDR-1001", seq: 2, kind: "callback", extra: ["phone": "+48 600-700-800", "card_number": .null]),
                item("senior_taxi", card: "KDR-1001", seq: 3, kind: "callback", extra: ["phone": "0048600700800"]),
            ], token: h.kioskA)
            #expect(results.map { $0["outcome"]?.string } == ["accepted", "accepted", "accepted"])
            #expect(results.map { $0["status"]?.string } == ["received", "received", "received"], "a call-back is never declined: a coordinator calls")
            #expect(results[0]["ticket"]?.string == ticket.code)

            let stored = try await h.store.requests(status: nil, afterID: 0, limit: 10)
            #expect(stored.map(\.kind) == [.callback, .callback, .callback])
            #expect(stored.map(\.identity) == [.unverified, .unverified, .unverified])
            #expect(stored.map(\.phone) == ["+48512345678", "+48600700800", "+48600700800"])
            #expect(stored.map(\.cardNumber) == [nil, nil, "KDR1001"])
            #expect(stored.map(\.service) == ["", "senior_taxi", "senior_taxi"])
            #expect(stored[0].ticket == ticket)
            let json = try await client.call("GET", "/v1/staff/requests/\(ticket.code)", token: h.staff).json
            #expect(json["card_number"] == .null)
            #expect(json["kind"]?.string == "callback")
            #expect(json["phone"]?.string == "+48512345678")
        }
    }

    @Test("only items the central cannot read are rejected, each with its reason", arguments: TestBackend.allCases)
    func rejectedItems(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            let bad: [(JSONValue, String)] = [
                (item("psychologist", card: "SEN-0001", kind: "visit"), "kind"),
                (item(nil, card: "SEN-0001"), "service"),
                (item(nil, card: "SEN-0001", kind: "bundle"), "service"),
                (item("Psychologist", card: "SEN-0001"), "service"),
                (item("psychologist", card: "S!"), "card_number"),
                (item("psychologist", card: "SEN-0001", extra: ["card_number": 12345]), "card_number"),
                (item("psychologist", card: "SEN-0001", extra: ["phone": "123 456"]), "phone"),
                (item("psychologist", card: "SEN-0001", extra: ["phone": 512345678]), "phone"),
                (item(nil, card: nil, kind: "callback"), "phone"),
                (item("psychologist", card: "SEN-0001", extra: ["details": [1, 2]]), "details"),
                (item("psychologist", card: "SEN-0001", extra: ["details": ["a": ["b": ["c": ["d": ["e": 1]]]]]]), "details"),
                (item("psychologist", card: "SEN-0001", extra: ["ticket": .string(Self.miswritten(Ticket(kiosk: 1, sequence: 1)))]), "ticket"),
                (item("psychologist", card: "SEN-0001", extra: ["ticket": "not a ticket"]), "ticket"),
                (item("psychologist", card: "SEN-0001", extra: ["catalogue_version": "1"]), "catalogue_version"),
                (item("psychologist", card: "SEN-0001", extra: ["created_at": "yesterday"]), "created_at"),
                (item("psychologist", card: "SEN-0001", extra: ["kiosk_seq": -1]), "kiosk_seq"),
            ]
            let results = try await client.submit(bad.map(\.0), token: h.kioskA)
            for (result, field) in zip(results, bad.map(\.1)) {
                #expect(result["outcome"]?.string == "rejected", "\(field): \(result)")
                #expect(result["reason"]?.string?.contains(field) == true, "\(field): \(result)")
                #expect(result["request_id"] == .null)
            }
            #expect(try await h.store.requests(status: nil, afterID: 0, limit: 100).isEmpty)
        }
    }

    @Test("a ticket already in use gets the central's own (kiosk 0 and the id); duplicates answer the first outcome with the status and ticket", arguments: TestBackend.allCases)
    func ticketCollision(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let number = try #require(Ticket.kioskNumber(inToken: h.kioskA))
            let ticket = Ticket(kiosk: number, sequence: 1)
            let first = item("psychologist", card: "SEN-0001", seq: 1, extra: ["ticket": .string(ticket.code.lowercased())])
            let second = item("psychologist", card: "SEN-0001", seq: 2, extra: ["ticket": .string(ticket.code)])
            let zero = item("psychologist", card: "SEN-0001", seq: 3, extra: ["ticket": .string(Ticket(kiosk: 0, sequence: 999).code)])
            let results = try await client.submit([first, second, zero], token: h.kioskA)
            #expect(results.map { $0["outcome"]?.string } == ["accepted", "accepted", "accepted"])
            #expect(results[0]["ticket"]?.string == ticket.code)
            let secondID = try #require(results[1]["request_id"]?.int)
            let fallback = Ticket(kiosk: 0, sequence: secondID)
            #expect(results[1]["ticket"]?.string == fallback.code)
            let zeroID = try #require(results[2]["request_id"]?.int)
            #expect(results[2]["ticket"]?.string == Ticket(kiosk: 0, sequence: zeroID).code, "kiosk 0 is the central's own")

            let stored = try await h.store.request(.ticket(fallback))
            #expect(stored.id == secondID)
            #expect(try await h.store.request(.ticket(ticket)).id == results[0]["request_id"]?.int)

            // A retry whose first answer was lost learns the ticket and where the request is.
            _ = try await client.call("POST", "/v1/staff/requests/\(fallback.code)/decline", token: h.staff, body: #"{"reason":"Proszę zadzwonić"}"#)
            let retry = try await client.submit([second], token: h.kioskA)
            #expect(retry.first?["outcome"]?.string == "duplicate")
            #expect(retry.first?["first_outcome"]?.string == "accepted")
            #expect(retry.first?["request_id"]?.int == secondID)
            #expect(retry.first?["ticket"]?.string == fallback.code)
            #expect(retry.first?["status"]?.string == "declined")
            #expect(retry.first?["status_reason"]?["code"]?.string == "coordinator")
        }
    }

    // MARK: A holder's requests

    @Test("POST /v1/holder/requests answers only for the card's current chip, with scheduled days and reasons, from any kiosk", arguments: TestBackend.allCases)
    func holderRequests(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let number = try #require(Ticket.kioskNumber(inToken: h.kioskA))
            let a = try await client.submit([
                item("psychologist", card: "SEN-0001", seq: 1),
                item("handyman", card: "SEN-0001", seq: 2).with(ticket: Ticket(kiosk: number, sequence: 2)),
                item("home_care", card: "SEN-0001", seq: 3),
                item("psychologist", card: "KDR-1002", seq: 4),
                item("spa", card: "SEN-0001", seq: 5),
            ], token: h.kioskA)
            let b = try await client.submit([item("psychologist", card: "SEN-0001", seq: 1), item("community_organising", card: "SEN-0001", seq: 2)], token: h.kioskB)
            let ids = (a + b).compactMap { $0["request_id"]?.int }
            let handymanTicket = try #require(a[1]["ticket"]?.string)
            let scheduled = try await client.call("POST", "/v1/staff/requests/\(handymanTicket.lowercased())/schedule", token: h.staff, body: #"{"date":"2026-12-10","time":"9:30"}"#)
            #expect(scheduled.status == 200, "\(scheduled.json)")
            _ = try await client.call("POST", "/v1/staff/requests/\(ids[2])/decline", token: h.staff, body: #"{"reason":"Brak wolnych opiekunek w grudniu"}"#)
            _ = try await client.call("POST", "/v1/staff/requests/\(ids[5])/status", token: h.staff, body: #"{"status":"done"}"#)
            // Closed more than 90 days ago: no longer listed.
            let relational = try #require(h.store as? RelationalCentralStore)
            try await relational.backend.transaction(.write) { db in
                try await db.execute("UPDATE service_request SET status = 'done', status_changed_at_ms = 1000 WHERE id = ?", [.int(ids[6])])
            }

            let reply = try await client.call("POST", "/v1/holder/requests", token: h.kioskB, body: #"{"card_number":"sen 0001","uid":"04:a2:24:1a:7b:5c:80"}"#)
            #expect(reply.status == 200, "\(reply.json)")
            let list = reply.json["requests"]?.array ?? []
            #expect(list.compactMap { $0["request_id"]?.int } == [ids[5], ids[4], ids[2], ids[1], ids[0]], "newest first, this card only, any kiosk")
            let byID = Dictionary(uniqueKeysWithValues: list.compactMap { r in r["request_id"]?.int.map { ($0, r) } })
            #expect(byID[ids[1]]?["status"]?.string == "scheduled")
            #expect(byID[ids[1]]?["scheduled_for"]?.string == "2026-12-10")
            #expect(byID[ids[1]]?["ticket"]?.string == handymanTicket)
            #expect(byID[ids[2]]?["status"]?.string == "declined")
            #expect(byID[ids[2]]?["reason"]?["code"]?.string == "coordinator")
            #expect(byID[ids[2]]?["reason"]?["text"]?["uk"]?.string == "Brak wolnych opiekunek w grudniu")
            #expect(byID[ids[4]]?["reason"]?["code"]?.string == "service_withdrawn")
            #expect(byID[ids[5]]?["status"]?.string == "done")
            #expect(byID[ids[0]]?["kind"]?.string == "service")
            #expect(byID[ids[0]]?["service"]?.string == "psychologist")

            // Any mismatch gets the same 404, saying nothing about which part was wrong.
            let wrongChip = try await client.call("POST", "/v1/holder/requests", token: h.kioskA, body: #"{"card_number":"SEN0001","uid":"04A2241A7B5C81"}"#)
            let unknownCard = try await client.call("POST", "/v1/holder/requests", token: h.kioskA, body: #"{"card_number":"SEN0009","uid":"04A2241A7B5C80"}"#)
            let lostChip = try await client.call("POST", "/v1/holder/requests", token: h.kioskA, body: #"{"card_number":"KDR-1002","uid":"04112233445501"}"#)
            let printed = try await client.call("POST", "/v1/holder/requests", token: h.kioskA, body: #"{"card_number":"KDR-1001","uid":""}"#)
            for reply in [wrongChip, unknownCard, lostChip, printed] {
                #expect(reply.status == 404)
                #expect(reply.json["error"]?["code"]?.string == "not_found")
                #expect(reply.json["error"]?["message"] == wrongChip.json["error"]?["message"])
            }
            let child = try await client.call("POST", "/v1/holder/requests", token: h.kioskA, body: #"{"card_number":"KDR-1002","uid":"04112233445566"}"#)
            #expect(child.json["requests"]?.array.compactMap { $0["request_id"]?.int } == [ids[3]])
            #expect(try await client.call("POST", "/v1/holder/requests", token: h.staff, body: #"{"card_number":"KDR-1002","uid":"04112233445566"}"#).status == 403)
            #expect(try await client.call("POST", "/v1/holder/requests", body: #"{"card_number":"KDR-1002","uid":"04112233445566"}"#).status == 401)
            #expect(try await client.call("POST", "/v1/holder/requests", token: h.kioskA, body: #"{"card_number":"KDR-1002"}"#).status == 400)
        }
    }

    // MARK: Coordinators

    @Test("staff routes take a ticket or an id; schedule, status and decline reach the kiosk's feed with ticket, day and reason", arguments: TestBackend.allCases)
    func staffRoutesByRef(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            try await importSample(h.store)
            let number = try #require(Ticket.kioskNumber(inToken: h.kioskA))
            let results = try await client.submit((1...4).map {
                item("psychologist", card: "SEN-0001", seq: $0, extra: ["phone": "512345678", "ticket": .string(Ticket(kiosk: number, sequence: Int64($0)).code)])
            }, token: h.kioskA)
            let tickets = results.compactMap { $0["ticket"]?.string }
            let ids = results.compactMap { $0["request_id"]?.int }
            try #require(tickets.count == 4 && ids.count == 4)

            // Case and spaces do not matter.
            let spaced = tickets[0].lowercased().replacingOccurrences(of: "-", with: " - ").addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? ""
            let shown = try await client.call("GET", "/v1/staff/requests/\(spaced)", token: h.staff)
            #expect(shown.status == 200, "\(shown.json)")
            #expect(shown.json["id"]?.int == ids[0])
            #expect(shown.json["phone"]?.string == "+48512345678")
            #expect(shown.json["card_number"]?.string == "SEN0001")
            #expect(try await client.call("GET", "/v1/staff/requests/\(ids[1])", token: h.staff).json["ticket"]?.string == tickets[1])
            #expect(try await client.call("GET", "/v1/staff/requests/nonsense", token: h.staff).status == 400)
            #expect(try await client.call("GET", "/v1/staff/requests/99999", token: h.staff).status == 404)
            #expect(try await client.call("GET", "/v1/staff/requests/\(Ticket(kiosk: 77, sequence: 5).code)", token: h.staff).status == 404)
            #expect(try await client.call("GET", "/v1/staff/requests/\(ids[0])", token: h.kioskA).status == 403)

            // Winter and summer: the offset is Warsaw's on that day.
            let winter = try await client.call("POST", "/v1/staff/requests/\(tickets[0])/schedule", token: h.staff, body: #"{"date":"2027-01-15","time":"09:30"}"#)
            #expect(winter.json["scheduled_at"]?.string == "2027-01-15T09:30:00+01:00")
            #expect(winter.json["scheduled_for"]?.string == "2027-01-15")
            let summer = try await client.call("POST", "/v1/staff/requests/\(ids[1])/schedule", token: h.staff, body: #"{"date":"2027-07-15","time":"14:05"}"#)
            #expect(summer.json["scheduled_at"]?.string == "2027-07-15T14:05:00+02:00")
            let dayOnly = try await client.call("POST", "/v1/staff/requests/\(ids[2])/status", token: h.staff, body: #"{"status":"scheduled","scheduled_for":"2027-02-01"}"#)
            #expect(dayOnly.status == 200)
            #expect(dayOnly.json["scheduled_for"]?.string == "2027-02-01")
            #expect(dayOnly.json["scheduled_at"] == .null)
            for body in [#"{"date":"2027-02-30"}"#, #"{"date":"2027-02-01","time":"25:00"}"#, #"{"time":"10:00"}"#] {
                #expect(try await client.call("POST", "/v1/staff/requests/\(ids[2])/schedule", token: h.staff, body: body).status == 400, "\(body)")
            }
            #expect(try await client.call("POST", "/v1/staff/requests/\(ids[2])/status", token: h.staff, body: #"{"status":"scheduled","scheduled_for":"soon"}"#).status == 400)

            let done = try await client.call("POST", "/v1/staff/requests/\(tickets[0])/status", token: h.staff, body: #"{"status":"done"}"#)
            #expect(done.json["status"]?.string == "done")
            #expect(done.json["scheduled_for"]?.string == "2027-01-15", "done keeps the day it was done on")
            let declined = try await client.call("POST", "/v1/staff/requests/\(tickets[3])/decline", token: h.staff, body: #"{"reason":"  Brak terminów  "}"#)
            #expect(declined.json["status"]?.string == "declined")
            #expect(declined.json["reason"]?.string == "Brak terminów")
            #expect(declined.json["reason_code"]?.string == "coordinator")
            #expect(try await client.call("POST", "/v1/staff/requests/\(tickets[3])/decline", token: h.staff, body: #"{"reason":"again"}"#).status == 409)
            #expect(try await client.call("POST", "/v1/staff/requests/\(ids[1])/decline", token: h.staff, body: #"{"reason":"   "}"#).status == 400)

            let feed = try await client.call("GET", "/v1/registry/changes?after=0&limit=1000", token: h.kioskA).json["changes"]?.array ?? []
            let statuses = feed.filter { $0["op"]?.string == "request_status" }.compactMap { $0["request"] }
            #expect(statuses.map { $0["status"]?.string ?? "" } == ["scheduled", "scheduled", "scheduled", "done", "declined"])
            #expect(statuses[0]["ticket"]?.string == tickets[0])
            #expect(statuses[0]["scheduled_for"]?.string == "2027-01-15")
            #expect(statuses[0]["scheduled_at"]?.string == "2027-01-15T09:30:00+01:00")
            #expect(statuses[4]["reason"]?["code"]?.string == "coordinator")
            #expect(statuses[4]["reason"]?["text"]?["pl"]?.string == "Brak terminów")
        }
    }

    @Test("requests show|schedule|set-status|decline by ticket and by id, through the cus-central binary", arguments: TestBackend.allCases)
    func coordinatorCLI(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, _ in
            let store = try await openCentralStore(db, logger: testLogger)
            try await importSample(store)
            let token = try await store.enrol(.kiosk, name: "skalka-1")
            let kiosk = try #require(try await store.authenticate(token: token))
            let number = try #require(Ticket.kioskNumber(inToken: token))
            let tickets = (1...3).map { Ticket(kiosk: number, sequence: Int64($0)) }
            let results = try await store.submitRequests(tickets.enumerated().map { i, ticket in
                RequestItem.validate(item("home_care", card: "SEN-0001", seq: i + 1, extra: [
                    "ticket": .string(ticket.code), "phone": "512 345 678", "details": ["address": "ul. Radomska 10"],
                ]))
            }, from: kiosk)
            await store.close()
            let ids = results.compactMap(\.requestID)
            #expect(ids.count == 3)

            // A ticket as read over the phone: lower case, spaces.
            let heard = tickets[0].code.lowercased().map { String($0) }.joined(separator: " ")
            let shown = try await cusCentral(["requests", "show", heard, "--database", db])
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(shown.stdout.contains("request \(ids[0]), ticket \(tickets[0].code)"), "\(shown.stdout)")
            #expect(shown.stdout.contains("service home_care"))
            #expect(shown.stdout.contains("status:   received"))
            #expect(shown.stdout.contains("…0001") && !shown.stdout.contains("SEN0001"), "the card number is masked: \(shown.stdout)")
            #expect(shown.stdout.contains("+48512345678"), "coordinators call back: \(shown.stdout)")
            #expect(shown.stdout.contains("ul. Radomska 10"))
            let json = try await cusCentral(["requests", "show", String(ids[1]), "--json", "--database", db])
            let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(json.stdout.utf8))
            #expect(decoded["ticket"]?.string == tickets[1].code)
            #expect(decoded["kind"]?.string == "service")

            let scheduled = try await cusCentral(["requests", "schedule", tickets[0].code, "--date", "2027-01-15", "--time", "09:30", "--database", db])
            #expect(scheduled.status == 0, "\(scheduled.stderr)")
            #expect(scheduled.stdout.contains("scheduled for 2027-01-15 at 09:30"), "\(scheduled.stdout)")
            let byID = try await cusCentral(["requests", "schedule", String(ids[1]), "--date", "2027-01-16", "--json", "--database", db])
            #expect(try JSONDecoder().decode(JSONValue.self, from: Data(byID.stdout.utf8))["scheduled_for"]?.string == "2027-01-16")
            let done = try await cusCentral(["requests", "set-status", String(ids[0]), "done", "--database", db])
            #expect(done.status == 0, "\(done.stderr)")
            #expect(done.stdout.contains("status:   done for 2027-01-15"), "\(done.stdout)")
            let back = try await cusCentral(["requests", "set-status", tickets[1].code, "received", "--database", db])
            #expect(back.stdout.contains("status:   received"), "\(back.stdout)")
            let declined = try await cusCentral(["requests", "decline", tickets[2].code, "--reason", "Brak wolnych terminów w styczniu", "--database", db])
            #expect(declined.status == 0, "\(declined.stderr)")
            #expect(declined.stdout.contains("declined (coordinator): Brak wolnych terminów w styczniu"), "\(declined.stdout)")

            for (arguments, words) in [
                (["requests", "set-status", String(ids[1]), "scheduled"], "requests schedule"),
                (["requests", "set-status", String(ids[1]), "lost"], "done or received"),
                (["requests", "show", "nonsense"], "TICKET must be"),
                (["requests", "show", "99999"], "no request 99999"),
                (["requests", "decline", String(ids[2]), "--reason", "again"], "already declined"),
                (["requests", "schedule", String(ids[1]), "--date", "2027-02-30"], "--date"),
                (["requests", "schedule", String(ids[1]), "--date", "2027-02-03", "--time", "9"], "HH:MM"),
            ] {
                let r = try await cusCentral(arguments + ["--database", db])
                #expect(r.status != 0, "\(arguments)")
                #expect(r.stderr.contains(words), "\(arguments): \(r.stderr)")
            }

            // The kiosk that took them heard every change.
            let reopened = try await openCentralStore(db, logger: testLogger)
            let page = try await reopened.changes(after: 0, limit: 1000, kioskID: kiosk.id)
            await reopened.close()
            let views = page.changes.compactMap(\.request)
            #expect(views.map(\.status) == [.scheduled, .scheduled, .done, .received, .declined])
            #expect(views.map(\.ticket) == [tickets[0], tickets[1], tickets[0], tickets[1], tickets[2]])
            #expect(views.last?.reason == .coordinator("Brak wolnych terminów w styczniu"))
        }
    }

    @Test("catalogue show prints the newest version; catalogue publish gives the next one, or prints every problem and exits 1", arguments: TestBackend.allCases)
    func catalogueCLI(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, dir in
            let shown = try await cusCentral(["catalogue", "show", "--database", db])
            #expect(shown.status == 0, "\(shown.stderr)")
            var catalogue = try JSONDecoder().decode(Catalogue.self, from: Data(shown.stdout.utf8))
            #expect(catalogue.version == 1)
            #expect(catalogue.services.count == 13)
            #expect(catalogue.bundles.count == 3)

            catalogue.services.removeAll { $0.id == "vaccinations" }
            catalogue.bundles.removeAll { $0.services.contains("vaccinations") }
            let file = dir.appendingPathComponent("catalogue.json")
            try JSONEncoder().encode(catalogue).write(to: file)
            let published = try await cusCentral(["catalogue", "publish", file.path, "--database", db])
            #expect(published.status == 0, "\(published.stderr)")
            #expect(published.stdout.contains("published catalogue version 2: 12 services, 2 bundles"), "\(published.stdout)")

            var bad = catalogue
            bad.services[0].name.uk = " "
            bad.services[1].leadDays = 99
            try JSONEncoder().encode(bad).write(to: file)
            let refused = try await cusCentral(["catalogue", "publish", file.path, "--database", db])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("2 problems"), "\(refused.stderr)")
            #expect(refused.stderr.contains("- service \(bad.services[0].id): name needs pl, uk and en"), "\(refused.stderr)")
            #expect(refused.stderr.contains("- service \(bad.services[1].id): lead_days is 0 to 30"), "\(refused.stderr)")
            try Data("{\"services\": []".utf8).write(to: file)
            let broken = try await cusCentral(["catalogue", "publish", file.path, "--database", db])
            #expect(broken.status != 0)
            #expect(broken.stderr.contains("not JSON") || broken.stderr.contains("not the expected JSON"), "\(broken.stderr)")

            let now = try await cusCentral(["catalogue", "show", "--database", db])
            let current = try JSONDecoder().decode(Catalogue.self, from: Data(now.stdout.utf8))
            #expect(current.version == 2)
            #expect(current.services.count == 12)
        }
    }

    // MARK: Upgrading

    @Test("a v2 database migrates: requests, receipts and tokens kept, kiosks numbered, old declines coded, the catalogue seeded", arguments: TestBackend.allCases)
    func migrationFromV2(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, _ in
            let old = try await rawBackend(db)
            try await CentralSchema.migrate(old, through: "v2 request identity")
            let token = "cusk_an-old-token-without-a-number"
            try await old.transaction(.write) { sql in
                try await sql.execute("INSERT INTO principal (kind, name, token_hash, created_at_ms) VALUES ('staff', 'kipus-anna', 'x', 0)")
                try await sql.execute("INSERT INTO principal (kind, name, token_hash, created_at_ms) VALUES ('kiosk', 'skalka-1', ?, 0)", [.text(RelationalCentralStore.hash(token: token))])
                let kiosk = try #require(try await sql.one("SELECT id FROM principal WHERE kind = 'kiosk'")?.optionalInt("id"))
                let rows: [(String, String?, String?)] = [
                    ("received", nil, nil), ("scheduled", "2025-03-04T09:30:00+01:00", nil), ("declined", nil, "Brak terminów"),
                ]
                for (i, (status, at, reason)) in rows.enumerated() {
                    let key = "0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6\(i)"
                    let row = try #require(try await sql.one("""
                        INSERT INTO service_request (idempotency_key, kiosk_id, kiosk_seq, created_at, received_at_ms, service, card_number, details, status, scheduled_at, status_reason)
                        VALUES (?, ?, ?, '2025-03-01T10:15:00Z', 0, 'senior_taxi', 'SEN0001', '{}', ?, ?, ?) RETURNING id
                        """, [.text(key), .int(kiosk), .int(Int64(i)), .text(status), at.map { .text($0) } ?? .null, reason.map { .text($0) } ?? .null]))
                    try await sql.execute(
                        "INSERT INTO request_receipt (idempotency_key, kiosk_id, outcome, request_id, received_at_ms) VALUES (?, ?, 'accepted', ?, 0)",
                        [.text(key), .int(kiosk), .int(try row.int("id"))]
                    )
                }
                try await sql.execute("UPDATE feed_state SET last_seq = 7 WHERE id = 1")
                try await sql.execute("INSERT INTO registry_change (seq, op, kiosk_id, payload, at_ms) VALUES (7, 'request_status', ?, ?, 0)", [
                    .int(kiosk), .text(try RelationalCentralStore.json(RequestStatusView(requestID: 1, idempotencyKey: "0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c60", status: .received))),
                ])
            }
            await old.close()

            let store = try await openCentralStore(db, logger: testLogger)
            let kiosk = try #require(try await store.authenticate(token: token), "old tokens still work")
            #expect(kiosk.number == kiosk.id, "existing kiosks are numbered by their id")
            let requests = try await store.requests(status: nil, afterID: 0, limit: 10)
            #expect(requests.map(\.status) == [.received, .scheduled, .declined])
            #expect(requests.map(\.cardNumber) == ["SEN0001", "SEN0001", "SEN0001"])
            #expect(requests.map(\.kind) == [.service, .service, .service])
            #expect(requests[1].scheduledFor == "2025-03-04")
            #expect(requests[2].reasonCode == "coordinator")
            #expect(requests[2].reason == "Brak terminów")
            let seeded = try await store.catalogue()
            #expect(seeded.version == 1 && seeded.services.count == 13 && seeded.bundles.count == 3)
            let page = try await store.changes(after: 0, limit: 10, kioskID: kiosk.id)
            #expect(page.changes.map(\.op) == [.requestStatus, .catalogue])
            #expect(page.changes.map(\.seq) == [7, 8])

            // Receipts still answer duplicates; a call-back without a card fits the new columns.
            let results = try await store.submitRequests([
                RequestItem.validate(item("senior_taxi", card: "SEN-0001", extra: ["idempotency_key": "0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c60"])),
                RequestItem.validate(item(nil, card: nil, seq: 9, kind: "callback", extra: ["phone": "512345678"])),
            ], from: kiosk)
            #expect(results.map(\.outcome) == [.duplicate, .accepted])
            #expect(results[0].requestID == requests[0].id)
            let next = try await store.enrol(.kiosk, name: "lazy-mobile")
            #expect(Ticket.kioskNumber(inToken: next) == Int(kiosk.id) + 1)
            await store.close()
        }
    }
}

// MARK: Helpers

/// Now, as a kiosk writes `created_at`.
func nowRFC3339() -> String { Date().formatted(.iso8601) }

/// One request item as a kiosk sends it; `extra` adds or replaces members.
func item(
    _ service: String?, card: String?, seq: Int = 1, kind: String? = nil, createdAt: String = nowRFC3339(), extra: [String: JSONValue] = [:]
) -> JSONValue {
    var members: [String: JSONValue] = [
        "idempotency_key": .string(uuid7()), "kiosk_seq": .number(Double(seq)), "created_at": .string(createdAt), "details": .object([:]),
    ]
    if let service { members["service"] = .string(service) }
    if let card { members["card_number"] = .string(card) }
    if let kind { members["kind"] = .string(kind) }
    for (key, value) in extra { members[key] = value }
    return .object(members)
}

extension JSONValue {
    /// This item with `ticket`.
    func with(ticket: Ticket) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members["ticket"] = .string(ticket.code)
        return .object(members)
    }
}

extension TestClientProtocol {
    /// Posts `items` as one batch with `token`; the results.
    func submit(_ items: [JSONValue], token: String) async throws -> [JSONValue] {
        let body = String(decoding: try JSONEncoder().encode(JSONValue.object(["requests": .array(items)])), as: UTF8.self)
        let reply = try await call("POST", "/v1/requests", token: token, body: body)
        #expect(reply.status == 200, "\(reply.json)")
        return reply.json["results"]?.array ?? []
    }
}

/// The bare backend behind a database URL from ``withDatabaseURL(_:_:)``, not migrated (a PostgreSQL schema is created).
func rawBackend(_ url: String) async throws -> any SQLBackend {
    if url.hasPrefix("sqlite:") { return try SQLiteBackend(path: String(url.dropFirst("sqlite:".count))) }
    let parsed = try #require(URLComponents(string: url))
    let schema = try #require(parsed.queryItems?.first { $0.name == "schema" }?.value)
    var plain = parsed
    plain.queryItems = nil
    let admin = try PostgresBackend(url: try #require(plain.url), logger: testLogger)
    try await admin.transaction(.write) { db in try await db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)") }
    await admin.close()
    return try PostgresBackend(url: try #require(URL(string: url)), logger: testLogger)
}
