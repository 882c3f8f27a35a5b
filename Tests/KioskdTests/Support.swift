import Foundation
import KioskTestSupport
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

    init(state: String, arguments: [String] = [], environment: [String: String] = [:]) throws {
        self.state = state
        logPath = state + ".log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary("kioskd"))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["KIOSK_STATE_DIR"] = state
        env["KIOSK_HTTP_ADDR"] = "127.0.0.1:0"
        env["KIOSK_NFC_DEVICE"] = "none"
        env["KIOSK_LOG_LEVEL"] = "debug"
        process.environment = env.merging(environment) { $1 }
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
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
}

func http(_ method: String, _ url: String, body: String? = nil) async throws -> HTTPResult {
    guard let u = URL(string: url) else { throw TestFailure("bad url \(url)") }
    var request = URLRequest(url: u)
    request.httpMethod = method
    request.timeoutInterval = 10
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as? HTTPURLResponse
    return HTTPResult(status: http?.statusCode ?? 0, body: data, contentType: http?.value(forHTTPHeaderField: "Content-Type"))
}

/// Reads a Server-Sent Events stream over a raw TCP socket, as a browser's EventSource would.
final class SSEReader {
    private let fd: Int32
    private var buffer = ""

    init(host: String = "127.0.0.1", port: Int, path: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw TestFailure("connect failed: \(errno)") }
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
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 { buffer += String(decoding: chunk[0..<n], as: UTF8.self) } else if n == 0 { throw TestFailure("stream closed: \(buffer)") }
            await Task.yield()
        }
        return buffer
    }

    /// The JSON of the last `data:` line received.
    func lastEvent() -> [String: Any]? {
        guard let line = buffer.split(separator: "\n").last(where: { $0.hasPrefix("data: ") }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]
    }

    /// True once the server has closed the stream.
    func isClosed(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        var chunk = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n > 0 { buffer += String(decoding: chunk[0..<n], as: UTF8.self) }
            await Task.yield()
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
