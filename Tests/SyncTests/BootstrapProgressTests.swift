import Foundation
import KioskTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A bootstrap from a real `cus-central`, held part-way by a proxy, shows its progress in `/api/v1/status`.
@Suite("Bootstrap progress in the status", .spawnsProcesses)
struct BootstrapProgressTests {
    @Test func aRunningBootstrapReportsCardsTotalPercentAndTimeLeft() async throws {
        let dir = TempDir(prefix: "bootstrap-progress")
        let central = CentralProcess(dir: dir)
        let total = 8000
        try await central.importRegistry(bigRegistryCSV(count: total, prefix: "PRG"))
        let token = try await central.enrolKiosk("progress-1")
        try await central.start()
        let upstream = try #require(central.address.split(separator: ":").last.flatMap { Int($0) })
        // The gzip snapshot is ~28 bytes a card: some 3,000 cards get through, then the reply waits part-way.
        let proxy = try StallingProxy(upstreamPort: upstream, stallAfter: 90_000)
        let kiosk = try Kiosk(state: dir.file("state"), central: proxy.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()

        var bootstrap: [String: Any] = [:]
        try await eventually("a bootstrap held part-way with cards stored", timeout: .seconds(60)) {
            guard proxy.isStalling else { return false }
            bootstrap = try await kiosk.status()["bootstrap"] as? [String: Any] ?? [:]
            return (bootstrap["cards"] as? Int ?? 0) > 0
        }
        let cards = try #require(bootstrap["cards"] as? Int)
        #expect(cards < total && cards % 2000 == 0, "stored per batch of 2000: \(cards)")
        #expect(bootstrap["total"] as? Int == total)
        #expect(bootstrap["percent"] as? Int == cards * 100 / total)
        #expect((bootstrap["eta_seconds"] as? Int).map { $0 >= 0 } == true)
        let started = try #require(bootstrap["started"] as? String)
        #expect(try Date(started, strategy: .iso8601) <= Date())
        // Until the commit the replica answers from what it had: nothing.
        #expect(try await kiosk.cardCount() == 0)
        // The central has answered: the kiosk is online while the snapshot comes, not "offline, not synced yet".
        let link = try #require(try await kiosk.status()["central"] as? [String: Any])
        #expect(link["state"] as? String == "online")
        #expect(link["last_error"] == nil)
        #expect(link["last_contact"] is String)

        proxy.release()
        try await eventually("the bootstrap over", timeout: .seconds(120)) {
            let status = try await kiosk.status()
            return status["bootstrap"] == nil && (status["replica"] as? [String: Any])?["cards"] as? Int == total
        }
    }
}

/// A sync against a central that takes the connection and never answers is not a bootstrap: the
/// status says offline and shows no progress, so the screen does not say "Przygotowanie danych…".
@Suite("No bootstrap without the central", .spawnsProcesses)
struct SilentCentralTests {
    @Test func aSnapshotAskedOfASilentCentralShowsNoProgress() async throws {
        let dir = TempDir(prefix: "silent-central")
        let silent = try SilentServer()
        let kiosk = try Kiosk(state: dir.file("state"), central: silent.url, token: "cusk_silent-1_0123456789abcdef0123456789")
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        let syncURL = kiosk.base + "/sync"
        let syncing = Task { _ = try? await http("POST", syncURL, timeout: 300) }
        defer { syncing.cancel() }
        try await eventually("kioskd asking for the snapshot", timeout: .seconds(30)) { silent.requests.contains("/v1/registry/snapshot") }
        for _ in 0..<10 {
            let status = try await kiosk.status()
            let progress = status["bootstrap"].map { "\($0)" }
            let state = (status["central"] as? [String: Any])?["state"] as? String
            #expect(progress == nil, "\(progress ?? "")")
            #expect(state == "offline")
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// A loopback server that takes connections, reads what comes and never answers.
final class SilentServer: Sendable {
    let port: Int
    private let listener: Int32
    private let received = Mutex("")

    init() throws {
        let (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("the silent server cannot listen")
        }
        listener = fd
        self.port = port
        Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                Thread { [self] in
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let n = recv(client, &buffer, buffer.count, 0)
                        if n <= 0 { break }
                        let text = String(decoding: buffer[0..<n], as: UTF8.self)
                        received.withLock { $0 += text }
                    }
                    close(client)
                }.start()
            }
        }.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Everything the server has been sent so far.
    var requests: String { received.withLock { $0 } }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

/// A TCP proxy to a local server that holds back the reply to `GET /v1/registry/snapshot` after
/// `stallAfter` bytes until ``release()``; every other byte goes through untouched.
final class StallingProxy: Sendable {
    let port: Int
    private let listener: Int32
    private let released = Mutex(false)
    private let stalling = Mutex(false)

    init(upstreamPort: Int, stallAfter: Int) throws {
        let (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw TestFailure("the proxy cannot listen")
        }
        listener = fd
        self.port = port
        Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                guard let server = try? connectTCP(port: upstreamPort) else {
                    close(client)
                    continue
                }
                let connection = Connection()
                Thread {
                    Self.pump(from: client, to: server) { bytes in
                        if String(decoding: bytes.prefix(64), as: UTF8.self).contains("/v1/registry/snapshot") {
                            connection.isSnapshot.withLock { $0 = true }
                        }
                    }
                    connection.done(client, server)
                }.start()
                Thread { [self] in
                    var forwarded = 0
                    var held = false
                    Self.pump(from: server, to: client) { bytes in
                        guard !held, connection.isSnapshot.withLock({ $0 }) else { return }
                        forwarded += bytes.count
                        guard forwarded > stallAfter else { return }
                        held = true
                        stalling.withLock { $0 = true }
                        while !released.withLock({ $0 }) { usleep(10_000) }
                        stalling.withLock { $0 = false }
                    }
                    connection.done(server, client)
                }.start()
            }
        }.start()
    }

    /// One proxied connection: whether it carries the snapshot, and its sockets closed once both directions end.
    private final class Connection: Sendable {
        let isSnapshot = Mutex(false)
        private let ended = Mutex(0)

        func done(_ a: Int32, _ b: Int32) {
            let both = ended.withLock { n in
                n += 1
                return n == 2
            }
            if both {
                close(a)
                close(b)
            }
        }
    }

    /// Copies bytes until either side closes, showing each chunk to `inspect` before sending it on.
    private static func pump(from source: Int32, to sink: Int32, inspect: ([UInt8]) -> Void) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = recv(source, &buffer, buffer.count, 0)
            if n <= 0 { break }
            let chunk = Array(buffer[0..<n])
            inspect(chunk)
            var sent = 0
            while sent < n {
                let m = chunk[sent...].withUnsafeBytes { send(sink, $0.baseAddress, n - sent, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { break }
                sent += m
            }
            if sent < n { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(sink, Int32(SHUT_RDWR))
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// True while the snapshot's reply is held back.
    var isStalling: Bool { stalling.withLock { $0 } }

    /// Lets the snapshot's reply go on.
    func release() { released.withLock { $0 = true } }

    deinit {
        release()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
