import CardCheck
import Foundation
import KioskTestSupport
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A `kioskd` started as a real process, on a free port, with its stderr captured to a file.
final class KioskdProcess {
    let process = Process()
    let state: String
    let logPath: String
    private(set) var address = ""

    /// - Parameters:
    ///   - launcher: a program that starts kioskd (e.g. strace) and its arguments before kioskd's path.
    ///   - unsetting: variables removed from kioskd's environment (after `environment` is applied).
    init(
        state: String, arguments: [String] = [], environment: [String: String] = [:], launcher: (String, [String])? = nil,
        unsetting: [String] = []
    ) throws {
        self.state = state
        logPath = state + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        if let (program, prefix) = launcher {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = prefix + [binary("kioskd")] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary("kioskd"))
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["KIOSK_STATE_DIR"] = state
        env["KIOSK_HTTP_ADDR"] = "127.0.0.1:0"
        env["KIOSK_NFC_DEVICE"] = "none"
        env["KIOSK_LOG_LEVEL"] = "debug"
        env.merge(environment) { $1 }
        for name in unsetting { env.removeValue(forKey: name) }
        process.environment = env
        process.standardError = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    /// Waits until the daemon writes its address, or exits.
    func waitUntilListening(timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: state + "/http.addr", encoding: .utf8), !text.isEmpty {
                address = text.trimmingCharacters(in: .whitespacesAndNewlines)
                return address
            }
            if !process.isRunning { throw TestFailure("kioskd exited with \(process.terminationStatus): \(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("kioskd did not start listening: \(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits for the exit status.
    func terminate(timeout: Duration = .seconds(10)) async throws -> Int32 {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("kioskd did not stop within \(timeout) of SIGTERM")
        }
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// A plain HTTP exchange over a real socket (URLSession from FoundationNetworking).
struct HTTPResult {
    var status: Int
    var body: Data
    var contentType: String?
    var headers: [String: String] = [:]
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    /// A response header, by its name in any case.
    func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
}

/// `body` goes out as `application/json` unless `headers` says otherwise.
func http(_ method: String, _ url: String, body: String? = nil, headers: [String: String] = [:]) async throws -> HTTPResult {
    guard let u = URL(string: url) else { throw TestFailure("bad url \(url)") }
    var request = URLRequest(url: u)
    request.httpMethod = method
    request.timeoutInterval = 30  // generous: the whole suite shares two cores
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    var fields: [String: String] = [:]
    for (name, value) in http?.allHeaderFields ?? [:] { fields["\(name)"] = "\(value)" }
    return HTTPResult(status: http?.statusCode ?? 0, body: data, contentType: http?.value(forHTTPHeaderField: "Content-Type"), headers: fields)
}

/// A clock a test moves by hand.
final class MovableClock: KioskClock {
    private let instant: Mutex<Date>
    init(_ start: Date) { instant = Mutex(start) }
    func now() -> Date { instant.withLock { $0 } }
    func advance(by seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Reads a Server-Sent Events stream over a raw TCP socket, as a browser's EventSource would.
final class SSEReader {
    private let fd: Int32
    private var buffer = ""

    /// - Parameter receiveBuffer: a small socket receive buffer, to play a screen that stops reading.
    init(host: String = "127.0.0.1", port: Int, path: String, receiveBuffer: Int32? = nil) throws {
        fd = try connectTCP(host: host, port: port, receiveBuffer: receiveBuffer)
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
    }

    /// Reads until `marker` shows up; returns everything read so far.
    func read(until marker: String, timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !buffer.contains(marker) {
            guard ContinuousClock.now < deadline else { throw TestFailure("no \(marker) in: \(buffer)") }
            // Never block a thread of the cooperative pool in recv: the server under test runs its tasks there too.
            let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if n > 0 {
                buffer += String(decoding: chunk[0..<n], as: UTF8.self)
            } else if n == 0 {
                throw TestFailure("stream closed: \(buffer)")
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return buffer
    }

    /// The JSON of the last `data:` line received.
    func lastEvent() -> [String: Any]? {
        guard let line = buffer.split(separator: "\n").last(where: { $0.hasPrefix("data: ") }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
    }

    /// True once the server has closed the stream.
    /// Reads until no further `marker` comes for `quiet` (keep-alives do not count); returns how often it came.
    func drain(counting marker: String, quiet: Duration = .seconds(1)) async -> Int {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var pending = ""
        var count = 0
        var lastMarker = ContinuousClock.now
        while ContinuousClock.now - lastMarker < quiet {
            let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if n > 0 {
                pending += String(decoding: chunk[0..<n], as: UTF8.self)
                let parts = pending.components(separatedBy: marker)
                if parts.count > 1 {
                    count += parts.count - 1
                    lastMarker = .now
                }
                pending = parts.last ?? ""
            } else if n == 0 {
                break
            } else {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        return count
    }

    func isClosed(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
            if n == 0 { return true }
            if n > 0 { buffer += String(decoding: chunk[0..<n], as: UTF8.self) } else { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return false
    }

    deinit { close(fd) }
}

/// The day `n` days from today in Warsaw, as `YYYY-MM-DD`.
func warsawDay(_ n: Int) -> String {
    var cal = Calendar(identifier: .gregorian)
    cal.timeZone = TimeZone(identifier: "Europe/Warsaw") ?? .gmt
    let d = cal.date(byAdding: .day, value: n, to: Date()) ?? Date()
    let c = cal.dateComponents([.year, .month, .day], from: d)
    return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
}

/// A registry with one card of every status and entitlement, dated around today.
func registryCSV() -> String {
    let past = warsawDay(-400), yesterday = warsawDay(-1), tomorrow = warsawDay(1), later = warsawDay(900)
    return """
        card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status
        SKS-0001;04:A1:10:22:33:44:80;senior60;;Halina;Wójcik;\(past);;active
        KDR-1001;04:B2:20:11:22:33:90;large_family;parent;Agnieszka;Dąbrowska;\(past);;active
        KDR-1003;;large_family;child;Zuzanna;Dąbrowska;\(past);\(later);active
        KDR-1004;;large_family;child;Jakub;Dąbrowski;\(past);\(yesterday);active
        KDR-1005;;large_family;child;Lena;Dąbrowska;\(past);\(yesterday);active
        KDR-1005;;disability;;Lena;Dąbrowska;\(past);\(later);active
        KDR-2003;;large_family;child;Antoni;Lewandowski;\(tomorrow);\(later);active
        USM-3001;;disability;;Michał;Jankowski;\(past);\(warsawDay(0));active
        USM-3003;;disability;;Grzegorz;Michalski;\(past);\(later);suspended
        SKS-0006;;senior60;;Jerzy;Zieliński;\(past);;lost
        SKS-0007;;senior60;;Danuta;Szymańska;\(past);;revoked
        SKS-0008;04:A1:10:22:33:44:87;senior60;;Henryk;Woźniak;\(past);;revoked
        SKS-0008;04:A1:10:22:33:44:97;senior60;;Henryk;Woźniak;\(past);;active
        CUS-0001;;staff;;Monika;Sikora;\(past);;active
        """
}

/// One HTTP/1.1 exchange over a raw socket, for answers URLSession cannot be trusted with on Linux
/// (it waits forever on a 401 that carries `WWW-Authenticate`). Returns the status and the headers.
func rawHTTP(_ method: String, host: String = "127.0.0.1", port: Int, path: String, headers: [String: String] = [:]) async throws -> (status: Int, headers: [String: String]) {
    let fd = try connectTCP(host: host, port: port)
    defer { close(fd) }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
    for (name, value) in headers { request += "\(name): \(value)\r\n" }
    request += "\r\n"
    _ = request.utf8CString.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count - 1, 0) }
    var text = ""
    var chunk = [UInt8](repeating: 0, count: 4096)
    let deadline = ContinuousClock.now + .seconds(10)
    while !text.contains("\r\n\r\n") {
        guard ContinuousClock.now < deadline else { throw TestFailure("no answer head: \(text)") }
        let n = recv(fd, &chunk, chunk.count, Int32(MSG_DONTWAIT))
        if n > 0 { text += String(decoding: chunk[0..<n], as: UTF8.self) } else if n == 0 { break } else { try await Task.sleep(for: .milliseconds(10)) }
    }
    let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
    let lines = head.components(separatedBy: "\r\n")
    let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
    var fields: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (status, fields)
}
