import CardModel
@testable import CentralStore
import CompressNIO
import CentralWire
import Foundation
import HummingbirdTesting
import NIOCore
import RegistryCSV
import Testing

/// The central refuses, with a reason, every registry value a kiosk's reader would refuse, and
/// publishes only cards that meet ``RegistryRules``.
@Suite("cus-central registry rules")
struct RegistryRulesTests {
    @Test("registry import refuses names, dates and uids kiosks would refuse, FILE:LINE each, and imports the rest", arguments: TestBackend.allCases)
    func importRefusesWhatKiosksRefuse(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, dir in
            let csv = dir.appendingPathComponent("cards.csv")
            let longName = String(repeating: "Anna", count: 50)
            try """
                card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status
                GOOD-0001,04:A2:24:1A:7B:5C:80,senior60,,Anna,Kowalska,2024-01-01,,active
                LONG-0001,,senior60,,\(longName),Kowalska,2024-01-01,,active
                BELL-0001,,senior60,,Ewa\u{7},Lis,2024-01-01,,active
                NEWL-0001,,senior60,,"Ewa
                Maria",Lis,2024-01-01,,active
                LSEP-0001,,senior60,,Ewa\u{2028}Maria,Lis,2024-01-01,,active
                DATE-0001,,senior60,,Jan,Nowak,2025-02-30,,active
                DATE-0002,,senior60,,Jan,Nowak,2025-03-01,2025-02-28,active
                UIDS-0001,04:A2:24:1A:7B:5C:8,senior60,,Jan,Nowak,2024-01-01,,active
                UIDS-0002,04:A2:24:1A:7B,senior60,,Jan,Nowak,2024-01-01,,active
                GOOD-0002,,disability,,Zoë,Łukasiewicz,2024-01-01,2030-12-31,active

                """.write(to: csv, atomically: true, encoding: .utf8)
            let result = try await cusCentral(["registry", "import", csv.path, "--database", db])
            #expect(result.status == 1)
            // Besides the progress lines ("read: 100 %", "import: 2/2 cards (100 %)").
            let lines = result.stderr.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("read: ") && !$0.hasPrefix("import: ") }
            // Line 5 opens a quote that the line does not close: that row is refused, and line 6 is read
            // as a row of its own (and refused too), so no later row is swallowed.
            let refusedLines = lines.compactMap { line -> Int? in
                guard line.hasPrefix("\(csv.path):") else { return nil }
                return Int(line.dropFirst(csv.path.count + 1).prefix { $0 != ":" })
            }
            #expect(refusedLines == [3, 4, 5, 6, 7, 8, 9, 10, 11], "\(result.stderr)")
            #expect(lines.allSatisfy { $0.contains(": refused: ") }, "\(result.stderr)")
            #expect(lines.first { $0.hasPrefix("\(csv.path):3:") }?.contains("at most 64") == true, "\(result.stderr)")
            #expect(lines.first { $0.hasPrefix("\(csv.path):4:") }?.contains("U+0007") == true, "\(result.stderr)")
            #expect(lines.first { $0.hasPrefix("\(csv.path):5:") }?.contains("quote") == true, "\(result.stderr)")
            #expect(lines.first { $0.hasPrefix("\(csv.path):7:") }?.contains("U+2028") == true, "\(result.stderr)")
            #expect(!result.stderr.contains(longName), "a refused name is not echoed whole")
            #expect(result.stdout.contains("imported 2 card numbers"), "\(result.stdout)")

            let store = try await openCentralStore(db, logger: testLogger)
            let good1 = try await store.card(number: CardNumber(normalising: "GOOD-0001"))
            let good2 = try await store.card(number: CardNumber(normalising: "GOOD-0002"))
            let long = try await store.card(number: CardNumber(normalising: "LONG-0001"))
            let bell = try await store.card(number: CardNumber(normalising: "BELL-0001"))
            await store.close()
            #expect(good1?.holderDisplayName == "Anna K.")
            #expect(good2?.holderDisplayName == "Zoë Ł.")
            #expect(long == nil)
            #expect(bell == nil)
        }
    }

    @Test("the staff API answers 400 with the rule for names, series and dates kiosks would refuse", arguments: TestBackend.allCases)
    func staffAPIRefusesWhatKiosksRefuse(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            for name in [#"Ewa\u2028Maria K."#, #"Ewa\u202eAM K."#, #"Ewa\u0007 K."#, String(repeating: "A", count: 70) + " K."] {
                let reply = try await client.call("PUT", "/v1/staff/people/p-1", token: h.staff, body: #"{"display_name":"\#(name)"}"#)
                #expect(reply.status == 400, "\(name)")
                #expect(reply.json["error"]?["message"]?.string?.contains("holder_display_name") == true, "\(reply.json)")
            }
            #expect(try await client.call("PUT", "/v1/staff/people/p-1", token: h.staff, body: #"{"display_name":"Ewa K."}"#).status == 200)
            func card(_ fields: String) -> String {
                #"{"uid":null,"technology":"printed","status":"active","person_id":"p-1",\#(fields)}"#
            }
            let badSeries = try await client.call("PUT", "/v1/staff/cards/SEN-7777", token: h.staff, body: card(#""series":"A\u2029B","valid_from":null,"valid_until":null"#))
            #expect(badSeries.status == 400)
            #expect(badSeries.json["error"]?["message"]?.string?.contains("series") == true, "\(badSeries.json)")
            let badDates = try await client.call("PUT", "/v1/staff/cards/SEN-7777", token: h.staff, body: card(#""series":null,"valid_from":"2025-03-01","valid_until":"2025-02-28""#))
            #expect(badDates.status == 400)
            #expect(badDates.json["error"]?["message"]?.string?.contains("valid_until") == true, "\(badDates.json)")
            let badDay = try await client.call("PUT", "/v1/staff/cards/SEN-7777", token: h.staff, body: card(#""series":null,"valid_from":"2025-02-30","valid_until":null"#))
            #expect(badDay.status == 400)
            let chip = #"{"uid":"04A2241A7B5C8","technology":"ntag215","series":null,"status":"active","valid_from":null,"valid_until":null,"person_id":"p-1"}"#
            let badUID = try await client.call("PUT", "/v1/staff/cards/SEN-7777", token: h.staff, body: chip)
            #expect(badUID.status == 400)
            #expect(badUID.json["error"]?["message"]?.string?.contains("uid") == true, "\(badUID.json)")
            #expect(try await client.call("GET", "/v1/staff/cards/SEN-7777", token: h.staff).status == 404, "nothing was written")
        }
    }

    @Test("every card in the feed and the snapshot meets the registry rules kiosks check, edge cases included", arguments: TestBackend.allCases)
    func everyPublishedCardMeetsTheRules(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            // Edge-case-but-valid values from the import: the longest name (64 scalars), multi-scalar emoji,
            // combining marks, Polish letters; a printed card; a replaced chip.
            let first61 = String(repeating: "Ł", count: 52) + "e\u{301}👩‍👩‍👧" + "ab"
            #expect((first61 + " K.").unicodeScalars.count == 64)
            let csv = """
                card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status
                EDGE-0001,04:A2:24:1A:7B:5C:80,senior60,,\(first61),kowalska,2024-01-01,2024-01-01,active
                EDGE-0002,,large_family,child,Ola,Ńowak,1900-01-01,2999-12-31,active
                EDGE-0003,04:11:22:33:44:55:66,large_family,parent,Jan,Nowak,2023-05-01,,active
                EDGE-0003,04:11:22:33:44:55:01,large_family,parent,Jan,Nowak,2023-05-01,,lost
                EDGE-0004,0A0B0C0D,staff,,X,Y,2024-02-29,,suspended

                """
            let parsed = try RegistryCSV.parse(Array(csv.utf8))
            #expect(parsed.errors.isEmpty)
            let report = try await h.store.importRegistry(parsed.rows)
            #expect(report.refused.isEmpty, "\(report.refused)")
            // From the staff API: a 10-byte uid, the longest series, sixteen entitlements.
            #expect(try await client.call("PUT", "/v1/staff/people/edge_person-1", token: h.staff, body: #"{"display_name":"Jan Maria Ż."}"#).status == 200)
            let sixteen = (0..<16).map { i in
                #"{"kind":"senior60","role":null,"valid_from":"2025-01-\#(String(format: "%02d", i + 1))","valid_until":"2025-01-\#(String(format: "%02d", i + 1))"}"#
            }.joined(separator: ",")
            #expect(try await client.call("PUT", "/v1/staff/people/edge_person-1/entitlements", token: h.staff, body: #"{"entitlements":[\#(sixteen)]}"#).status == 200)
            let series = String(repeating: "ż", count: 31) + "🙂"
            let put = try await client.call("PUT", "/v1/staff/cards/EDGE-0005", token: h.staff, body: #"""
                {"uid":"04:a2:24:1a:7b:5c:80:01:02:03","technology":"ntag216","series":"\#(series)","status":"active","valid_from":"2025-01-01","valid_until":"2025-01-01","person_id":"edge_person-1"}
                """#)
            #expect(put.status == 200, "\(put.json)")

            var cards: [CardView] = []
            var after: Int64 = 0
            while true {
                let page = try await client.call("GET", "/v1/registry/changes?after=\(after)&limit=3", token: h.kioskA)
                #expect(page.status == 200)
                let decoded = try JSONDecoder().decode(ChangePage.self, from: Data(page.body.readableBytesView))
                cards += decoded.changes.compactMap(\.card)
                after = decoded.nextAfter
                if !decoded.hasMore { break }
            }
            #expect(Set(cards.map(\.number)).isSuperset(of: ["EDGE0001", "EDGE0002", "EDGE0003", "EDGE0004", "EDGE0005"]))
            #expect(cards.contains { $0.holderDisplayName == first61 + " K." })
            #expect(cards.contains { $0.uid?.count == 20 && $0.series == series && $0.entitlements.count == 16 })
            for card in cards {
                #expect(throws: Never.self, "\(card.number)") { try card.checkPublishable() }
            }

            var snapshot = try await client.call("GET", "/v1/registry/snapshot", token: h.kioskA)
            #expect(snapshot.status == 200)
            let plain = try snapshot.body.decompress(with: .gzip())
            let lines = String(buffer: plain).split(separator: "\n").dropFirst()
            #expect(lines.count == 6)
            for line in lines {
                let card = try JSONDecoder().decode(CardView.self, from: Data(line.utf8))
                #expect(throws: Never.self, "\(card.number)") { try card.checkPublishable() }
            }
        }
    }
}
