import Foundation
import KioskTestSupport
import PN532Emulator
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kioskctl doctor` run as a real process against real state: a replica made by `kioskctl replica
/// import`, a reader on the emulated PN532 through the real libnfc, a real `kioskd`, and faults
/// planted one at a time (a fake `/proc` through the `KIOSK_DOCTOR_PROC_ROOT` test seam).
@Suite("kioskctl doctor finds each planted fault", .serialized, .spawnsProcesses)
struct DoctorTests {
    @Test("a healthy kiosk (reader on the emulator, imported replica, kioskd stopped): exit 0, every check ok or a warning")
    func healthy() async throws {
        let scene = try DoctorScene()
        let emulator = try scene.emulator()
        defer { emulator.stop() }
        let config = try await scene.prepare(reader: emulator.connstring)

        let result = try await scene.doctor(config)
        #expect(result.status == 0, "\(result.text)")
        #expect(result.fit == true)
        #expect(result.text.contains("Kiosk gotowy do pracy"))
        #expect(!result.text.contains("PROBLEM"))
        for id in ["config.load", "reader.present", "reader.driver", "reader.kernel_modules", "reader.pcscd", "reader.permissions",
                   "clock.timezone", "clock.plausible", "state.permissions", "replica.integrity", "replica.data", "outbox.integrity",
                   "central.configured"] {
            #expect(result.status(of: id) == "ok", "\(id): \(result.text)")
        }
        #expect(result.detail(of: "reader.driver")?["driver"] == "pn532_uart")
        #expect(result.detail(of: "reader.present")?["source"] == "probe")
        #expect(result.detail(of: "replica.data")?["cards"] == "3")
        // kioskd is not running: a warning, not unfit.
        #expect(result.status(of: "kioskd.running") == "warning")
        #expect(result.status(of: "central.dns") == "skipped")
        // The ids docs/operations.md promises, each once, in order.
        let ids = (result.json["checks"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids == DoctorRun.documentedIDs)
    }

    @Test("a healthy kiosk with kioskd running: the reader's state comes from kioskd (which holds the device), exit 0")
    func healthyWhileKioskdRuns() async throws {
        let scene = try DoctorScene()
        let emulator = try scene.emulator()
        defer { emulator.stop() }
        let config = try await scene.prepare(reader: emulator.connstring)
        let kioskd = try KioskdProcess(state: scene.state, environment: ["KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0"])
        _ = try await kioskd.waitUntilListening()
        // Until kioskd's reader is ready, the text and JSON runs may see it in different states.
        var result = DoctorRun(status: -1, text: "", json: [:])
        try await eventually("kioskd reports the reader ready", timeout: .seconds(30)) {
            guard let run = try? await scene.doctor(config) else { return false }
            result = run
            return result.status(of: "reader.present") == "ok"
        }
        #expect(result.status == 0, "\(result.text)")
        #expect(result.status(of: "kioskd.running") == "ok")
        #expect(result.detail(of: "reader.present")?["source"] == "kioskd")
        #expect(result.status(of: "reader.permissions") == "ok")
        #expect(result.status(of: "replica.integrity") == "ok", "read-only quick_check while kioskd has the replica open")
        #expect(result.status(of: "outbox.integrity") == "ok")
        #expect(try await kioskd.terminate() == 0)
    }

    @Test("a config file with an unknown key: config.load is a problem, exit 1, with the line and what to do")
    func badConfig() async throws {
        let scene = try DoctorScene()
        let config = try scene.dir.write("bad.toml", "state_dir = \"\(scene.state)\"\n[nfc]\ndevise = \"pn532_uart:/dev/ttyUSB0\"\n")
        let result = try await scene.doctor(config)
        #expect(result.status == 1, "\(result.text)")
        #expect(result.fit == false)
        #expect(result.status(of: "config.load") == "problem")
        #expect(result.line("config.load")?.hasPrefix("PROBLEM") == true)
        #expect(result.line("config.load")?.contains("line 3") == true, "\(result.text)")
        #expect(result.line("config.load")?.contains("Co zrobić:") == true)
        // What needs the configuration is skipped, not guessed; every id is still there.
        #expect(result.status(of: "replica.integrity") == "skipped")
        #expect((result.json["checks"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } == DoctorRun.documentedIDs)
    }

    @Test("a corrupted replica (bytes overwritten in the middle of the file): replica.integrity is a problem, exit 1")
    func corruptedReplica() async throws {
        let scene = try DoctorScene()
        let config = try await scene.prepare(reader: nil, cards: 3_000)
        let path = scene.state + "/replica.sqlite"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal") || ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0) == 0)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(size / 2 / 4096 * 4096))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 8192))
        try handle.close()

        let result = try await scene.doctor(config)
        #expect(result.status == 1, "\(result.text)")
        #expect(result.status(of: "replica.integrity") == "problem", "\(result.text)")
        #expect(result.line("replica.integrity")?.contains("uszkodzona") == true)
        #expect(result.status(of: "config.load") == "ok")
    }

    @Test("a reader configured that is not there (pn532_uart:/dev/nonexistent): reader.present is a problem, exit 1")
    func readerMissing() async throws {
        let scene = try DoctorScene()
        let config = try await scene.prepare(reader: "pn532_uart:/dev/nonexistent")
        let result = try await scene.doctor(config)
        #expect(result.status == 1, "\(result.text)")
        #expect(result.status(of: "reader.present") == "problem")
        #expect(result.line("reader.present")?.contains("/dev/nonexistent") == true)
        #expect(result.status(of: "reader.driver") == "ok")
    }

    @Test("kernel NFC modules and pcscd planted in a fake /proc: named, a warning beside a working serial reader, a problem for a USB reader")
    func modulesAndPcscd() async throws {
        let scene = try DoctorScene()
        try scene.plantKernelModulesAndPcscd()
        let emulator = try scene.emulator()
        defer { emulator.stop() }

        let serial = try await scene.doctor(try await scene.prepare(reader: emulator.connstring))
        #expect(serial.status == 0, "\(serial.text)")
        #expect(serial.status(of: "reader.kernel_modules") == "warning")
        #expect(serial.detail(of: "reader.kernel_modules")?["modules"] == "pn533_usb, pn533, nfc")
        #expect(serial.status(of: "reader.pcscd") == "warning")
        #expect(serial.detail(of: "reader.pcscd")?["pids"] == "4242")

        let usb = try await scene.doctor(try await scene.prepare(reader: "acr122_usb:001:099"))
        #expect(usb.status == 1, "\(usb.text)")
        #expect(usb.status(of: "reader.kernel_modules") == "problem")
        #expect(usb.line("reader.kernel_modules")?.contains("modprobe -r pn533_usb") == true)
        #expect(usb.status(of: "reader.pcscd") == "problem")
        #expect(usb.line("reader.pcscd")?.contains("systemctl disable --now pcscd") == true)
    }

    @Test("a state directory others can enter (0777): state.permissions is a problem, exit 1")
    func openStateDirectory() async throws {
        let scene = try DoctorScene()
        let config = try await scene.prepare(reader: nil)
        #expect(chmod(scene.state, 0o777) == 0)
        let result = try await scene.doctor(config)
        #expect(result.status == 1, "\(result.text)")
        #expect(result.status(of: "state.permissions") == "problem")
        #expect(result.line("state.permissions")?.contains("chmod 0700") == true)
    }

    @Test("a replica too large for a full registry download to fit beside it: state.free_space warns with the space it needs")
    func roomForABootstrap() async throws {
        let scene = try DoctorScene()
        let config = try await scene.prepare(reader: nil)
        var info = statvfs()
        #expect(statvfs(scene.state, &info) == 0)
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        // A stand-in as large as the free space and 1 GiB more, sparse (it takes no room); not a database, so
        // the replica checks refuse it at its first bytes.
        let path = scene.state + "/replica.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]))
        let size = free + (1 << 30)
        #expect(truncate(path, off_t(size)) == 0)

        let result = try await scene.doctor(config)
        #expect(result.status(of: "state.free_space") == "warning", "\(result.text)")
        #expect(result.detail(of: "state.free_space")?["advised_bytes"] == "\(2 * size + 100 * 1024 * 1024)")
        #expect(result.line("state.free_space")?.contains("dwie kolejne kopie repliki") == true, "\(result.text)")
    }

    @Test("--lang en and LANG=en_GB: the report in English; JSON carries both languages")
    func english() async throws {
        let scene = try DoctorScene()
        let config = try await scene.prepare(reader: "pn532_uart:/dev/nonexistent")
        let byFlag = try await scene.doctor(config, arguments: ["--lang", "en"])
        #expect(byFlag.line("reader.present")?.contains("The configured reader is not there") == true, "\(byFlag.text)")
        #expect(byFlag.text.contains("NOT fit to serve"))
        let byLocale = try await scene.doctor(config, environment: ["LANG": "en_GB.UTF-8"])
        #expect(byLocale.text.contains("NOT fit to serve"))
        let message = byFlag.check("reader.present")?["message"] as? [String: Any]
        #expect((message?["pl"] as? String)?.contains("Skonfigurowanego czytnika nie ma") == true)
        #expect((message?["en"] as? String)?.contains("The configured reader is not there") == true)
        #expect(byFlag.check("reader.present")?["fix"] is [String: Any])
    }
}

/// A scratch kiosk for the doctor: a state dir, a config file, and an empty fake `/proc` and `/sys`
/// (so the machine's own modules or pcscd cannot change the outcome).
final class DoctorScene {
    let dir = TempDir(prefix: "doctor")
    var state: String { dir.file("state") }
    var proc: String { dir.file("proc") }
    var sys: String { dir.file("sys") }

    init() throws {
        try FileManager.default.createDirectory(atPath: proc, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sys, withIntermediateDirectories: true)
        _ = try dir.write("proc/modules", "ext4 1081344 1 - Live 0x0000000000000000\n")
    }

    func emulator() throws -> PN532Emulator {
        let emulator = try PN532Emulator(linkPath: dir.file("pn532"))
        emulator.start()
        return emulator
    }

    /// Kernel modules that grab USB readers, and a running pcscd, in the fake `/proc`.
    func plantKernelModulesAndPcscd() throws {
        _ = try dir.write("proc/modules", """
            pn533_usb 20480 0 - Live 0x0000000000000000
            pn533 45056 1 pn533_usb, Live 0x0000000000000000
            nfc 135168 2 pn533, Live 0x0000000000000000
            ext4 1081344 1 - Live 0x0000000000000000

            """)
        try FileManager.default.createDirectory(atPath: proc + "/4242", withIntermediateDirectories: true)
        _ = try dir.write("proc/4242/comm", "pcscd\n")
        try FileManager.default.createDirectory(atPath: proc + "/4243", withIntermediateDirectories: true)
        _ = try dir.write("proc/4243/comm", "bash\n")
    }

    /// Writes a config for `reader` (nil: reader off) and imports a registry of `cards` cards with `kioskctl replica import`.
    func prepare(reader: String?, cards: Int = 3, extra: String = "") async throws -> String {
        let nfc = reader.map { "device = \"\($0)\"" } ?? "enabled = false"
        let config = try dir.write("kiosk-\(UUID().uuidString.prefix(6)).toml", """
            state_dir = "\(state)"
            [http]
            addr = "127.0.0.1:\(try freePort())"
            [nfc]
            \(nfc)
            \(extra)

            """)
        if !FileManager.default.fileExists(atPath: state + "/replica.sqlite") {
            var csv = "card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status\n"
            for i in 0..<cards { csv += String(format: "SKS-%05d;;senior60;;Jan;Kowalski;2020-01-01;;active\n", i) }
            let file = try dir.write("registry.csv", csv)
            let imported = try await run(binary("kioskctl"), ["replica", "import", "--config", config, file])
            guard imported.status == 0 else { throw TestFailure("replica import failed: \(imported.stderr)") }
        }
        return config
    }

    /// Runs `kioskctl doctor` twice (text, then `--json`) and checks both agree on the exit status.
    func doctor(_ config: String, arguments: [String] = [], environment: [String: String] = [:]) async throws -> DoctorRun {
        var env = ["KIOSK_DOCTOR_PROC_ROOT": proc, "KIOSK_DOCTOR_SYS_ROOT": sys, "LIBNFC_LOG_LEVEL": "0", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "pl_PL.UTF-8"]
        env.merge(environment) { $1 }
        let text = try await run(binary("kioskctl"), ["doctor", "--config", config] + arguments, environment: env)
        let json = try await run(binary("kioskctl"), ["doctor", "--config", config, "--json"] + arguments, environment: env)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        guard text.status == json.status else { throw TestFailure("text exit \(text.status) but --json exit \(json.status):\n\(text.stdout)\n\(json.stdout)") }
        return DoctorRun(status: text.status, text: text.stdout + text.stderr, json: object ?? [:])
    }
}

/// One doctor run: its exit status, the text report and the JSON one.
struct DoctorRun {
    var status: Int32
    var text: String
    var json: [String: Any]

    /// Every id a report carries, in order (`config.warning` aside, which comes once per warning).
    static let documentedIDs = [
        "config.load", "kioskd.running",
        "reader.present", "reader.driver", "reader.kernel_modules", "reader.pcscd", "reader.permissions",
        "clock.timezone", "clock.ntp", "clock.plausible",
        "state.permissions", "state.free_space", "replica.integrity", "replica.data", "outbox.integrity",
        "central.configured", "central.dns", "central.tcp", "central.tls", "central.token", "central.last_sync",
    ]

    var fit: Bool? { json["fit"] as? Bool }
    func check(_ id: String) -> [String: Any]? { (json["checks"] as? [[String: Any]])?.first { $0["id"] as? String == id } }
    func status(of id: String) -> String? { check(id)?["status"] as? String }
    func detail(of id: String) -> [String: String]? { check(id)?["detail"] as? [String: String] }
    /// The text line of finding `id`.
    func line(_ id: String) -> String? {
        text.split(separator: "\n").map(String.init).first { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) == id }
    }
}
