import Foundation
import KioskTestSupport
import PN532Emulator
import Testing
import TicketPrinter

/// What the screen uses besides checks and requests, on a real kioskd with a real libnfc tap: its settings,
/// reading aloud, more time, staff verification with PINs, partner mode, and the ticket printer.
@Suite("The screen's API", .serialized, .spawnsProcesses)
struct ScreenAPITests {
    static let staffCard = EmulatedCard(kind: .iso14443a, uid: "04:C3:30:11:22:33:70")
    static let halina = EmulatedCard(kind: .iso14443a, uid: "04:A1:10:22:33:44:80")

    /// A kiosk with the usual registry plus a staff card, an emulated reader, and `environment`.
    static func kiosk(_ dir: TempDir, environment: [String: String] = [:]) async throws -> (KioskdProcess, PN532Emulator, String) {
        let state = dir.file("state")
        let csv = try dir.write("registry.csv", registryCSV() + "\nPRC-0007;04:C3:30:11:22:33:70;staff;;Ewa;Nowak;\(warsawDay(-30));;active\n")
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        try #require(imported.status == 0, "\(imported.stderr)")
        let emulator = try PN532Emulator(linkPath: dir.file("pn532"))
        emulator.start()
        let kioskd = try KioskdProcess(state: state, environment: ["KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0"].merging(environment) { $1 })
        let addr = try await kioskd.waitUntilListening()
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let reader = (try await http("GET", "http://\(addr)/api/v1/status").json?["reader"] as? [String: Any])?["state"] as? String
            if reader == "ready" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (kioskd, emulator, addr)
    }

    /// Places `card` and returns the verdict event the kiosk announced.
    static func tap(_ card: EmulatedCard, on emulator: PN532Emulator, addr: String) async throws -> [String: Any] {
        let sse = try SSEReader(port: Int(addr.split(separator: ":").last ?? "") ?? 0, path: "/api/v1/events")
        _ = try await sse.read(until: ": connected")
        emulator.removeCard()
        try emulator.place(card)
        _ = try await sse.read(until: "event: tap")
        return try #require(sse.lastEvent())
    }

    @Test("GET /api/v1/ui says the mode, the panel, the timings and what the kiosk can do")
    func settings() async throws {
        let dir = TempDir(prefix: "ui")
        let (kioskd, emulator, addr) = try await Self.kiosk(dir, environment: [
            "KIOSK_UI_PANEL": "800x480@7", "KIOSK_UI_INACTIVITY_SECONDS": "5", "KIOSK_SPEECH_WAV_DIR": dir.path,
        ])
        defer { emulator.stop(); kioskd.process.terminate() }
        let ui = try #require(try await http("GET", "http://\(addr)/api/v1/ui").json)
        #expect(ui["mode"] as? String == "resident")
        let panel = ui["panel"] as? [String: Any]
        #expect(panel?["width"] as? Int == 800 && panel?["height"] as? Int == 480 && panel?["diagonal_inches"] as? Double == 7)
        #expect(ui["inactivity_seconds"] as? Int == 5 && ui["answer_seconds"] as? Int == 30)
        #expect(ui["printer"] as? Bool == false)
        #expect(ui["speech"] as? Bool == true)

        // Reading aloud: kioskd speaks (here into a WAV file); a bad language is refused.
        let spoken = try await http("POST", "http://\(addr)/api/v1/speech", body: #"{"text":"Przyłóż kartę do czytnika","lang":"pl"}"#)
        #expect(spoken.status == 202)
        var wav: Data?
        for _ in 0..<100 where wav == nil {
            wav = try? FileManager.default.contentsOfDirectory(atPath: dir.path).first { $0.hasSuffix(".wav") }
                .flatMap { FileManager.default.contents(atPath: dir.file($0)) }.flatMap { $0.count > 10_000 ? $0 : nil }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(wav?.prefix(4) == Data("RIFF".utf8))
        #expect(try await http("POST", "http://\(addr)/api/v1/speech", body: #"{"text":"Hallo","lang":"de"}"#).status == 400)
        #expect(try await http("DELETE", "http://\(addr)/api/v1/speech").status == 204)
        #expect(!kioskd.log.contains("Przyłóż kartę"), "the spoken text reached the log")
    }

    @Test("more time: a session is given its whole lifetime again; an ended one is gone")
    func extend() async throws {
        let dir = TempDir(prefix: "extend")
        let (kioskd, emulator, addr) = try await Self.kiosk(dir, environment: ["KIOSK_SESSION_SECONDS": "3"])
        defer { emulator.stop(); kioskd.process.terminate() }
        let session = try #require(try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"SKS-0001"}"#).json?["session"] as? String)
        try await Task.sleep(for: .seconds(2))
        let extended = try await http("POST", "http://\(addr)/api/v1/sessions/\(session)/extend")
        #expect(extended.status == 200 && extended.json?["expires_in"] as? Int == 3)
        try await Task.sleep(for: .seconds(2))
        // Four seconds after the check, beyond its first lifetime: still open thanks to the extension.
        #expect(try await http("GET", "http://\(addr)/api/v1/services?session=\(session)").status == 200)
        try await Task.sleep(for: .seconds(2))
        #expect(try await http("POST", "http://\(addr)/api/v1/sessions/\(session)/extend").status == 410)
    }

    @Test("verification mode: a staff card and its PIN; names for typed numbers only there; 5 wrong PINs lock the card")
    func staff() async throws {
        let dir = TempDir(prefix: "staff")
        let (kioskd, emulator, addr) = try await Self.kiosk(dir)
        defer { emulator.stop(); kioskd.process.terminate() }
        let set = try await run(binary("kioskctl"), ["staff", "pin", "set", "PRC-0007", "--pin", "4821"], environment: ["KIOSK_STATE_DIR": kioskd.state])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(!(try String(contentsOfFile: kioskd.state + "/staff-pins.json", encoding: .utf8)).contains("4821"))

        // A resident's card cannot unlock it.
        let resident = try await Self.tap(Self.halina, on: emulator, addr: addr)
        let residentSession = try #require(resident["session"] as? String)
        let refused = try await http("POST", "http://\(addr)/api/v1/staff/unlock", body: #"{"session":"\#(residentSession)","pin":"4821"}"#)
        #expect(refused.status == 403 && (refused.json?["error"] as? [String: Any])?["code"] as? String == "not_staff")

        let staffTap = try await Self.tap(Self.staffCard, on: emulator, addr: addr)
        let session = try #require(staffTap["session"] as? String)
        let wrong = try await http("POST", "http://\(addr)/api/v1/staff/unlock", body: #"{"session":"\#(session)","pin":"1111"}"#)
        #expect(wrong.status == 403 && (wrong.json?["error"] as? [String: Any])?["tries_left"] as? Int == 4)
        let unlocked = try await http("POST", "http://\(addr)/api/v1/staff/unlock", body: #"{"session":"\#(session)","pin":"4821"}"#)
        #expect(unlocked.status == 200)
        let token = try #require(unlocked.json?["staff_token"] as? String)

        // A typed number: the name only through the staff route.
        let plain = try #require(try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"SKS-0001"}"#).json)
        #expect(plain["holder"] == nil || plain["holder"] is NSNull)
        let verified = try #require(try await http("POST", "http://\(addr)/api/v1/staff/check", body: #"{"token":"\#(token)","number":"SKS-0001"}"#).json)
        #expect(verified["verdict"] as? String == "valid" && verified["holder"] as? String == "Halina W.")
        #expect(try await http("POST", "http://\(addr)/api/v1/staff/check", body: #"{"token":"nope","number":"SKS-0001"}"#).status == 401)
        #expect(try await http("DELETE", "http://\(addr)/api/v1/staff/session", headers: ["Authorization": "Bearer \(token)"]).status == 204)
        #expect(try await http("POST", "http://\(addr)/api/v1/staff/check", body: #"{"token":"\#(token)","number":"SKS-0001"}"#).status == 401)

        // Five wrong PINs lock the card, even for the right PIN.
        let again = try #require(try await Self.tap(Self.staffCard, on: emulator, addr: addr)["session"] as? String)
        var last = 0
        for _ in 0..<5 { last = try await http("POST", "http://\(addr)/api/v1/staff/unlock", body: #"{"session":"\#(again)","pin":"9999"}"#).status }
        #expect(last == 423)
        let locked = try await http("POST", "http://\(addr)/api/v1/staff/unlock", body: #"{"session":"\#(again)","pin":"4821"}"#)
        #expect(locked.status == 423 && ((locked.json?["error"] as? [String: Any])?["retry_after"] as? Int ?? 0) > 800)
        emulator.removeCard()
    }

    @Test("partner mode: a tapped card's verdict carries no name and opens no session; no verification mode")
    func partner() async throws {
        let dir = TempDir(prefix: "partner")
        let (kioskd, emulator, addr) = try await Self.kiosk(dir, environment: ["KIOSK_MODE": "partner"])
        defer { emulator.stop(); kioskd.process.terminate() }
        #expect(try await http("GET", "http://\(addr)/api/v1/ui").json?["mode"] as? String == "partner")
        let event = try await Self.tap(Self.halina, on: emulator, addr: addr)
        #expect(event["verdict"] as? String == "valid")
        #expect(event["holder"] == nil || event["holder"] is NSNull)
        #expect(event["session"] == nil || event["session"] is NSNull)
        #expect(!(event["entitlements"] as? [[String: Any]] ?? []).isEmpty)
        #expect(try await http("POST", "http://\(addr)/api/v1/staff/unlock", body: #"{"session":"x","pin":"4821"}"#).status == 404)
        emulator.removeCard()
    }

    @Test("screen preferences: stored with a tapped card at its holder's request, opened at its next tap, never for a typed number nor kept in the taps list; forgotten on request")
    func preferences() async throws {
        let dir = TempDir(prefix: "prefs")
        let (kioskd, emulator, addr) = try await Self.kiosk(dir)
        defer { emulator.stop(); kioskd.process.terminate() }
        let base = "http://\(addr)/api/v1"
        let first = try await Self.tap(Self.halina, on: emulator, addr: addr)
        #expect(first["preferences"] == nil)
        let session = try #require(first["session"] as? String)
        let wanted = #"{"lang":"uk","large_text":true,"speech":true}"#
        #expect(try await http("PUT", "\(base)/sessions/\(session)/preferences", body: #"{"lang":"de","large_text":true,"speech":true}"#).status == 400)
        #expect(try await http("PUT", "\(base)/sessions/\(session)/preferences", body: "{").status == 400)
        let stored = try await http("PUT", "\(base)/sessions/\(session)/preferences", body: wanted)
        #expect(stored.status == 200, "\(String(decoding: stored.body, as: UTF8.self))")
        #expect((stored.json?["preferences"] as? [String: Any])?["lang"] as? String == "uk")
        #expect(try await http("PUT", "\(base)/sessions/nope/preferences", body: wanted).status == 410)

        // Her next tap opens in her mode.
        let again = try await Self.tap(Self.halina, on: emulator, addr: addr)
        let prefs = try #require(again["preferences"] as? [String: Any])
        #expect(prefs["lang"] as? String == "uk" && prefs["large_text"] as? Bool == true && prefs["speech"] as? Bool == true)
        emulator.removeCard()

        // Her number typed by anyone tells nothing, and cannot store anything.
        let typed = try #require(try await http("POST", "\(base)/check", body: #"{"number":"SKS-0001"}"#).json)
        #expect(typed["verdict"] as? String == "valid" && typed["preferences"] == nil)
        let typedSession = try #require(typed["session"] as? String)
        let refused = try await http("PUT", "\(base)/sessions/\(typedSession)/preferences", body: #"{"lang":"pl","large_text":false,"speech":false}"#)
        #expect(refused.status == 403 && (refused.json?["error"] as? [String: Any])?["code"] as? String == "card_required")
        #expect(try await http("DELETE", "\(base)/sessions/\(typedSession)/preferences").status == 403)
        let taps = try await http("GET", "\(base)/taps?limit=100")
        #expect(!String(decoding: taps.body, as: UTF8.self).contains("preferences"))

        // "Zapomnij moje ustawienia".
        let third = try await Self.tap(Self.halina, on: emulator, addr: addr)
        let thirdSession = try #require(third["session"] as? String)
        #expect(try await http("DELETE", "\(base)/sessions/\(thirdSession)/preferences").status == 204)
        #expect(try await Self.tap(Self.halina, on: emulator, addr: addr)["preferences"] == nil)
        emulator.removeCard()
        #expect(!kioskd.log.contains("SKS-0001") && !kioskd.log.contains("SKS0001"), "a full card number reached the log")
    }

    @Test("a configured printer gets the ticket slip of every accepted request; the answer says so")
    func printer() async throws {
        let dir = TempDir(prefix: "printer")
        let device = dir.file("lp0")
        #expect(FileManager.default.createFile(atPath: device, contents: nil))
        let (kioskd, emulator, addr) = try await Self.kiosk(dir, environment: ["KIOSK_PRINTER_DEVICE": device])
        defer { emulator.stop(); kioskd.process.terminate() }
        #expect(try await http("GET", "http://\(addr)/api/v1/ui").json?["printer"] as? Bool == true)
        let created = try await http("POST", "http://\(addr)/api/v1/requests", body: #"{"callback":{"phone":"512 345 678"},"lang":"uk"}"#)
        #expect(created.status == 201)
        #expect(created.json?["printed"] as? Bool == true)
        let ticket = try #require(created.json?["ticket"] as? String)
        var lines: [String] = []
        for _ in 0..<100 where !lines.contains(ticket) {
            lines = EscPosReader([UInt8](FileManager.default.contents(atPath: device) ?? Data())).lines.map(\.text)
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(lines.contains(ticket))
        #expect(lines.contains("Номер вашої заявки:"))
        #expect(!lines.joined().contains("512"), "the phone number was printed")
    }
}
