import Foundation
import KioskTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kioskd` and `kioskctl` as a person runs them: real processes, real files, real HTTP.
@Suite("kioskd and kioskctl as processes", .serialized, .spawnsProcesses)
struct KioskdProcessTests {
    @Test("import a registry, then every status and entitlement gets the right verdict over POST /api/v1/check")
    func verdictsOverHTTP() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let csv = try dir.write("registry.csv", registryCSV())
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stdout.contains("imported 13 card(s)"))

        let kioskd = try KioskdProcess(state: state)
        let addr = try await kioskd.waitUntilListening()
        let expected: [(String, String, [String])] = [
            ("SKS-0001", "valid", ["senior60"]),
            ("kdr 1001", "valid", ["large_family"]),
            ("KDR-1003", "valid", ["large_family"]),
            ("KDR-1004", "expired", []),
            ("KDR-1005", "valid", ["disability"]),
            ("KDR-2003", "not_yet_valid", []),
            ("USM-3001", "valid", ["disability"]),
            ("USM-3003", "suspended", []),
            ("SKS-0006", "lost", []),
            ("SKS-0007", "revoked", []),
            ("SKS-0008", "valid", ["senior60"]),
            ("CUS-0001", "valid", ["staff"]),
            ("NIE-ZNAM-1", "unknown", []),
        ]
        for (number, verdict, kinds) in expected {
            let r = try await http("POST", "http://\(addr)/api/v1/check", body: "{\"number\":\"\(number)\"}")
            #expect(r.status == 200)
            let json = try #require(r.json)
            #expect(json["verdict"] as? String == verdict, "\(number)")
            let got = (json["entitlements"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
            #expect(got == kinds, "\(number)")
            #expect((json["session"] != nil) == (verdict == "valid"), "\(number)")
            #expect(json["type"] as? String == "check")
        }
        // The last day is today: 0 days to expiry, still valid.
        let lastDay = try #require(try await http("POST", "http://\(addr)/api/v1/check", body: "{\"number\":\"USM-3001\"}").json)
        #expect(lastDay["days_to_expiry"] as? Int == 0)

        let status = try #require(try await http("GET", "http://\(addr)/api/v1/status").json)
        #expect((status["replica"] as? [String: Any])?["cards"] as? Int == 13)
        #expect((status["reader"] as? [String: Any])?["state"] as? String == "absent")
        #expect((status["outbox"] as? [String: Any])?["pending"] as? Int == 0)
        #expect(status["version"] as? String != nil)

        #expect(try await kioskd.terminate() == 0)
        // Privacy: neither names nor full card numbers reach the log.
        let log = kioskd.log
        #expect(log.contains("card checked"))
        for secret in ["Halina", "Wójcik", "Dąbrowska", "SKS0001", "KDR1001", "04A1102233448"] {
            #expect(!log.contains(secret), "log leaks \(secret)")
        }
    }

    @Test("no config file: kioskd runs on defaults and serves manual checks with reader absent; SIGTERM stops it cleanly")
    func defaultsAndSigterm() async throws {
        let dir = TempDir()
        let kioskd = try KioskdProcess(state: dir.file("state"))
        let addr = try await kioskd.waitUntilListening()
        let r = try await http("POST", "http://\(addr)/api/v1/check", body: "{\"number\":\"1234 5678\"}")
        #expect(r.json?["verdict"] as? String == "unknown")
        let sse = try SSEReader(port: Int(addr.split(separator: ":").last ?? "") ?? 0, path: "/api/v1/events")
        _ = try await sse.read(until: ": connected")
        #expect(try await kioskd.terminate() == 0)
        #expect(await sse.isClosed())
        #expect(kioskd.log.contains("kioskd stopped"))
    }

    @Test("a bad config file stops kioskd with a message naming the file, the key and the problem")
    func badConfig() async throws {
        let dir = TempDir()
        let path = try dir.write("kiosk.toml", "[http]\naddr = \"127.0.0.1:99999\"\n")
        let r = try await run(binary("kioskd"), ["--config", path], environment: ["KIOSK_STATE_DIR": dir.file("state")])
        #expect(r.status == 78)
        #expect(r.stderr.contains(path))
        #expect(r.stderr.contains("http.addr"))
        #expect(r.stderr.contains("65535"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("state/replica.sqlite")))
    }

    @Test("a replica file that is not a database stops kioskd and is left as it was")
    func refusesGarbageReplica() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try garbage.write(to: URL(fileURLWithPath: state + "/replica.sqlite"))
        let r = try await run(binary("kioskd"), [], environment: ["KIOSK_STATE_DIR": state, "KIOSK_HTTP_ADDR": "127.0.0.1:0", "KIOSK_NFC_DEVICE": "none"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("not an SQLite database"))
        #expect(r.stderr.contains("move the file aside"))
        #expect(FileManager.default.contents(atPath: state + "/replica.sqlite") == garbage)
        #expect(!FileManager.default.fileExists(atPath: state + "/http.addr"))
    }

    @Test("a replica damaged in the middle: kioskd stops with a message once its integrity check finds it, and the file is left as it was")
    func stopsOnDamagedReplica() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        var csv = "card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status\n"
        for i in 0..<20_000 { csv += "SKS-\(100_000 + i),,senior60,,Jan,Kowalski,2022-01-01,,active\n" }
        let imported = try await run(binary("kioskctl"), ["replica", "import", try dir.write("big.csv", csv)], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0, "\(imported.stderr)")
        let path = state + "/replica.sqlite"
        #expect(((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0) == 0)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        let middle = bytes.count / 2 / 4096 * 4096
        for i in middle..<(middle + 8192) { bytes[i] = 0xA5 }
        try bytes.write(to: URL(fileURLWithPath: path))

        // A kioskd that does not stop by itself is killed by timeout (exit 124) and fails the test.
        let r = try await run("/usr/bin/timeout", ["60", binary("kioskd")], environment: [
            "KIOSK_STATE_DIR": state, "KIOSK_HTTP_ADDR": "127.0.0.1:0", "KIOSK_NFC_DEVICE": "none",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("is corrupt"))
        #expect(r.stderr.contains("move the file aside"))
        #expect(FileManager.default.contents(atPath: path) == bytes)
    }

    @Test("kioskctl replica import reports bad rows with line numbers, imports the good ones, and says so in its exit code")
    func importErrors() async throws {
        let dir = TempDir()
        let csv = try dir.write("bad.csv", """
            card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status
            SKS-1,,senior60,,Jan,Kowalski,2022-01-01,,active
            SKS-2,,senior60,,Jan,Kowalski,2022-13-01,,active
            SKS-3,,large_family,grandparent,Ola,Nowak,2022-01-01,,active
            """)
        let r = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": dir.file("state")])
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.csv:3: refused: valid_from"))
        #expect(r.stderr.contains("bad.csv:4: refused: role"))
        #expect(r.stdout.contains("imported 1 card(s)"))
        let check = try await run(binary("kioskctl"), ["check", "sks-1", "--json"], environment: ["KIOSK_STATE_DIR": dir.file("state")])
        #expect(check.status == 0)
        #expect(check.stdout.contains("\"verdict\":\"valid\""))
        let missing = try await run(binary("kioskctl"), ["check", "SKS-2"], environment: ["KIOSK_STATE_DIR": dir.file("state")])
        #expect(missing.status == 2)
        let stats = try await run(binary("kioskctl"), ["replica", "stats", "--json"], environment: ["KIOSK_STATE_DIR": dir.file("state")])
        #expect(stats.stdout.contains("\"cards\" : 1"))
        let unreadable = try await run(binary("kioskctl"), ["replica", "import", dir.file("nope.csv")], environment: ["KIOSK_STATE_DIR": dir.file("state")])
        #expect(unreadable.status == 65)
    }

    @Test("kioskctl status asks the running kioskd")
    func ctlStatus() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let kioskd = try KioskdProcess(state: state)
        _ = try await kioskd.waitUntilListening()
        let r = try await run(binary("kioskctl"), ["status"], environment: ["KIOSK_STATE_DIR": state])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"reader\""))
        _ = try await kioskd.terminate()
        let down = try await run(binary("kioskctl"), ["status"], environment: ["KIOSK_STATE_DIR": state])
        #expect(down.status == 1)
        #expect(down.stderr.contains("not answering"))
    }
}
