import Foundation
import KioskTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kioskctl doctor`'s central checks against a real `cus-central`: the token accepted or refused,
/// a host that does not resolve, a port nobody listens on.
@Suite("kioskctl doctor and the central", .serialized, .spawnsProcesses)
struct DoctorCentralTests {
    /// Runs `kioskctl doctor --json` (and the text form, which must agree on the exit status) for a
    /// kiosk with no reader and an empty fake `/proc`, pointed at `url` with `token`.
    func doctor(_ dir: TempDir, url: String, token: String?, extra: String = "") async throws -> (status: Int32, text: String, checks: [String: [String: Any]]) {
        let state = dir.file("state")
        let config = try dir.write("kiosk-\(UUID().uuidString.prefix(6)).toml", """
            state_dir = "\(state)"
            [nfc]
            enabled = false
            [central]
            url = "\(url)"
            \(token.map { "token = \"\($0)\"" } ?? "")
            \(extra)

            """)
        try FileManager.default.createDirectory(atPath: dir.file("proc"), withIntermediateDirectories: true)
        let env = ["KIOSK_DOCTOR_PROC_ROOT": dir.file("proc"), "KIOSK_DOCTOR_SYS_ROOT": dir.file("proc"), "LANG": "en_GB.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""]
        let text = try await run(binary("kioskctl"), ["doctor", "--config", config], environment: env)
        let json = try await run(binary("kioskctl"), ["doctor", "--config", config, "--json"], environment: env)
        #expect(text.status == json.status, "\(text.stdout)\n\(json.stdout)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        var checks: [String: [String: Any]] = [:]
        for check in object?["checks"] as? [[String: Any]] ?? [] {
            if let id = check["id"] as? String, checks[id] == nil { checks[id] = check }
        }
        #expect((object?["fit"] as? Bool) == (json.status == 0))
        return (text.status, text.stdout, checks)
    }

    @Test("a central that accepts the token: every central check ok and exit 0; one that refuses it: central.token is a problem, exit 1")
    func tokenAcceptedAndRefused() async throws {
        let dir = TempDir(prefix: "doctor-central")
        let central = CentralProcess(dir: dir)
        let token = try await central.enrolKiosk("doctor-1")
        try await central.importRegistry(registryCSV())
        try await central.start()

        // Synced once by a real kioskd, so the last sync is known.
        let kiosk = try Kiosk(state: dir.file("state"), central: central.url, token: token)
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK()
        kiosk.terminate()

        let good = try await doctor(dir, url: central.url, token: token)
        #expect(good.status == 0, "\(good.text)")
        for id in ["central.configured", "central.dns", "central.tcp", "central.token", "central.last_sync", "clock.plausible"] {
            #expect(good.checks[id]?["status"] as? String == "ok", "\(id): \(good.text)")
        }
        #expect(good.checks["central.tls"]?["status"] as? String == "skipped", "plain http: no TLS to check")
        #expect((good.checks["clock.plausible"]?["detail"] as? [String: String])?["central_date"] != nil, "the central's Date header was read")
        #expect(good.checks["config.warning"]?["status"] as? String == "warning", "a token over plain http:// is warned about")

        let refused = try await doctor(dir, url: central.url, token: "not-a-real-token-0000000000")
        #expect(refused.status == 1, "\(refused.text)")
        #expect(refused.checks["central.token"]?["status"] as? String == "problem")
        #expect(refused.text.contains("refuses the kiosk's token (HTTP 401)"))
        #expect(refused.checks["central.tcp"]?["status"] as? String == "ok")
        central.stop()
    }

    @Test("a central whose host does not resolve: central.dns is a problem, the later steps skipped, exit 1")
    func hostDoesNotResolve() async throws {
        let dir = TempDir(prefix: "doctor-central")
        let result = try await doctor(dir, url: "http://cus-central.doctor-test.invalid:8080", token: "some-kiosk-token-000000")
        #expect(result.status == 1, "\(result.text)")
        #expect(result.checks["central.dns"]?["status"] as? String == "problem")
        #expect(result.checks["central.tcp"]?["status"] as? String == "skipped")
        #expect(result.checks["central.token"]?["status"] as? String == "skipped")
        #expect(Set(["central.tls", "central.last_sync"]).isSubset(of: result.checks.keys), "skipped steps are still reported")
    }

    @Test("a central whose port is closed: central.tcp is a problem, exit 1")
    func portClosed() async throws {
        let dir = TempDir(prefix: "doctor-central")
        let result = try await doctor(dir, url: "http://127.0.0.1:\(try freePort())", token: "some-kiosk-token-000000")
        #expect(result.status == 1, "\(result.text)")
        #expect(result.checks["central.dns"]?["status"] as? String == "ok")
        #expect(result.checks["central.tcp"]?["status"] as? String == "problem")
        #expect(result.text.contains("does not accept connections"))
    }

    @Test("an https central whose certificate the kiosk does not trust: central.tls is a problem; with central.ca_file naming its CA: ok")
    func tls() async throws {
        let dir = TempDir(prefix: "doctor-central")
        let made = try await run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-keyout", dir.file("key.pem"), "-out", dir.file("cert.pem"), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        // A TLS server that answers any HTTP request with 200: enough for the handshake and the certificate.
        let port = try freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", dir.file("cert.pem"), "-key", dir.file("key.pem"), "-www", "-quiet"]
        server.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        server.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try server.run()
        // SIGKILL: a child of the test process may inherit SIGTERM blocked.
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try await eventually("openssl s_server listening", timeout: .seconds(20)) {
            let fd = try connectTCP(port: port)
            close(fd)
            return true
        }

        let untrusted = try await doctor(dir, url: "https://127.0.0.1:\(port)", token: "some-kiosk-token-000000")
        #expect(untrusted.status == 1, "\(untrusted.text)")
        #expect(untrusted.checks["central.tcp"]?["status"] as? String == "ok")
        #expect(untrusted.checks["central.tls"]?["status"] as? String == "problem", "\(untrusted.text)")
        #expect(untrusted.text.contains("CERTIFICATE_VERIFY_FAILED"))
        #expect(untrusted.checks["central.token"]?["status"] as? String == "skipped")

        let trusted = try await doctor(dir, url: "https://127.0.0.1:\(port)", token: "some-kiosk-token-000000", extra: "ca_file = \"\(dir.file("cert.pem"))\"")
        #expect(trusted.checks["central.tls"]?["status"] as? String == "ok", "\(trusted.text)")
    }

    @Test("no central configured: fine (an outreach kiosk), the central checks skipped")
    func noCentral() async throws {
        let dir = TempDir(prefix: "doctor-central")
        let state = dir.file("state")
        let config = try dir.write("kiosk.toml", "state_dir = \"\(state)\"\n[nfc]\nenabled = false\n")
        try FileManager.default.createDirectory(atPath: dir.file("proc"), withIntermediateDirectories: true)
        let result = try await run(binary("kioskctl"), ["doctor", "--config", config, "--json"], environment: ["KIOSK_DOCTOR_PROC_ROOT": dir.file("proc")])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let checks = object?["checks"] as? [[String: Any]] ?? []
        #expect(checks.first { $0["id"] as? String == "central.configured" }?["status"] as? String == "ok")
        #expect(checks.first { $0["id"] as? String == "central.token" }?["status"] as? String == "skipped")
        #expect(!checks.contains { ($0["id"] as? String)?.hasPrefix("central.") == true && $0["status"] as? String == "problem" })
    }
}
