import CardModel
import CentralWire
import Foundation
import ServiceRules
import Testing

private let today = try! CivilDate(iso: "2026-12-01")
private let catalogue = StandardCatalogue.catalogue

private func holder(_ kinds: [(EntitlementKind, FamilyRole?)], until: CivilDate? = nil) -> Applicant {
    Applicant(entitlements: kinds.map { Entitlement(kind: $0.0, role: $0.1, validFrom: try! CivilDate(iso: "2020-01-01"), validUntil: until) })
}

@Suite("The standard catalogue")
struct StandardCatalogueTests {
    @Test("is well formed, lists the 13 CUS services and speaks three languages everywhere")
    func wellFormed() throws {
        #expect(CatalogueCheck.problems(catalogue) == [])
        #expect(catalogue.services.count == 13)
        #expect(catalogue.bundles.count >= 3)
        for s in catalogue.services {
            for text in [s.name, s.description, s.nextStep] + s.fields.map(\.label) {
                #expect(text.uk != text.pl && text.uk != text.en, "\(s.id): \(text.pl)")
            }
        }
        // It survives the wire.
        let data = try JSONEncoder().encode(catalogue)
        #expect(try JSONDecoder().decode(Catalogue.self, from: data) == catalogue)
    }

    @Test("docs/catalogue.md documents every service and bundle, with its quota")
    func documented() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/catalogue.md").standardized
        let doc = try String(contentsOf: url, encoding: .utf8)
        for s in catalogue.services {
            let row = try #require(doc.split(separator: "\n").first { $0.hasPrefix("| `\(s.id)` |") }, "no row for \(s.id)")
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            // id, name, provider, senior, disability, large family, no card, quota, …
            #expect(cells[7] == (s.quota.map { "\($0.limit)" } ?? "—"), "\(s.id): quota")
            let publicFee = switch s.publicFee {
            case nil: "—"
            case let fee? where fee.kind == .free: "free"
            case let fee?: "\((fee.amountGrosze ?? 0) / 100) zł"
            }
            #expect(cells[6].hasPrefix(publicFee), "\(s.id): public fee")
            #expect(cells[2] == (s.provider.kind == .cus ? "CUS" : "partner"), "\(s.id): provider")
        }
        for b in catalogue.bundles {
            #expect(doc.contains("| `\(b.id)` "), "no row for bundle \(b.id)")
        }
    }

    @Test("a broken catalogue is refused with a reason per problem")
    func brokenCatalogue() {
        var c = catalogue
        c.services[0].id = "Bad Id"
        c.services.append(c.services[1])
        c.bundles[0].services.append("nope")
        c.services[2].name.uk = " "
        let problems = CatalogueCheck.problems(c)
        #expect(problems.contains { $0.contains("lower-case") })
        #expect(problems.contains { $0.contains("used twice") })
        #expect(problems.contains { $0.contains("no service nope") })
        #expect(problems.contains { $0.contains("name needs pl, uk and en") })
    }
}

@Suite("Who may ask for what")
struct EligibilityTests {
    /// The expected fee kind for every service and entitlement (nil: not available).
    static let matrix: [String: [String: Fee.Kind?]] = [
        //                       senior60     disability   kdr parent   kdr child    staff        no card
        "home_care": ["s": .discounted, "d": .discounted, "p": .full, "c": .full, "x": .full, "-": .full],
        "respite_care": ["s": .discounted, "d": .free, "p": .discounted, "c": nil, "x": nil, "-": nil],
        "training_flats": ["s": .free, "d": .free, "p": .free, "c": .free, "x": .free, "-": .free],
        "flat_specialists": ["s": .free, "d": .free, "p": .free, "c": .free, "x": .free, "-": .free],
        "mobile_physiotherapist": ["s": .discounted, "d": .free, "p": .full, "c": .full, "x": .full, "-": .full],
        "senior_taxi": ["s": .discounted, "d": .free, "p": nil, "c": nil, "x": nil, "-": nil],
        "handyman": ["s": .discounted, "d": .discounted, "p": .full, "c": .full, "x": .full, "-": .full],
        "psychologist": ["s": .free, "d": .free, "p": .free, "c": .free, "x": .free, "-": .free],
        "health_programmes": ["s": .free, "d": .free, "p": .full, "c": .full, "x": .full, "-": .full],
        "theatre_trips": ["s": .discounted, "d": .discounted, "p": .discounted, "c": .discounted, "x": .full, "-": .full],
        "community_organising": ["s": .free, "d": .free, "p": .free, "c": .free, "x": .free, "-": .free],
        "family_crisis_support": ["s": nil, "d": nil, "p": .free, "c": nil, "x": nil, "-": nil],
        "vaccinations": ["s": .free, "d": .free, "p": .free, "c": .free, "x": .full, "-": .full],
    ]

    static let applicants: [String: Applicant] = [
        "s": holder([(.senior60, nil)]), "d": holder([(.disability, nil)]), "p": holder([(.largeFamily, .parent)]),
        "c": holder([(.largeFamily, .child)]), "x": holder([(.staff, nil)]), "-": .noCard,
    ]

    @Test("every entitlement, role and service: available or not, and the fee", arguments: StandardCatalogue.catalogue.services.map(\.id))
    func matrix(service id: String) throws {
        let service = try #require(catalogue.service(id: id))
        let expected = try #require(Self.matrix[id])
        for (who, applicant) in Self.applicants {
            let a = Eligibility.assess(service, for: applicant, today: today, used: 0)
            if let kind = expected[who]! {
                #expect(a.available, "\(id) for \(who)")
                #expect(a.fee?.kind == kind, "\(id) for \(who): \(String(describing: a.fee))")
            } else {
                // Without a card the reason is that a card is needed, not that the card lacks an entitlement.
                #expect(!a.available && a.reason == (who == "-" ? .cardRequired : .noEntitlement), "\(id) for \(who)")
            }
        }
    }

    @Test("several entitlements: the cheapest fee wins")
    func cheapestWins() throws {
        let both = holder([(.senior60, nil), (.disability, nil)])
        let taxi = try #require(catalogue.service(id: "senior_taxi"))
        #expect(Eligibility.assess(taxi, for: both, today: today, used: 0).fee == .free)
        let trips = try #require(catalogue.service(id: "theatre_trips"))
        #expect(Eligibility.assess(trips, for: both, today: today, used: 0).fee?.amountGrosze == 2000)
    }

    @Test("an expired entitlement does not count; one ending before the earliest day says card_expires")
    func expiry() throws {
        let taxi = try #require(catalogue.service(id: "senior_taxi"))
        let expired = holder([(.senior60, nil)], until: today.adding(days: -1))
        #expect(Eligibility.assess(taxi, for: expired, today: today, used: 0).reason == .noEntitlement)
        let endsToday = holder([(.senior60, nil)], until: today)
        #expect(Eligibility.assess(taxi, for: endsToday, today: today, used: 0).reason == .cardExpires)
        let endsTomorrow = holder([(.senior60, nil)], until: today.adding(days: 1))
        #expect(Eligibility.assess(taxi, for: endsTomorrow, today: today, used: 0).available)
    }

    @Test("quota: the limit's last request is allowed, the next is not")
    func quota() throws {
        let taxi = try #require(catalogue.service(id: "senior_taxi"))
        let senior = holder([(.senior60, nil)])
        #expect(Eligibility.assess(taxi, for: senior, today: today, used: 3).available)
        let over = Eligibility.assess(taxi, for: senior, today: today, used: 4)
        #expect(!over.available && over.reason == .quotaUsed && over.fee != nil)
    }

    @Test("a service not offered now is listed but not available")
    func notOffered() throws {
        var taxi = try #require(catalogue.service(id: "senior_taxi"))
        taxi.offered = false
        #expect(Eligibility.assess(taxi, for: holder([(.disability, nil)]), today: today, used: 0).reason == .notOfferedNow)
    }

    @Test("a bundle is available when every service in it is, with each service's fee")
    func bundles() throws {
        let bundle = try #require(catalogue.bundle(id: "home_support"))
        let senior = Eligibility.assess(bundle, in: catalogue, for: holder([(.senior60, nil)]), today: today, used: [:])
        #expect(senior.available && senior.fees.count == 3)
        let crisis = try #require(catalogue.bundle(id: "family_in_crisis"))
        let child = Eligibility.assess(crisis, in: catalogue, for: holder([(.largeFamily, .child)]), today: today, used: [:])
        #expect(!child.available && child.reason == .noEntitlement)
        let used = Eligibility.assess(bundle, in: catalogue, for: holder([(.senior60, nil)]), today: today, used: ["handyman": 2])
        #expect(!used.available && used.reason == .quotaUsed)
        let fields = DetailsCheck.fields(of: bundle, in: catalogue).map(\.id)
        #expect(fields == ["address", "when", "note"])
    }
}

@Suite("The details a request carries")
struct DetailsRulesTests {
    func check(_ service: String, _ details: JSONValue, lastDay: CivilDate? = nil) throws -> Result<JSONValue, FieldProblems> {
        let s = try #require(catalogue.service(id: service))
        return DetailsCheck.check(details, fields: s.fields, today: today, leadDays: s.leadDays, lastDay: lastDay)
    }

    func codes(_ r: Result<JSONValue, FieldProblems>) -> [String: String] {
        guard case .failure(let p) = r else { return [:] }
        return Dictionary(p.problems.map { ($0.field, $0.code) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("a good taxi request passes, normalised")
    func goodTaxi() throws {
        let r = try check("senior_taxi", ["pickup": " ul. Radomska 1 ", "destination": "Szpital, ul. Radomska 70", "date": "2026-12-03", "time": "9:30"])
        guard case .success(let v) = r else { Issue.record("refused: \(r)"); return }
        #expect(v["pickup"] == "ul. Radomska 1")
        #expect(v["time"] == "09:30")
    }

    @Test("one problem per bad field, in three languages")
    func everyRule() throws {
        let r = try check("senior_taxi", ["pickup": "a", "date": "2026-12-01", "time": "23:00", "colour": "red"])
        let c = codes(r)
        #expect(c == ["pickup": "too_short", "destination": "required", "date": "too_early", "time": "outside_hours", "colour": "unknown_field"])
        if case .failure(let problems) = r {
            for p in problems.problems { #expect(!p.message.uk.isEmpty && p.message.uk != p.message.pl) }
        }
        #expect(codes(try check("senior_taxi", ["pickup": "abc", "destination": "abc", "date": "2027-02-01", "time": "10:00"])) == ["date": "too_late"])
        #expect(codes(try check("senior_taxi", ["pickup": "abc", "destination": "abc", "date": "3 grudnia", "time": "25:00"])) == ["date": "not_a_date", "time": "not_a_time"])
        #expect(codes(try check("senior_taxi", ["pickup": .number(5), "destination": "abc", "date": "2026-12-03", "time": "10:00"])) == ["pickup": "not_text"])
    }

    @Test("date windows: order, length, lead days, and the card's last day")
    func windows() throws {
        let base: [String: JSONValue] = ["address": "ul. Kościelna 5"]
        func with(_ from: String, _ to: String) -> JSONValue {
            var d = base
            d["when"] = .object(["from": .string(from), "to": .string(to)])
            return .object(d)
        }
        #expect(codes(try check("home_care", with("2026-12-03", "2026-12-10"))) == [:])
        #expect(codes(try check("home_care", with("2026-12-10", "2026-12-03"))) == ["when": "not_a_date"])
        #expect(codes(try check("home_care", with("2026-12-03", "2026-12-30"))) == ["when": "window_too_long"])
        #expect(codes(try check("home_care", with("2026-12-02", "2026-12-05"))) == ["when": "too_early"])
        #expect(codes(try check("home_care", with("2026-12-05", "2026-12-08"), lastDay: try CivilDate(iso: "2026-12-04"))) == ["when": "card_expires"])
        #expect(codes(try check("home_care", .object(base))) == ["when": "required"])
    }

    @Test("counts and notes")
    func countsAndNotes() throws {
        #expect(codes(try check("theatre_trips", ["people": 2])) == [:])
        #expect(codes(try check("theatre_trips", ["people": 5])) == ["people": "out_of_range"])
        #expect(codes(try check("theatre_trips", ["people": 1.5])) == ["people": "not_a_number"])
        #expect(codes(try check("theatre_trips", ["people": 1, "note": .string(String(repeating: "x", count: 501))])) == ["note": "too_long"])
        #expect(codes(try check("handyman", ["address": "ul. Kościelna 5", "when": ["from": "2026-12-03", "to": "2026-12-04"]])) == ["note": "required"])
    }

    @Test("Polish phone numbers")
    func phones() {
        #expect(PolishPhone.normalise("512 345 678") == "+48512345678")
        #expect(PolishPhone.normalise("+48 41 274-12-34") == "+48412741234")
        #expect(PolishPhone.normalise("0048512345678") == "+48512345678")
        #expect(PolishPhone.normalise("48512345678") == "+48512345678")
        #expect(PolishPhone.normalise("012345678") == nil)
        #expect(PolishPhone.normalise("51234567") == nil)
        #expect(PolishPhone.normalise("+49 512345678") == nil)
        #expect(PolishPhone.normalise("５１２３４５６７８") == nil)
    }
}

@Suite("Tickets")
struct TicketTests {
    @Test("unique across 100 kiosks × 10,000 requests, and never with 0, O, 1, I, L or U")
    func unique() {
        var seen = Set<String>()
        seen.reserveCapacity(1_000_000)
        var repeats = 0
        for kiosk in 1...100 {
            for seq in 1...10_000 where !seen.insert(Ticket(kiosk: kiosk, sequence: Int64(seq)).code).inserted {
                repeats += 1
            }
        }
        #expect(repeats == 0 && seen.count == 1_000_000)
        #expect(seen.allSatisfy { !$0.contains(where: { "01OILU".contains($0) }) && $0.count <= 9 })
    }

    @Test("read back as heard, and a single wrong character or swapped pair is caught")
    func parsing() throws {
        let t = Ticket(kiosk: 7, sequence: 4321)
        #expect(Ticket(parsing: t.code.lowercased()) == t)
        #expect(Ticket(parsing: " " + t.code.replacingOccurrences(of: "-", with: " - ") + " ") == t)
        let chars = Array(t.code)
        var caught = 0, tried = 0
        for i in chars.indices where chars[i] != "-" {
            for replacement in Ticket.alphabet where replacement != chars[i] {
                var wrong = chars
                wrong[i] = replacement
                tried += 1
                if Ticket(parsing: String(wrong)) == nil { caught += 1 }
            }
        }
        #expect(caught == tried)
        #expect(Ticket(parsing: "AB") == nil && Ticket(parsing: "A0-12345") == nil)
    }

    @Test("the kiosk number travels in the kiosk's token")
    func tokens() {
        #expect(Ticket.kioskNumber(inToken: "cusk_" + Ticket.kioskCode(42) + "_secretsecret") == 42)
        #expect(Ticket.kioskNumber(inToken: "cusk_abcdefghijklmnop") == nil)
        #expect(Ticket.kioskNumber(inToken: "cuss_22_x") == nil)
    }
}
