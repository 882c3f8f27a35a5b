import Foundation
import KioskConfig
import Testing

func writeConfig(_ text: String) throws -> String {
    let path = NSTemporaryDirectory() + "kiosk-\(UUID().uuidString.prefix(8)).toml"
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite("Configuration")
struct KioskConfigTests {
    @Test("no file: defaults (loopback 8080, a reader if one is found)")
    func defaults() throws {
        let c = try KioskConfiguration.load(file: nil, environment: [:])
        #expect(c.httpAddress == HostPort(host: "127.0.0.1", port: 8080))
        #expect(c.nfcDevice == nil && c.nfcEnabled)
        #expect(c.centralURL == nil)
    }

    @Test("a full file is read, and the environment overrides it")
    func fileAndEnvironment() throws {
        let path = try writeConfig("""
            # Skałka customer office, kiosk 1
            state_dir = "/var/lib/cus-kiosk"
            kiosk_name = "skalka-1"

            [http]
            addr = "127.0.0.1:9090"   # loopback only

            [nfc]
            device = 'pn532_uart:/dev/ttyUSB0'

            [central]
            url = "https://cus.example/"
            sync_interval_seconds = 120

            [taps]
            keep = 50

            [outbox]
            keep_days = 30
            keep_settled = 1000
            """)
        let fromFile = try KioskConfiguration.load(file: path, environment: [:])
        #expect(fromFile.kioskName == "skalka-1")
        #expect(fromFile.httpAddress.port == 9090)
        #expect(fromFile.nfcDevice == "pn532_uart:/dev/ttyUSB0")
        #expect(fromFile.syncIntervalSeconds == 120)
        #expect(fromFile.outboxKeepDays == 30 && fromFile.outboxKeepSettled == 1000)
        #expect(KioskConfiguration().outboxKeepDays == 90 && KioskConfiguration().outboxKeepSettled == 5000)
        #expect(fromFile.tapsKeep == 50)
        let env = try KioskConfiguration.load(file: path, environment: [
            "KIOSK_STATE_DIR": "/tmp/k", "KIOSK_HTTP_ADDR": "[::1]:0", "KIOSK_NFC_DEVICE": "pn532_uart:/dev/pts/7",
            "KIOSK_CENTRAL_URL": "http://127.0.0.1:7000", "KIOSK_CENTRAL_TOKEN": "secret",
        ])
        #expect(env.stateDirectory == "/tmp/k")
        #expect(env.httpAddress == HostPort(host: "::1", port: 0))
        #expect(env.nfcDevice == "pn532_uart:/dev/pts/7")
        #expect(env.centralURL == "http://127.0.0.1:7000")
        #expect(env.centralToken == "secret")
        #expect(env.replicaPath == "/tmp/k/replica.sqlite")
    }

    @Test("the screen's settings: mode, panel, timeouts, speech and printer")
    func screenSettings() throws {
        let path = try writeConfig("""
            [kiosk]
            mode = "partner"
            [ui]
            panel = "800x480@7"
            inactivity_seconds = 90
            answer_seconds = 45
            [speech]
            enabled = false
            [printer]
            device = "/dev/usb/lp0"
            baud = 9600
            contact_phone = "41 000 00 00"
            """)
        let c = try KioskConfiguration.load(file: path, environment: [:])
        #expect(c.mode == .partner && c.panel == Panel(width: 800, height: 480, diagonalInches: 7))
        #expect(c.inactivitySeconds == 90 && c.answerSeconds == 45 && !c.speechEnabled)
        #expect(c.printerDevice == "/dev/usb/lp0" && c.printerBaud == 9600 && c.printerContactPhone == "41 000 00 00")
        // 20 mm is about 80 CSS px on the 21.5-inch Full HD panel.
        #expect(abs(KioskConfiguration().panel.pixelsPerMillimetre * 20 - 80.7) < 0.5)
        let env = try KioskConfiguration.load(file: path, environment: [
            "KIOSK_MODE": "resident", "KIOSK_UI_PANEL": "1920x1080@21.5", "KIOSK_UI_INACTIVITY_SECONDS": "3", "KIOSK_PRINTER_DEVICE": "none",
        ])
        #expect(env.mode == .resident && env.panel.width == 1920 && env.inactivitySeconds == 3 && env.printerDevice == nil)
        #expect(throws: ConfigError.self) { try KioskConfiguration.load(file: nil, environment: ["KIOSK_MODE": "pool"]) }
    }

    @Test("bad files name the file, the line, the key and the problem", arguments: [
        ("[http]\naddr = 8080\n", "http.addr", "in quotes"),
        ("[http]\naddr = \"localhost\"\n", "http.addr", "host:port"),
        ("[htp]\naddr = \"127.0.0.1:1\"\n", "htp.addr", "did you mean http.addr"),
        ("[taps]\nkeep = -3\n", "taps.keep", "out of range"),
        ("[outbox]\nkeep_days = 0\n", "outbox.keep_days", "out of range"),
        ("[central]\nurl = \"ftp://x\"\n", "central.url", "http"),
        ("state_dir = \"/a\"\nstate_dir = \"/b\"\n", "state_dir", "already set on line 1"),
        ("[kiosk]\nmode = \"cinema\"\n", "kiosk.mode", "resident"),
        ("[ui]\npanel = \"big\"\n", "ui.panel", "WIDTHxHEIGHT@INCHES"),
        ("[ui]\ninactivity_seconds = 5\n", "ui.inactivity_seconds", "out of range"),
        ("[printer]\nbaud = 12345\n", "printer.baud", "9600"),
    ])
    func badFiles(text: String, key: String, problem: String) throws {
        let path = try writeConfig(text)
        #expect {
            _ = try KioskConfiguration.load(file: path, environment: [:])
        } throws: { error in
            let e = error as? ConfigError
            let text = e.map { "\($0)" } ?? ""
            return e?.key == key && text.contains(path) && text.contains(problem) && e?.line != nil
        }
    }

    @Test("syntax errors give the line")
    func syntax() throws {
        let path = try writeConfig("kiosk_name = \"a\"\n[http\naddr = \"x:1\"\n")
        #expect {
            _ = try KioskConfiguration.load(file: path, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.line == 2
        }
        let missing = NSTemporaryDirectory() + "no-such-\(UUID()).toml"
        #expect(throws: ConfigError.self) { try KioskConfiguration.load(file: missing, environment: [:]) }
    }

    @Test("a bad environment value is named")
    func badEnvironment() {
        #expect {
            _ = try KioskConfiguration.load(file: nil, environment: ["KIOSK_HTTP_ADDR": "nonsense"])
        } throws: { error in
            (error as? ConfigError)?.key == "KIOSK_HTTP_ADDR"
        }
    }

    @Test("the local API stays on loopback unless allow_remote is set with a token of 16 characters or more")
    func loopbackOnly() throws {
        for addr in ["127.0.0.1:8080", "127.0.0.5:80", "[::1]:8080", "localhost:0"] {
            #expect(try KioskConfiguration.load(file: nil, environment: ["KIOSK_HTTP_ADDR": addr]).httpAddress.isLoopback, "\(addr)")
        }
        for addr in ["0.0.0.0:8080", "192.168.1.20:8080", "[::]:8080", "kiosk.local:8080"] {
            #expect(throws: ConfigError.self, "\(addr)") { try KioskConfiguration.load(file: nil, environment: ["KIOSK_HTTP_ADDR": addr]) }
        }
        let open = try writeConfig("[http]\naddr = \"0.0.0.0:8080\"\nallow_remote = true\n")
        #expect(throws: ConfigError.self) { try KioskConfiguration.load(file: open, environment: [:]) }
        #expect(throws: ConfigError.self) { try KioskConfiguration.load(file: open, environment: ["KIOSK_HTTP_TOKEN": "short"]) }
        let c = try KioskConfiguration.load(file: open, environment: ["KIOSK_HTTP_TOKEN": "sixteen-chars-ok"])
        #expect(c.httpAllowRemote && c.httpToken == "sixteen-chars-ok")
    }

    @Test("a token file that other users can change is refused; a private one is read")
    func tokenFileModes() throws {
        let token = NSTemporaryDirectory() + "token-\(UUID().uuidString.prefix(8))"
        try Data("kiosk-token-123\n".utf8).write(to: URL(fileURLWithPath: token))
        defer { try? FileManager.default.removeItem(atPath: token) }
        let config = try writeConfig("[central]\nurl = \"https://cus.example/\"\ntoken_file = \"\(token)\"\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: token)
        do {
            _ = try KioskConfiguration.load(file: config, environment: [:])
            Issue.record("a world-writable token file was accepted")
        } catch {
            #expect(error.problem.contains("chmod go-w"))
            #expect(error.key == "central.token_file")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: token)
        #expect(try KioskConfiguration.load(file: config, environment: [:]).centralToken == "kiosk-token-123")
    }

    @Test("a plain http:// central with a token is a warning; https:// or no token is not")
    func plainHTTPWarning() throws {
        let plain = try KioskConfiguration.load(file: nil, environment: ["KIOSK_CENTRAL_URL": "http://cus.example/", "KIOSK_CENTRAL_TOKEN": "t"])
        #expect(plain.warnings.count == 1)
        #expect(plain.warnings.first?.contains("https://") == true)
        #expect(try KioskConfiguration.load(file: nil, environment: ["KIOSK_CENTRAL_URL": "https://cus.example/", "KIOSK_CENTRAL_TOKEN": "t"]).warnings.isEmpty)
    }

    @Test("KIOSK_SESSION_SECONDS sets the session lifetime and refuses nonsense")
    func sessionSeconds() throws {
        #expect(try KioskConfiguration.load(file: nil, environment: ["KIOSK_SESSION_SECONDS": "4"]).sessionSeconds == 4)
        #expect(throws: ConfigError.self) { try KioskConfiguration.load(file: nil, environment: ["KIOSK_SESSION_SECONDS": "0"]) }
        #expect(throws: ConfigError.self) { try KioskConfiguration.load(file: nil, environment: ["KIOSK_SESSION_SECONDS": "soon"]) }
    }
}
