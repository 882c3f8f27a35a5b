public import Foundation
import StateFiles

/// Everything `kioskd` can be configured with; every field has a working default.
///
/// Read from a TOML file (`kioskd --config PATH`), then overridden by the environment
/// (`KIOSK_STATE_DIR`, `KIOSK_HTTP_ADDR`, `KIOSK_HTTP_TOKEN`, `KIOSK_NFC_DEVICE`, `KIOSK_CENTRAL_URL`,
/// `KIOSK_CENTRAL_TOKEN`, `KIOSK_TRUSTED_KEYS` for `nfc.trusted_keys` and `KIOSK_SESSION_SECONDS`
/// for `session.ttl_seconds`), so a systemd unit or a test can change one thing without a file.
///
/// The local API stays on loopback: another address is refused unless `http.allow_remote = true`
/// and an access token (`http.token` or `http.token_file`) is set, which every route then requires.
public struct KioskConfiguration: Sendable, Equatable {
    /// Where the replica and the outbox live.
    public var stateDirectory: String = "/var/lib/cus-kiosk"
    /// The local API's listening address; loopback unless deliberately opened.
    public var httpAddress: HostPort = HostPort(host: "127.0.0.1", port: 8080)
    /// Whether ``httpAddress`` may be other than loopback (then ``httpToken`` is required).
    public var httpAllowRemote: Bool = false
    /// The token every local API route requires; needed when ``httpAllowRemote`` is on.
    public var httpToken: String?
    /// This kiosk's name, shown on the status page.
    public var kioskName: String = "kiosk"
    /// libnfc connstring of the reader (`pn532_uart:/dev/ttyUSB0`); `nil`: the first reader libnfc finds.
    public var nfcDevice: String?
    /// Whether to use a reader at all (off for a staff desk that only types numbers).
    public var nfcEnabled: Bool = true
    /// File of trusted card-signing public keys (see docs/card-format.md).
    public var trustedKeysFile: String?
    /// The central server; `nil` runs the kiosk standalone.
    public var centralURL: String?
    /// The kiosk's enrolment token at the central server.
    public var centralToken: String?
    /// PEM file of the CA that signs the central server's certificate, if not a system one.
    public var centralCAFile: String?
    /// Seconds between pulls of registry changes.
    public var syncIntervalSeconds: Int = 60
    /// How many recent verdicts `/api/v1/taps` keeps.
    public var tapsKeep: Int = 200
    /// How long recent verdicts are kept, in minutes.
    public var tapsKeepMinutes: Int = 60
    /// How long a valid card's session lasts, in seconds.
    public var sessionSeconds: Int = 180
    /// How many days settled outbox items (delivered or quarantined) are kept before they are deleted.
    public var outboxKeepDays: Int = 90
    /// The most settled outbox items kept; the oldest go first. Pending items are never deleted.
    public var outboxKeepSettled: Int = 5_000
    /// Directory of the on-screen UI served at `/`; `nil`: the built-in location next to the binary.
    public var uiDirectory: String?
    /// The ESC/POS ticket printer's device (`/dev/usb/lp0`, `/dev/ttyUSB0`); `nil`: no printer.
    public var printerDevice: String?
    /// The serial speed of a printer on a serial port.
    public var printerBaud: Int = 19_200
    /// The CUS phone number printed on ticket slips and shown on the screen.
    public var printerContactPhone: String?
    /// Who the screen serves: residents (requests, names for tapped cards) or a partner's desk (valid or not, never a name).
    public var mode: KioskMode = .resident
    /// The touch panel the screen runs on, for sizing targets in millimetres.
    public var panel: Panel = Panel(width: 1920, height: 1080, diagonalInches: 21.5)
    /// Seconds without a touch before the screen asks "Czy potrzebujesz więcej czasu?".
    public var inactivitySeconds: Int = 75
    /// Seconds the resident has to answer that question.
    public var answerSeconds: Int = 30
    /// Whether the screen may read aloud (espeak-ng).
    public var speechEnabled: Bool = true
    /// Write speech to WAV files in this folder instead of the sound card (a kiosk without speakers).
    public var speechWavDirectory: String?

    public init() {}

    /// The replica's file.
    public var replicaPath: String { (stateDirectory as NSString).appendingPathComponent("replica.sqlite") }

    /// The keys a config file may hold, with their types, for error messages.
    static let knownKeys: [String: String] = [
        "state_dir": "a path",
        "kiosk_name": "a name",
        "http.addr": "\"host:port\"",
        "http.allow_remote": "true or false",
        "http.token": "a token",
        "http.token_file": "a path",
        "nfc.device": "a libnfc connstring",
        "nfc.enabled": "true or false",
        "nfc.trusted_keys": "a path",
        "central.url": "an http(s) URL",
        "central.token": "a token",
        "central.token_file": "a path",
        "central.ca_file": "a path",
        "central.sync_interval_seconds": "an integer",
        "taps.keep": "an integer",
        "taps.keep_minutes": "an integer",
        "session.ttl_seconds": "an integer",
        "outbox.keep_days": "an integer",
        "outbox.keep_settled": "an integer",
        "ui.directory": "a path",
        "printer.device": "a device path",
        "printer.baud": "an integer",
        "printer.contact_phone": "a phone number in quotes",
        "kiosk.mode": "\"resident\" or \"partner\"",
        "ui.panel": "\"WIDTHxHEIGHT@INCHES\", e.g. \"1920x1080@21.5\"",
        "ui.inactivity_seconds": "an integer",
        "ui.answer_seconds": "an integer",
        "speech.enabled": "true or false",
        "speech.wav_dir": "a path",
    ]

    /// Loads `file` (if given) and applies the environment over it.
    /// - Throws: ``ConfigError`` naming the file, the key and what is wrong.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> KioskConfiguration {
        var config = KioskConfiguration()
        if let file {
            let source = "config file \(file)"
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigError(source: source, key: nil, line: nil, problem: "cannot be read (missing, or no permission)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError(source: source, key: nil, line: nil, problem: "is not UTF-8 text")
            }
            let doc: TOMLDocument
            do { doc = try TOMLDocument(parsing: text) } catch {
                throw ConfigError(source: source, key: error.key, line: error.line, problem: error.message)
            }
            try config.apply(doc, source: source)
        }
        try config.apply(environment: environment)
        try config.validate()
        return config
    }

    /// Rules that span keys: the local API is loopback-only unless opened on purpose, with a token.
    func validate() throws(ConfigError) {
        if !httpAddress.isLoopback {
            guard httpAllowRemote else {
                throw ConfigError(
                    source: "configuration", key: "http.addr", line: nil,
                    problem: "\(httpAddress) is not a loopback address: the local API would be open to the network. Use 127.0.0.1, or set http.allow_remote = true with http.token_file"
                )
            }
            guard let token = httpToken, token.utf8.count >= 16 else {
                throw ConfigError(
                    source: "configuration", key: "http.token", line: nil,
                    problem: "http.allow_remote = true needs an access token of at least 16 characters (http.token_file or KIOSK_HTTP_TOKEN), which every route then requires"
                )
            }
        }
    }

    /// Things that work but should not be so, for the log at start and the status page.
    public var warnings: [String] {
        var out: [String] = []
        if let url = centralURL, url.lowercased().hasPrefix("http://"), centralToken != nil {
            out.append("central.url \(url) is plain http://: the kiosk's token and residents' requests travel unencrypted. Use https://")
        }
        return out
    }

    /// A token from a file only its owner can change; surrounding white space is dropped.
    static func readToken(file path: String) throws(ConfigError) -> String {
        do { try StateFiles.checkOnlyOwnerCanWrite(path, what: "the token file") } catch {
            throw ConfigError(source: "", key: nil, line: nil, problem: error.description)
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(source: "", key: nil, line: nil, problem: "cannot read the token file \(path)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ConfigError(source: "", key: nil, line: nil, problem: "the token file \(path) is empty") }
        return token
    }

    mutating func apply(_ doc: TOMLDocument, source: String) throws(ConfigError) {
        for (key, entry) in doc.entries {
            func fail(_ problem: String) -> ConfigError { ConfigError(source: source, key: key, line: entry.line, problem: problem) }
            guard let expected = Self.knownKeys[key] else {
                let near = Self.knownKeys.keys.sorted().filter { $0.hasSuffix(key.split(separator: ".").last.map(String.init) ?? key) }
                throw fail("unknown key" + (near.isEmpty ? "; known keys: \(Self.knownKeys.keys.sorted().joined(separator: ", "))" : "; did you mean \(near.joined(separator: " or "))?"))
            }
            func string() throws(ConfigError) -> String {
                guard case .string(let s) = entry.value else { throw fail("expected \(expected) in quotes, got \(entry.value.typeName)") }
                guard !s.isEmpty else { throw fail("is empty; remove the line to use the default") }
                return s
            }
            func integer(_ range: ClosedRange<Int>) throws(ConfigError) -> Int {
                guard case .integer(let v) = entry.value else { throw fail("expected an integer, got \(entry.value.typeName)") }
                guard range.contains(Int(v)) else { throw fail("\(v) is out of range \(range.lowerBound)…\(range.upperBound)") }
                return Int(v)
            }
            switch key {
            case "state_dir": stateDirectory = try string()
            case "kiosk_name": kioskName = try string()
            case "http.addr":
                let text = try string()
                do { httpAddress = try HostPort(parsing: text) } catch { throw fail(error.problem) }
            case "nfc.device": nfcDevice = try string()
            case "nfc.enabled":
                guard case .bool(let b) = entry.value else { throw fail("expected true or false, got \(entry.value.typeName)") }
                nfcEnabled = b
            case "nfc.trusted_keys": trustedKeysFile = try string()
            case "central.url":
                let text = try string()
                guard Self.isHTTPURL(text) else { throw fail("\"\(text)\" is not an http:// or https:// URL") }
                centralURL = text
            case "central.token": centralToken = try string()
            case "central.token_file":
                do { centralToken = try Self.readToken(file: try string()) } catch { throw fail(error.problem) }
            case "http.allow_remote":
                guard case .bool(let b) = entry.value else { throw fail("expected true or false, got \(entry.value.typeName)") }
                httpAllowRemote = b
            case "http.token": httpToken = try string()
            case "http.token_file":
                do { httpToken = try Self.readToken(file: try string()) } catch { throw fail(error.problem) }
            case "central.ca_file": centralCAFile = try string()
            case "central.sync_interval_seconds": syncIntervalSeconds = try integer(5...86_400)
            case "taps.keep": tapsKeep = try integer(1...10_000)
            case "taps.keep_minutes": tapsKeepMinutes = try integer(1...10_080)
            case "session.ttl_seconds": sessionSeconds = try integer(10...3_600)
            case "outbox.keep_days": outboxKeepDays = try integer(1...3_650)
            case "outbox.keep_settled": outboxKeepSettled = try integer(10...1_000_000)
            case "ui.directory": uiDirectory = try string()
            case "printer.device": printerDevice = try string()
            case "printer.baud":
                printerBaud = try integer(1_200...115_200)
                guard [9_600, 19_200, 38_400, 57_600, 115_200].contains(printerBaud) else {
                    throw fail("a serial printer runs at 9600, 19200, 38400, 57600 or 115200 baud")
                }
            case "printer.contact_phone": printerContactPhone = try string()
            case "kiosk.mode":
                guard let m = KioskMode(rawValue: try string()) else { throw fail("expected \"resident\" or \"partner\"") }
                mode = m
            case "ui.panel":
                guard let p = Panel(parsing: try string()) else { throw fail("expected \"WIDTHxHEIGHT@INCHES\", e.g. \"1920x1080@21.5\" or \"800x480@7\"") }
                panel = p
            case "ui.inactivity_seconds": inactivitySeconds = try integer(20...600)
            case "ui.answer_seconds": answerSeconds = try integer(30...300)
            case "speech.enabled":
                guard case .bool(let b) = entry.value else { throw fail("expected true or false, got \(entry.value.typeName)") }
                speechEnabled = b
            case "speech.wav_dir": speechWavDirectory = try string()
            default: throw fail("unknown key")
            }
        }
    }

    mutating func apply(environment env: [String: String]) throws(ConfigError) {
        func value(_ name: String) -> String? {
            guard let v = env[name], !v.isEmpty else { return nil }
            return v
        }
        if let v = value("KIOSK_STATE_DIR") { stateDirectory = v }
        if let v = value("KIOSK_HTTP_ADDR") {
            do { httpAddress = try HostPort(parsing: v) } catch {
                throw ConfigError(source: "environment", key: "KIOSK_HTTP_ADDR", line: nil, problem: error.problem)
            }
        }
        if let v = value("KIOSK_NFC_DEVICE") {
            if v == "none" { nfcEnabled = false } else { nfcDevice = v; nfcEnabled = true }
        }
        if let v = value("KIOSK_CENTRAL_URL") {
            guard Self.isHTTPURL(v) else {
                throw ConfigError(source: "environment", key: "KIOSK_CENTRAL_URL", line: nil, problem: "\"\(v)\" is not an http:// or https:// URL")
            }
            centralURL = v
        }
        if let v = value("KIOSK_CENTRAL_TOKEN") { centralToken = v }
        if let v = value("KIOSK_TRUSTED_KEYS") { trustedKeysFile = v }
        if let v = value("KIOSK_HTTP_TOKEN") { httpToken = v }
        if let v = value("KIOSK_PRINTER_DEVICE") { printerDevice = v == "none" ? nil : v }
        if let v = value("KIOSK_MODE") {
            guard let m = KioskMode(rawValue: v) else {
                throw ConfigError(source: "environment", key: "KIOSK_MODE", line: nil, problem: "\"\(v)\" is not resident or partner")
            }
            mode = m
        }
        if let v = value("KIOSK_UI_PANEL") {
            guard let p = Panel(parsing: v) else {
                throw ConfigError(source: "environment", key: "KIOSK_UI_PANEL", line: nil, problem: "\"\(v)\" is not WIDTHxHEIGHT@INCHES, e.g. 800x480@7")
            }
            panel = p
        }
        // Short timeouts are allowed from the environment, for tests of the "more time" dialog.
        if let v = value("KIOSK_UI_INACTIVITY_SECONDS") {
            guard let n = Int(v), (2...600).contains(n) else {
                throw ConfigError(source: "environment", key: "KIOSK_UI_INACTIVITY_SECONDS", line: nil, problem: "\"\(v)\" is not a whole number of seconds from 2 to 600")
            }
            inactivitySeconds = n
        }
        if let v = value("KIOSK_UI_ANSWER_SECONDS") {
            guard let n = Int(v), (2...300).contains(n) else {
                throw ConfigError(source: "environment", key: "KIOSK_UI_ANSWER_SECONDS", line: nil, problem: "\"\(v)\" is not a whole number of seconds from 2 to 300")
            }
            answerSeconds = n
        }
        if let v = value("KIOSK_SPEECH_WAV_DIR") { speechWavDirectory = v }
        if let v = value("KIOSK_SESSION_SECONDS") {
            guard let n = Int(v), (2...3_600).contains(n) else {
                throw ConfigError(source: "environment", key: "KIOSK_SESSION_SECONDS", line: nil, problem: "\"\(v)\" is not a whole number of seconds from 2 to 3600")
            }
            sessionSeconds = n
        }
    }

    static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), url.host != nil else { return false }
        return scheme == "http" || scheme == "https"
    }
}

/// A listening address, `host:port`.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8080`, `[::1]:8080` or `localhost:0` (port 0: any free port).
    public init(parsing text: String) throws(ConfigError) {
        guard let colon = text.lastIndex(of: ":") else {
            throw ConfigError(source: "", key: nil, line: nil, problem: "\"\(text)\" is not host:port (e.g. 127.0.0.1:8080)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ConfigError(source: "", key: nil, line: nil, problem: "\"\(text)\" is not host:port with a port 0…65535 (e.g. 127.0.0.1:8080)")
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
    public var isLoopback: Bool {
        let h = host.lowercased()
        if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

/// A configuration that cannot be used, naming where, which key, and what is wrong.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `config file /etc/cus-kiosk/kiosk.toml` or `environment`.
    public var source: String
    public var key: String?
    public var line: Int?
    public var problem: String

    public init(source: String, key: String?, line: Int?, problem: String) {
        self.source = source
        self.key = key
        self.line = line
        self.problem = problem
    }

    public var description: String {
        var where_ = source
        if let line { where_ += ", line \(line)" }
        if let key { where_ += ", key \(key)" }
        return "\(where_): \(problem)"
    }
}

/// Who a kiosk's screen serves.
public enum KioskMode: String, Sendable, Equatable, Codable {
    /// Residents: verdicts with the holder's first name for tapped cards, services, requests.
    case resident
    /// A partner's desk (the pool, the cinema): valid or not and the card kind, never a name, no requests.
    case partner
}

/// The touch panel the screen runs on.
public struct Panel: Sendable, Equatable, Codable {
    /// Pixels across.
    public var width: Int
    /// Pixels down.
    public var height: Int
    /// The diagonal in inches.
    public var diagonalInches: Double

    /// A panel.
    public init(width: Int, height: Int, diagonalInches: Double) {
        self.width = width
        self.height = height
        self.diagonalInches = diagonalInches
    }

    /// `"1920x1080@21.5"`.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "@")
        guard parts.count == 2, let inches = Double(parts[1]), (3...100).contains(inches) else { return nil }
        let size = parts[0].split(separator: "x")
        guard size.count == 2, let w = Int(size[0]), let h = Int(size[1]), (320...8000).contains(w), (240...8000).contains(h) else { return nil }
        self.init(width: w, height: h, diagonalInches: inches)
    }

    /// CSS pixels per millimetre on this panel.
    public var pixelsPerMillimetre: Double {
        (Double(width * width + height * height)).squareRoot() / (diagonalInches * 25.4)
    }

    enum CodingKeys: String, CodingKey { case width, height, diagonalInches = "diagonal_inches" }
}
