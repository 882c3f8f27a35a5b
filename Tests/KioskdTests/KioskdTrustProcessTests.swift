import Foundation
import KioskTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The trust promises of a running `kioskd`, observed from outside: on disk, in its answers, in
/// its system calls.
@Suite("kioskd trust, observed as a process", .serialized, .spawnsProcesses)
struct KioskdTrustProcessTests {
    @Test("the state directory is 0700 and every file in it 0600, whatever the umask")
    func stateFileModes() async throws {
        let dir = TempDir()
        let state = dir.file("deep/state")
        let csv = try dir.write("registry.csv", registryCSV())
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(StateFilesMode.of(state) == 0o700)

        let kioskd = try KioskdProcess(state: state)
        let addr = try await kioskd.waitUntilListening()
        let event = try #require(try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"SKS-0001"}"#).json)
        let session = try #require(event["session"] as? String)
        let made = try await http("POST", "http://\(addr)/api/v1/requests", body: #"{"session":"\#(session)","service":"psychologist"}"#)
        #expect(made.status == 201)
        _ = try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"ZZZ-0009"}"#)

        #expect(StateFilesMode.of(state) == 0o700)
        let files = try FileManager.default.contentsOfDirectory(atPath: state)
        for name in ["replica.sqlite", "outbox.sqlite", "outbox.sqlite-wal", "number-entry.json", "http.addr"] {
            #expect(files.contains(name), "\(name) missing: \(files)")
        }
        for name in files {
            #expect(StateFilesMode.of(state + "/" + name) == 0o600, "\(name) has mode \(String(StateFilesMode.of(state + "/" + name) ?? 0, radix: 8))")
        }
        #expect(try await kioskd.terminate() == 0)
    }

    @Test("a non-loopback address is refused, unless http.allow_remote is set with a token that every route then wants")
    func localAPIStaysLocal() async throws {
        let dir = TempDir()
        let refused = try await run(binary("kioskd"), [], environment: [
            "KIOSK_STATE_DIR": dir.file("a"), "KIOSK_HTTP_ADDR": "0.0.0.0:0", "KIOSK_NFC_DEVICE": "none",
        ])
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("allow_remote"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("a/http.addr")))

        let noToken = try dir.write("open.toml", "[http]\naddr = \"0.0.0.0:0\"\nallow_remote = true\n")
        let refusedAgain = try await run(binary("kioskd"), ["--config", noToken], environment: ["KIOSK_STATE_DIR": dir.file("b"), "KIOSK_NFC_DEVICE": "none"])
        #expect(refusedAgain.status == 78)
        #expect(refusedAgain.stderr.contains("http.token"))

        let tokenFile = try dir.write("http.token", "a-long-enough-secret-token\n")
        chmod(tokenFile, 0o600)
        let config = try dir.write("remote.toml", "[http]\naddr = \"0.0.0.0:0\"\nallow_remote = true\ntoken_file = \"\(tokenFile)\"\n")
        let kioskd = try KioskdProcess(state: dir.file("c"), arguments: ["--config", config], environment: ["KIOSK_HTTP_ADDR": ""])
        let addr = try await kioskd.waitUntilListening()
        let port = addr.split(separator: ":").last.map(String.init) ?? ""
        #expect(try await rawHTTP("GET", port: Int(port) ?? 0, path: "/api/v1/status").status == 401)
        #expect(try await rawHTTP("GET", port: Int(port) ?? 0, path: "/").status == 401)
        let ok = try await http("GET", "http://127.0.0.1:\(port)/api/v1/status", headers: ["Authorization": "Bearer a-long-enough-secret-token"])
        #expect(ok.status == 200)
        // kioskctl on the kiosk itself sends the token from the same configuration.
        let ctl = try await run(binary("kioskctl"), ["status", "--config", config], environment: ["KIOSK_STATE_DIR": dir.file("c")])
        #expect(ctl.status == 0, "\(ctl.stderr)")
        #expect(try await kioskd.terminate() == 0)
    }

    @Test("without Europe/Warsaw in the system's time zone data kioskd stops with what to do, instead of guessing UTC+1")
    func missingTimeZoneData() async throws {
        let dir = TempDir()
        let r = try await run(binary("kioskd"), [], environment: [
            "KIOSK_STATE_DIR": dir.file("state"), "KIOSK_HTTP_ADDR": "127.0.0.1:0", "KIOSK_NFC_DEVICE": "none",
            "TZDIR": dir.file("no-zoneinfo"),
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("Europe/Warsaw") && r.stderr.contains("tzdata"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("state/http.addr")))
    }

    @Test("a trusted-keys file that other users can change stops kioskd with what to do")
    func trustedKeysWritableByOthers() async throws {
        let dir = TempDir()
        let keys = try dir.write("trusted-keys", "# no keys\n")
        chmod(keys, 0o666)
        let r = try await run(binary("kioskd"), [], environment: [
            "KIOSK_STATE_DIR": dir.file("state"), "KIOSK_HTTP_ADDR": "127.0.0.1:0",
            "KIOSK_NFC_DEVICE": "pn532_uart:" + dir.file("no-such-tty"), "KIOSK_TRUSTED_KEYS": keys,
        ])
        #expect(r.status != 0)
        #expect(r.stderr.contains("chmod go-w"), "\(r.stderr)")
    }

    @Test("a plain http:// central with a token is warned about at start and in the status")
    func plainHTTPCentralWarned() async throws {
        let dir = TempDir()
        let kioskd = try KioskdProcess(state: dir.file("state"), environment: [
            "KIOSK_CENTRAL_URL": "http://127.0.0.1:9/", "KIOSK_CENTRAL_TOKEN": "kiosk-token",
        ])
        let addr = try await kioskd.waitUntilListening()
        let central = try #require(try await http("GET", "http://\(addr)/api/v1/status").json?["central"] as? [String: Any])
        let warnings = try #require(central["warnings"] as? [String])
        #expect(warnings.first?.contains("http://") == true)
        #expect(kioskd.log.contains("plain http://"))
        _ = try await kioskd.terminate()
    }

    @Test("an outbox that cannot be read shows as an error in the status, never as 0 pending")
    func outboxReadFailureIsShown() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let kioskd = try KioskdProcess(state: state)
        let addr = try await kioskd.waitUntilListening()
        let healthy = try await http("GET", "http://\(addr)/api/v1/status").json?["outbox"] as? [String: Any]
        #expect(healthy?["pending"] as? Int == 0)
        let broken = try await run("/usr/bin/sqlite3", [state + "/outbox.sqlite", "DROP TABLE request"])
        #expect(broken.status == 0, "\(broken.stderr)")
        let outbox = try #require(try await http("GET", "http://\(addr)/api/v1/status").json?["outbox"] as? [String: Any])
        #expect(outbox["pending"] == nil)
        #expect((outbox["error"] as? String)?.isEmpty == false)
        _ = try await kioskd.terminate()
    }

    @Test("SIGTERM while a sync waits on a central that never answers stops kioskd within seconds")
    func shutdownCancelsSync() async throws {
        let dir = TempDir()
        // A central that accepts connections (the kernel does, from the backlog) and never answers.
        let (silent, port) = try boundLoopbackSocket()
        defer { close(silent) }
        #expect(listen(silent, 16) == 0)

        let kioskd = try KioskdProcess(state: dir.file("state"), environment: [
            "KIOSK_CENTRAL_URL": "http://127.0.0.1:\(port)/", "KIOSK_CENTRAL_TOKEN": "kiosk-token",
        ])
        _ = try await kioskd.waitUntilListening()
        try await Task.sleep(for: .seconds(1))  // the first sync is under way, waiting for an answer
        let started = ContinuousClock.now
        #expect(try await kioskd.terminate(timeout: .seconds(12)) == 0)
        #expect(ContinuousClock.now - started < .seconds(5), "shutdown took \(ContinuousClock.now - started)")
    }

    @Test("an acknowledged request is fsynced to the outbox's WAL before the 201 goes out (observed with strace)")
    func requestIsOnDiskBeforeTheAnswer() async throws {
        let strace = "/usr/bin/strace"
        try #require(FileManager.default.isExecutableFile(atPath: strace), "strace is needed (apt-get install strace; .ci/setup installs it)")
        let dir = TempDir()
        let state = dir.file("state")
        let csv = try dir.write("registry.csv", registryCSV())
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0)
        let trace = dir.file("trace.txt")
        let kioskd = try KioskdProcess(state: state, launcher: (strace, ["-f", "-y", "-e", "trace=fsync,fdatasync", "-o", trace]))
        let addr = try await kioskd.waitUntilListening()
        func walSyncs() -> Int {
            let text = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains("outbox.sqlite-wal>") && !$0.contains("unfinished") }.count
        }
        let typed = try #require(try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"SKS-0001"}"#).json)
        let session = try #require(typed["session"] as? String)
        // strace writes each line when the call returns, so a sync made before the answer is in the file by now.
        let before = walSyncs()
        let made = try await http("POST", "http://\(addr)/api/v1/requests", body: #"{"session":"\#(session)","service":"psychologist"}"#)
        #expect(made.status == 201)
        #expect(walSyncs() > before, "no fsync of outbox.sqlite-wal before the 201")
        // SIGTERM to kioskd itself (strace would only detach from it); strace ends with it.
        let tracer = kioskd.process.processIdentifier
        let children = (try? String(contentsOfFile: "/proc/\(tracer)/task/\(tracer)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGTERM) }
        _ = try await kioskd.terminate()
    }
}
