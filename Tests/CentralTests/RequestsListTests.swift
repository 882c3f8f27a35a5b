import CardModel
@testable import CentralStore
import CentralWire
import Foundation
import Testing

/// `cus-central requests list` pages through an inbox of any size.
@Suite("cus-central requests list paging")
struct RequestsListTests {
    @Test("requests list pages with --after and --limit (1 to 1000) and filters with --status over more than 500 requests", arguments: TestBackend.allCases)
    func pagesBeyondFiveHundred(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, _ in
            let store = try await openCentralStore(db, logger: testLogger)
            try await importSample(store)
            let token = try await store.enrol(.kiosk, name: "skalka-1")
            let kiosk = try #require(try await store.authenticate(token: token))
            var ids: [Int64] = []
            for batch in 0..<7 {
                let items = (0..<100).map { i in
                    RequestItem.validate(.object([
                        "idempotency_key": .string(uuid7()), "kiosk_seq": .number(Double(batch * 100 + i)),
                        "created_at": .string("2025-03-01T10:15:00Z"), "service": .string("psychologist"), "card_number": .string("SEN-0001"),
                    ]))
                }
                ids += try await store.submitRequests(items, from: kiosk).compactMap(\.requestID)
            }
            #expect(ids.count == 700)
            _ = try await store.setRequestStatus(id: ids[650], RequestStatusChange(status: .done))
            await store.close()

            func listed(_ arguments: [String]) async throws -> (ids: [Int64], stderr: String) {
                let r = try await cusCentral(["requests", "list", "--json", "--database", db] + arguments)
                #expect(r.status == 0, "\(r.stderr)")
                let json = try JSONDecoder().decode(JSONValue.self, from: Data(r.stdout.utf8))
                return ((json["requests"]?.array ?? []).compactMap { $0["id"]?.int }, r.stderr)
            }
            let first = try await listed([])
            #expect(first.ids == Array(ids.prefix(500)), "the default page is the oldest 500")
            #expect(first.stderr.contains("--after \(ids[499])"), "\(first.stderr)")
            let rest = try await listed(["--after", String(ids[499]), "--limit", "1000"])
            #expect(rest.ids == Array(ids.suffix(200)))
            #expect(rest.stderr.isEmpty, "a short page is the last: \(rest.stderr)")
            let all = try await listed(["--limit", "1000"])
            #expect(all.ids == ids)
            let done = try await listed(["--status", "done"])
            #expect(done.ids == [ids[650]])
            let pagedDone = try await listed(["--status", "received", "--after", String(ids[640]), "--limit", "20"])
            #expect(pagedDone.ids == Array(ids[641..<650] + ids[651..<662]))

            for bad in [["--limit", "0"], ["--limit", "1001"], ["--after", "-1"], ["--status", "lost"]] {
                let r = try await cusCentral(["requests", "list", "--database", db] + bad)
                #expect(r.status != 0, "\(bad)")
                #expect(r.stderr.contains("--"), "\(bad): \(r.stderr)")
            }
        }
    }
}
