import Foundation
import KioskTestSupport
import Outbox
import Testing

/// `kioskctl outbox` as staff run it, beside a running `kioskd`: quarantined requests keep their card
/// number and phone until a person re-queues or discards them.
@Suite("kioskctl outbox", .serialized, .spawnsProcesses)
struct OutboxCommandTests {
    @Test("list, show (masked unless --reveal), requeue and discard through the real binary while kioskd runs")
    func listShowRequeueDiscard() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let env = ["KIOSK_STATE_DIR": state]
        let none = try await run(binary("kioskctl"), ["outbox", "list"], environment: env)
        #expect(none.status == 1)
        #expect(none.stderr.contains("no outbox"))

        let csv = try dir.write("registry.csv", registryCSV())
        #expect(try await run(binary("kioskctl"), ["replica", "import", csv], environment: env).status == 0)
        let kioskd = try KioskdProcess(state: state)
        let addr = try await kioskd.waitUntilListening()
        func request(_ body: String) async throws -> [String: Any] {
            let r = try await http("POST", "http://\(addr)/api/v1/requests", body: body)
            #expect(r.status == 201, "\(String(decoding: r.body, as: UTF8.self))")
            return try #require(r.json?["request"] as? [String: Any])
        }
        let session = try #require(try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"SKS-0001"}"#).json?["session"] as? String)
        let held = try await request(#"{"session":"\#(session)","service":"psychologist","phone":"512 345 678","details":{"note":"po 15:00"}}"#)
        _ = try await request(#"{"session":"\#(session)","service":"community_organising"}"#)
        _ = try await request(#"{"callback":{"phone":"600 100 200"}}"#)
        let key = try #require(held["id"] as? String)
        let ticket = try #require(held["ticket"] as? String)

        // The central could not read it (as a sync would record): quarantined, number and phone kept.
        let outbox = try Outbox(path: state + "/outbox.sqlite")
        try outbox.quarantine(key: key, reason: "the central could not parse it")
        #expect(try outbox.item(key: key)?.cardNumber == "SKS0001")

        let list = try await run(binary("kioskctl"), ["outbox", "list"], environment: env)
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n")
        #expect(lines.count == 4)  // the header, the quarantined one first, two pending
        #expect(lines[1].contains(key) && lines[1].contains(ticket) && lines[1].contains("quarantined") && lines[1].contains("…0001"))
        #expect(lines[1].contains("could not parse"))
        #expect(list.stdout.contains("(call-back, no card)"))
        #expect(!list.stdout.contains("SKS0001") && !list.stdout.contains("512345678"))
        let json = try await run(binary("kioskctl"), ["outbox", "list", "--json"], environment: env)
        let listed = try #require((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["requests"] as? [[String: String]])
        #expect(listed.map { $0["state"] ?? "" } == ["quarantined", "pending", "pending"])
        #expect(listed.first?["card"] == "…0001" && listed.first?["ticket"] == ticket)

        let shown = try await run(binary("kioskctl"), ["outbox", "show", ticket.lowercased()], environment: env)
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains(key) && shown.stdout.contains("…0001") && shown.stdout.contains("po 15:00"))
        #expect(!shown.stdout.contains("SKS0001") && !shown.stdout.contains("512345678"))
        let revealed = try await run(binary("kioskctl"), ["outbox", "show", key, "--reveal", "--json"], environment: env)
        let everything = try #require(try JSONSerialization.jsonObject(with: Data(revealed.stdout.utf8)) as? [String: String])
        #expect(everything["card"] == "SKS0001" && everything["phone"] == "+48512345678" && everything["state"] == "quarantined")

        let requeued = try await run(binary("kioskctl"), ["outbox", "requeue", ticket], environment: env)
        #expect(requeued.status == 0, "\(requeued.stderr)")
        #expect(try outbox.item(key: key)?.state == .pending)
        #expect(try outbox.item(key: key)?.attempts == 0)
        // Only quarantined requests can be re-queued or discarded; an unknown one says so.
        #expect(try await run(binary("kioskctl"), ["outbox", "requeue", key], environment: env).status == 2)
        #expect(try await run(binary("kioskctl"), ["outbox", "discard", key], environment: env).status == 2)
        let unknown = try await run(binary("kioskctl"), ["outbox", "show", "ZZ-22222"], environment: env)
        #expect(unknown.status == 2 && unknown.stderr.contains("outbox list"))

        try outbox.quarantine(key: key, reason: "still not readable")
        let discarded = try await run(binary("kioskctl"), ["outbox", "discard", key], environment: env)
        #expect(discarded.status == 0, "\(discarded.stderr)")
        let after = try #require(try outbox.item(key: key))
        #expect(after.state == .discarded && after.cardNumber == nil && after.phone == nil)
        // The phone is gone from the files (the other pending requests never had this one).
        for file in ["outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm"] {
            let bytes = FileManager.default.contents(atPath: state + "/" + file) ?? Data()
            #expect(bytes.range(of: Data("512345678".utf8)) == nil, "\(file)")
        }
        // kioskd kept working beside it.
        #expect((try await http("GET", "http://\(addr)/api/v1/status").json?["outbox"] as? [String: Any])?["pending"] as? Int == 2)
        #expect(try await kioskd.terminate() == 0)
        #expect(!kioskd.log.contains("SKS0001") && !kioskd.log.contains("512345678"))
    }
}
