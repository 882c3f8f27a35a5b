import Foundation
import PN532Emulator
import KioskTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Which store the central runs on: SQLite always, PostgreSQL too when `CUS_TEST_POSTGRES_URL` is set
/// (`.ci/run` starts one), so the kiosk-to-central tests pass on both.
///
/// Tests take `CentralStoreKind.allCases` and call ``skipUnlessAvailable()`` first: without the URL the
/// PostgreSQL case is reported as skipped ("skipped: CUS_TEST_POSTGRES_URL unset") rather than vanishing.
enum CentralStoreKind: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres

    /// The PostgreSQL server's URL, when one is configured.
    static var postgresURL: String? {
        guard let url = ProcessInfo.processInfo.environment["CUS_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// Skips (cancels) the current test case when this store is not available, saying why.
    func skipUnlessAvailable() throws {
        if self == .postgres, Self.postgresURL == nil {
            // Swift Testing 6.3 lists a cancelled test case as passed, so say it in the output too.
            let name = Test.current?.displayName ?? Test.current?.name ?? "a test"
            print("⊘ skipped: CUS_TEST_POSTGRES_URL unset: \(name) [postgres]")
            try Test.cancel("skipped: CUS_TEST_POSTGRES_URL unset; run `source .ci/postgres` to test the central on PostgreSQL too")
        }
    }

    var testDescription: String { rawValue }
}

/// A `cus-central` with its own database (an SQLite file, or a fresh PostgreSQL schema), run as a real process.
final class CentralProcess {
    let dir: TempDir
    let database: String
    var process: Process?
    private(set) var address = ""
    private let postgresSchema: (url: String, schema: String)?

    init(dir: TempDir, store: CentralStoreKind = .sqlite) {
        self.dir = dir
        if store == .postgres, let url = CentralStoreKind.postgresURL {
            let schema = "sync_" + UUID().uuidString.prefix(8).lowercased()
            database = url + (url.contains("?") ? "&" : "?") + "schema=" + schema
            postgresSchema = (url, schema)
        } else {
            database = "sqlite:" + dir.file("central.db")
            postgresSchema = nil
        }
    }


    /// A second server on `other`'s database (its own folder for its address and log); it leaves the database to `other`.
    init(sharing other: CentralProcess, dir: TempDir) {
        self.dir = dir
        database = other.database
        postgresSchema = nil
    }

    /// Runs a `cus-central` admin command against this database.
    @discardableResult
    func admin(_ arguments: [String]) async throws -> Finished {
        let r = try await run(binary("cus-central"), arguments + ["--database", database])
        guard r.status == 0 else { throw TestFailure("cus-central \(arguments.joined(separator: " ")) failed \(r.status): \(r.stderr)") }
        return r
    }

    func enrolKiosk(_ name: String) async throws -> String {
        try await admin(["kiosk", "add", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func importRegistry(_ csv: String) async throws {
        let path = try dir.write("registry-\(UUID().uuidString.prefix(6)).csv", csv)
        try await admin(["registry", "import", path])
    }

    /// The requests in the inbox (JSON objects), paged with `requests list --after`.
    func requests() async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var after = 0
        while true {
            let r = try await admin(["requests", "list", "--json", "--limit", "1000", "--after", String(after)])
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let page = object?["requests"] as? [[String: Any]] ?? []
            all += page
            guard page.count == 1000, let last = page.last?["id"] as? Int else { return all }
            after = last
        }
    }

    /// Every request in the inbox, paged over `GET /v1/staff/requests`.
    func allRequests(staffToken: String) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var after = 0
        while true {
            let page = try await http("GET", url + "/v1/staff/requests?after_id=\(after)&limit=500", bearer: staffToken)
            guard page.status == 200, let list = page.json?["requests"] as? [[String: Any]] else {
                throw TestFailure("staff requests: HTTP \(page.status)")
            }
            all += list
            guard list.count == 500, let last = list.last?["id"] as? Int else { return all }
            after = last
        }
    }

    /// Starts serving on `port` (0: any free port) and waits until it listens.
    func start(port: Int = 0) async throws {
        let addressFile = dir.file("central.addr")
        try? FileManager.default.removeItem(atPath: addressFile)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary("cus-central"))
        p.arguments = ["serve", "--database", database, "--listen", "127.0.0.1:\(port)", "--address-file", addressFile]
        let log = dir.file("central.log")
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        p.standardError = handle
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        process = p
        try await eventually("cus-central listening", timeout: .seconds(60)) {
            guard p.isRunning else { throw TestFailure("cus-central exited") }
            guard let text = try? String(contentsOfFile: addressFile, encoding: .utf8), !text.isEmpty else { return false }
            address = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return true
        }
    }

    var url: String { "http://\(address)" }

    func stop() {
        guard let p = process, p.isRunning else { return }
        p.terminate()
        p.waitUntilExit()
    }

    deinit {
        if let p = process, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        // Leave the shared test database as it was.
        if let (url, schema) = postgresSchema {
            _ = try? run("/usr/bin/psql", [url, "-qc", "DROP SCHEMA IF EXISTS \(schema) CASCADE"])
        }
    }
}

/// A `kioskd` started as a real process with a central configured, its log in `state.log`.
final class Kiosk {
    let process = Process()
    let state: String
    let logPath: String
    private(set) var address = ""

    init(state: String, central: String?, token: String?, extraEnvironment: [String: String] = [:]) throws {
        self.state = state
        logPath = state + ".log"
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        try? FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        // A stale address from a killed run must not be read as this run's.
        try? FileManager.default.removeItem(atPath: state + "/http.addr")
        process.executableURL = URL(fileURLWithPath: binary("kioskd"))
        var env = ProcessInfo.processInfo.environment
        env["KIOSK_STATE_DIR"] = state
        env["KIOSK_HTTP_ADDR"] = "127.0.0.1:0"
        env["KIOSK_NFC_DEVICE"] = "none"
        env["KIOSK_LOG_LEVEL"] = "debug"
        env["KIOSK_CENTRAL_URL"] = central
        env["KIOSK_CENTRAL_TOKEN"] = token
        process.environment = env.merging(extraEnvironment) { $1 }
        let handle = FileHandle(forWritingAtPath: logPath)
        handle?.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    func waitUntilListening() async throws {
        try await eventually("kioskd listening", timeout: .seconds(60)) {
            guard process.isRunning else { throw TestFailure("kioskd exited \(process.terminationStatus): \(log.suffix(2000))") }
            guard let text = try? String(contentsOfFile: state + "/http.addr", encoding: .utf8), !text.isEmpty else { return false }
            address = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return true
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    var base: String { "http://\(address)/api/v1" }

    func sigkill() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    // MARK: API

    func status() async throws -> [String: Any] {
        try await http("GET", base + "/status").json ?? [:]
    }

    /// `POST /api/v1/sync`; the outcome object and the HTTP status.
    func sync() async throws -> (Int, [String: Any]) {
        let r = try await http("POST", base + "/sync", timeout: 300)
        return (r.status, r.json ?? [:])
    }

    /// Syncs until the outcome is ok (the automatic sync may hold the first try).
    func syncUntilOK(timeout: Duration = .seconds(120)) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let (status, outcome) = try? await sync() {
                last = outcome
                if status == 200 { return outcome }
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        throw TestFailure("sync never succeeded; last outcome \(last); log: \(log.suffix(3000))")
    }

    /// The verdict for a typed number.
    func check(_ number: String) async throws -> [String: Any] {
        try await http("POST", base + "/check", body: #"{"number":"\#(number)"}"#).json ?? [:]
    }

    func cardCount() async throws -> Int {
        ((try await status())["replica"] as? [String: Any])?["cards"] as? Int ?? -1
    }
}

struct HTTPResult {
    var status: Int
    var body: Data
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
}

func http(_ method: String, _ url: String, body: String? = nil, timeout: TimeInterval = 30, bearer: String? = nil) async throws -> HTTPResult {
    guard let u = URL(string: url) else { throw TestFailure("bad url \(url)") }
    var request = URLRequest(url: u)
    if let bearer { request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
    request.httpMethod = method
    request.timeoutInterval = timeout
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    return HTTPResult(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
}

/// The day `n` days from today in Warsaw, as `YYYY-MM-DD`.
func warsawDay(_ n: Int) -> String {
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = TimeZone(identifier: "Europe/Warsaw") ?? .gmt
    let d = cal.date(byAdding: .day, value: n, to: Date()) ?? Date()
    let c = cal.dateComponents([.year, .month, .day], from: d)
    return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
}

/// A small registry: valid senior and disability cards, a large-family parent, a replaced chip.
func registryCSV() -> String {
    let past = warsawDay(-400), later = warsawDay(900)
    return """
        card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status
        SKS-0001;04:A1:10:22:33:44:80;senior60;;Halina;Wójcik;\(past);;active
        KDR-1001;04:B2:20:11:22:33:90;large_family;parent;Agnieszka;Dąbrowska;\(past);;active
        USM-3001;;disability;;Michał;Jankowski;\(past);\(later);active
        SKS-0008;04:A1:10:22:33:44:87;senior60;;Henryk;Woźniak;\(past);;revoked
        SKS-0008;04:A1:10:22:33:44:97;senior60;;Henryk;Woźniak;\(past);;active
        """
}

/// `count` extra senior cards `BIG-<n>` (printed), for large deltas.
func bigRegistryCSV(count: Int, prefix: String = "BIG") -> String {
    let past = warsawDay(-10)
    var lines = ["card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status"]
    for i in 0..<count { lines.append("\(prefix)-\(String(format: "%05d", i));;senior60;;Jan;Nowak;\(past);;active") }
    return lines.joined(separator: "\n") + "\n"
}

/// A minimal HTTP server that answers every request the same broken way: for the tests of a misbehaving central.
final class FakeCentral: @unchecked Sendable {
    enum Mode: Sendable {
        /// HTTP 500 with a JSON error.
        case serverError
        /// HTTP 200 with bytes that are not the expected JSON.
        case garbage
        /// Accepts the connection and closes it without a word.
        case hangUp
    }

    let port: Int
    private let fd: Int32
    private let mode: Mode
    private let thread: Thread

    init(mode: Mode) throws {
        self.mode = mode
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, listen(fd, 16) == 0 else { throw TestFailure("fake central cannot listen") }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let mode = self.mode
        thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 65536)
                _ = recv(client, &buffer, buffer.count, 0)
                let reply: String
                switch mode {
                case .serverError:
                    let body = #"{"error":{"code":"internal","message":"boom"}}"#
                    reply = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                case .garbage:
                    let body = #"{"changes":[{"seq":"x"}],"next_after":"#
                    reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                case .hangUp:
                    reply = ""
                }
                if !reply.isEmpty { _ = reply.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
                close(client)
            }
        }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

/// A central that answers by route with fixed bodies: an empty registry (snapshot and feed) and the
/// catalogue it is given; anything else is a 404. For the tests of what the kiosk keeps from a central.
final class ScriptedCentral: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let thread: Thread

    init(routes: [String: (type: String, body: String)]) throws {
        let (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 16) == 0 else { throw TestFailure("scripted central cannot listen") }
        self.fd = fd
        self.port = port
        thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 65536)
                let n = recv(client, &buffer, buffer.count, 0)
                let head = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
                let target = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
                let path = String(target.split(separator: "?").first ?? "")
                let reply: String
                if let route = routes[path] {
                    reply = "HTTP/1.1 200 OK\r\nContent-Type: \(route.type)\r\nContent-Length: \(route.body.utf8.count)\r\nConnection: close\r\n\r\n\(route.body)"
                } else {
                    let body = #"{"error":{"code":"not_found","message":"no such route"}}"#
                    reply = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                }
                _ = reply.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }
        thread.start()
    }

    /// An empty registry and `catalogue` at `GET /v1/catalogue`.
    convenience init(catalogue: String) throws {
        try self.init(routes: [
            "/v1/registry/snapshot": ("application/x-ndjson", #"{"seq":0,"cards":0}"# + "\n"),
            "/v1/registry/changes": ("application/json", #"{"changes":[],"next_after":0,"has_more":false}"#),
            "/v1/catalogue": ("application/json", catalogue),
        ])
    }

    var url: String { "http://127.0.0.1:\(port)" }

    deinit { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}

extension Kiosk {
    /// `POST /api/v1/requests`; the status and the answer.
    func request(_ body: String) async throws -> (Int, [String: Any]) {
        let r = try await http("POST", base + "/requests", body: body)
        return (r.status, r.json ?? [:])
    }

    /// `GET /api/v1/services[?session=]`.
    func services(session: String? = nil) async throws -> [String: Any] {
        try await http("GET", base + "/services" + (session.map { "?session=\($0)" } ?? "")).json ?? [:]
    }

    /// `GET /api/v1/requests?session=`: the status and the list.
    func requests(session: String) async throws -> (Int, [[String: Any]]) {
        let r = try await http("GET", base + "/requests?session=\(session)")
        return (r.status, r.json?["requests"] as? [[String: Any]] ?? [])
    }

    /// Whether any of the outbox's three files holds `text` in its raw bytes.
    func outboxFilesHold(_ text: String) -> [String] {
        ["outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm"].filter { name in
            (FileManager.default.contents(atPath: state + "/" + name) ?? Data()).range(of: Data(text.utf8)) != nil
        }
    }
}

extension Kiosk {
    /// Places `card` on `emulator` and reads the `tap` verdict from the kiosk's event stream (as the screen
    /// does); returns the session it opened. The card stays on the reader (taking it off ends the session).
    func tap(_ card: EmulatedCard, on emulator: PN532Emulator, timeout: Duration = .seconds(30)) async throws -> String {
        guard let port = Int(address.split(separator: ":").last ?? "") else { throw TestFailure("no address") }
        let fd = try connectTCP(port: port)
        defer { close(fd) }
        let request = "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var text = ""
        var chunk = [UInt8](repeating: 0, count: 8192)
        var placed = false
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if n > 0 { text += String(decoding: chunk[0..<n], as: UTF8.self) } else { try await Task.sleep(for: .milliseconds(20)) }
            if !placed, text.contains(": connected") {
                try emulator.place(card)
                placed = true
            }
            if let range = text.range(of: "event: tap\ndata: "), let end = text[range.upperBound...].range(of: "\n\n") {
                let data = Data(text[range.upperBound..<end.lowerBound].utf8)
                let event = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                guard let session = event?["session"] as? String else { throw TestFailure("a tap without a session: \(event ?? [:])") }
                return session
            }
        }
        throw TestFailure("no tap on the event stream: \(text.suffix(500))")
    }
}
