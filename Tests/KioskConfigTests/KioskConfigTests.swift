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
            """)
        let fromFile = try KioskConfiguration.load(file: path, environment: [:])
        #expect(fromFile.kioskName == "skalka-1")
        #expect(fromFile.httpAddress.port == 9090)
        #expect(fromFile.nfcDevice == "pn532_uart:/dev/ttyUSB0")
        #expect(fromFile.syncIntervalSeconds == 120)
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

    @Test("bad files name the file, the line, the key and the problem", arguments: [
        ("[http]\naddr = 8080\n", "http.addr", "in quotes"),
        ("[http]\naddr = \"localhost\"\n", "http.addr", "host:port"),
        ("[htp]\naddr = \"127.0.0.1:1\"\n", "htp.addr", "did you mean http.addr"),
        ("[taps]\nkeep = -3\n", "taps.keep", "out of range"),
        ("[central]\nurl = \"ftp://x\"\n", "central.url", "http"),
        ("state_dir = \"/a\"\nstate_dir = \"/b\"\n", "state_dir", "already set on line 1"),
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
}
