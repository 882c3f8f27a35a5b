import Foundation
import KioskTestSupport
import PN532Emulator
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The whole NFC path as it runs at a kiosk: `kioskctl card write` personalises a blank NTAG on the
/// emulated PN532 through the real libnfc, then `kioskd` reads taps through the real libnfc and
/// announces verdicts on its event stream.
@Suite("kioskd with a reader (real libnfc, emulated PN532)", .serialized, .spawnsProcesses)
struct KioskdNFCTests {
    /// A running emulator whose device path stays stable across vanish/return.
    static func emulator(_ dir: TempDir) throws -> PN532Emulator {
        let emulator = try PN532Emulator(linkPath: dir.file("pn532"))
        emulator.start()
        return emulator
    }

    @Test("issue a signed card, then tap it: valid offline; held = one tap; removed and re-presented = a new tap; forged copy = counterfeit")
    func issueAndTap() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let emulator = try Self.emulator(dir)
        defer { emulator.stop() }

        // Issuance at the desk: a key pair, then a blank NTAG215 personalised for a child's KDR card.
        let keygen = try await run(binary("kioskctl"), ["card", "keygen", "--key-id", "7", "--private-key", dir.file("issuer.key"), "--public-key", dir.file("trusted.pub")])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        try emulator.place(EmulatedCard(kind: .ntag215, uid: "04:11:22:33:44:55:66"))
        let write = try await run(binary("kioskctl"), [
            "card", "write", "KDR-7001-2026", "--entitlement", "large_family", "--role", "child", "--valid-until", warsawDay(800),
            "--key-file", dir.file("issuer.key"), "--device", emulator.connstring, "--wait", "5",
        ], environment: ["KIOSK_STATE_DIR": state, "LIBNFC_LOG_LEVEL": "0"])
        #expect(write.status == 0, "\(write.stderr)")
        #expect(write.stdout.contains("written: card …2026 on ntag215"))
        let memory = try #require(emulator.cardMemory())
        emulator.removeCard()

        // The same record copied byte for byte onto another chip.
        let pages = stride(from: 0, to: memory.count, by: 4).map { i in memory[i..<min(i + 4, memory.count)].map { String(format: "%02X", $0) }.joined() }
        var clonedPages = pages
        clonedPages[0] = "04AABB" + String(format: "%02X", 0x88 ^ 0x04 ^ 0xAA ^ 0xBB)
        clonedPages[1] = "CCDDEEFF"
        clonedPages[2] = String(format: "%02X", 0xCC ^ 0xDD ^ 0xEE ^ 0xFF) + String(pages[2].dropFirst(2))

        let kioskd = try KioskdProcess(state: state, environment: [
            "KIOSK_NFC_DEVICE": emulator.connstring, "KIOSK_TRUSTED_KEYS": dir.file("trusted.pub"), "LIBNFC_LOG_LEVEL": "0",
        ])
        let addr = try await kioskd.waitUntilListening()
        try await waitForReader(addr, state: "ready")
        let sse = try SSEReader(port: Int(addr.split(separator: ":").last ?? "") ?? 0, path: "/api/v1/events")
        _ = try await sse.read(until: ": connected")

        try emulator.place(EmulatedCard(kind: .ntag215, uid: "04:11:22:33:44:55:66", pages: pages))
        _ = try await sse.read(until: "event: tap")
        let tap = try #require(sse.lastEvent())
        #expect(tap["verdict"] as? String == "valid")
        #expect(tap["accepted_offline"] as? Bool == true)
        #expect(tap["assurance"] as? String == "high")
        #expect((tap["card"] as? [String: Any])?["masked"] as? String == "…2026")
        #expect((tap["card"] as? [String: Any])?["technology"] as? String == "ntag215")
        #expect((tap["entitlements"] as? [[String: Any]])?.first?["role"] as? String == "child")

        // Held on the reader: still one tap.
        try await Task.sleep(for: .milliseconds(800))
        #expect(try await tapCount(addr) == 1)
        // Removed and presented again: a second tap.
        emulator.removeCard()
        try await Task.sleep(for: .milliseconds(400))
        try emulator.place(EmulatedCard(kind: .ntag215, uid: "04:11:22:33:44:55:66", pages: pages))
        try await waitForTaps(addr, count: 2)

        // The record copied to another chip.
        emulator.removeCard()
        try await Task.sleep(for: .milliseconds(400))
        try emulator.place(EmulatedCard(kind: .ntag215, uid: "04:AA:BB:CC:DD:EE:FF", pages: clonedPages))
        try await waitForTaps(addr, count: 3)
        let latest = try #require(try await http("GET", "http://\(addr)/api/v1/taps?limit=1").json?["taps"] as? [[String: Any]]).first
        #expect(latest?["verdict"] as? String == "counterfeit")
        #expect(latest?["reason_code"] as? String == "counterfeit_other_chip")

        #expect(try await kioskd.terminate() == 0)
        #expect(!kioskd.log.contains("04112233445566"))
        #expect(!kioskd.log.contains("KDR7001"))
    }

    @Test("a UID-only card from the replica is valid with low assurance; the reader vanishes → absent/error, returns → ready; a second kioskd on the same reader is refused")
    func uidCardAndReaderHealth() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let csv = try dir.write("registry.csv", registryCSV())
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0)
        let emulator = try Self.emulator(dir)
        defer { emulator.stop() }
        let kioskd = try KioskdProcess(state: state, environment: ["KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0"])
        let addr = try await kioskd.waitUntilListening()
        try await waitForReader(addr, state: "ready")

        try emulator.place(EmulatedCard(kind: .iso14443a, uid: "04:A1:10:22:33:44:80"))
        try await waitForTaps(addr, count: 1)
        let tap = try #require(try await http("GET", "http://\(addr)/api/v1/taps?limit=1").json?["taps"] as? [[String: Any]]).first
        #expect(tap?["verdict"] as? String == "valid")
        #expect(tap?["assurance"] as? String == "low")
        #expect(tap?["type"] as? String == "tap")
        emulator.removeCard()

        // A second daemon on the same kiosk must not start a second reader loop: the state directory's
        // lock stops it before it opens anything (the reader's own lock is tested in CardReaderTests).
        let second = try await run(binary("kioskd"), [], environment: [
            "KIOSK_STATE_DIR": state, "KIOSK_HTTP_ADDR": "127.0.0.1:0", "KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0",
        ])
        #expect(second.status != 0)
        #expect(second.stderr.contains("already using this state directory"))

        // Unplugged for 1.5 s: the status shows it, and it is back by itself.
        emulator.inject(.vanish(milliseconds: 1500))
        try await waitForReader(addr, state: "absent", orState: "error")
        let returned = ContinuousClock.now
        try await waitForReader(addr, state: "ready", timeout: .seconds(15))
        // Back within 2 s of the device returning (1.5 s after the fault), with a loaded-machine margin.
        #expect(ContinuousClock.now - returned < .seconds(6))
        try emulator.place(EmulatedCard(kind: .iso14443a, uid: "04:B2:20:11:22:33:90"))
        try await waitForTaps(addr, count: 2)
        #expect(try await kioskd.terminate() == 0)
    }

    func readerState(_ addr: String) async throws -> String? {
        (try await http("GET", "http://\(addr)/api/v1/status").json?["reader"] as? [String: Any])?["state"] as? String
    }

    func waitForReader(_ addr: String, state: String, orState: String? = nil, timeout: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last: String?
        while ContinuousClock.now < deadline {
            last = try await readerState(addr)
            if last == state || (orState != nil && last == orState) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("reader state stayed \(last ?? "nil"), wanted \(state)")
    }

    func tapCount(_ addr: String) async throws -> Int {
        let taps = try await http("GET", "http://\(addr)/api/v1/taps?limit=100").json?["taps"] as? [[String: Any]] ?? []
        return taps.filter { $0["type"] as? String == "tap" }.count
    }

    func waitForTaps(_ addr: String, count: Int, timeout: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let n = try await tapCount(addr)
            if n >= count {
                #expect(n == count)
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("fewer than \(count) taps")
    }
}
