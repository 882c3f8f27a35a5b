import CardModel
@testable import CentralStore
import CentralWire
import Foundation
import HummingbirdTesting
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The central keeps answering kiosks while others download the snapshot slowly.
@Suite("cus-central under bootstrapping kiosks", .serialized)
struct BootstrapLoadTests {
    @Test("four slow snapshot downloads do not hold up a feed page or a request upload", arguments: TestBackend.allCases)
    func slowSnapshotsDoNotBlockOtherCalls(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withServer(backend) { h, client in
            // Big enough that a snapshot (about 5 MB gzipped) outgrows the kernel's socket buffers
            // (up to 4 MB on loopback): a slow reader really holds the download open.
            try await bulkRegistry(h.store, cards: 60_000)
            let port = try #require(client.port)
            let readers = (0..<4).map { _ in SlowReader(port: port, path: "/v1/registry/snapshot", token: h.kioskA) }
            defer { readers.forEach { $0.stop() } }
            for reader in readers { reader.start() }
            // Every download has its answer's head and is streaming.
            let deadline = ContinuousClock.now + .seconds(30)
            while readers.contains(where: { $0.received < 1024 }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(readers.allSatisfy { $0.head.hasPrefix("HTTP/1.1 200") }, "\(readers.map(\.head))")
            // Let the server fill the socket buffers and block on the slow readers.
            try await Task.sleep(for: .seconds(3))

            // Held up behind the downloads, a call would wait as long as they stream (they never end here);
            // 15 s leaves room for a loaded 2-core CI machine without letting a blocked call pass.
            let bound = Duration.seconds(15)
            let feed = try await rawHTTP(port: port, "GET /v1/registry/changes?after=0&limit=50", token: h.kioskB, timeout: 30)
            #expect(feed.status == 200)
            #expect(feed.elapsed < bound, "a feed page took \(feed.elapsed) while snapshots streamed")

            let item = #"{"requests":[{"idempotency_key":"\#(uuid7())","kiosk_seq":1,"created_at":"2025-03-01T10:15:00Z","service":"senior_taxi","card_number":"SEN-0001"}]}"#
            let upload = try await rawHTTP(port: port, "POST /v1/requests", token: h.kioskB, body: item, timeout: 30)
            #expect(upload.status == 200)
            #expect(upload.text.contains(#""outcome":"accepted""#), "\(upload.text)")
            #expect(upload.elapsed < bound, "a request upload took \(upload.elapsed) while snapshots streamed")

            let staff = try await rawHTTP(port: port, "GET /v1/staff/requests", token: h.staff, timeout: 30)
            #expect(staff.status == 200)
            #expect(staff.elapsed < bound)

            // A fifth snapshot waits a bounded time for a slot, then is told when to come back.
            let fifth = try await rawHTTP(port: port, "GET /v1/registry/snapshot", token: h.kioskB, timeout: 20)
            #expect(fifth.status == 503, "\(fifth.text.prefix(300))")
            #expect(fifth.text.lowercased().contains("retry-after: 2"), "\(fifth.text.prefix(300))")
            #expect(fifth.elapsed < bound, "a fifth snapshot waited \(fifth.elapsed) for a slot")

            // The downloads were still going all along: the test measured what it claims to.
            #expect(readers.allSatisfy { !$0.finished }, "a snapshot finished too soon; make the registry bigger")
        }
    }
}

/// Writes `cards` chip cards with random UIDs, series and person ids straight into the tables (an
/// import of that many rows takes too long in a debug build); random, so that gzip cannot shrink them much.
func bulkRegistry(_ store: any CentralStore, cards: Int) async throws {
    let backend = try #require((store as? RelationalCentralStore)?.backend)
    try await backend.transaction(.write) { db in
        switch backend.dialect {
        case .sqlite:
            try await db.execute("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(cards))
                INSERT INTO person (id, display_name) SELECT lower(hex(randomblob(32))), 'Anna K.' FROM n
                """)
            try await db.execute("""
                INSERT INTO card (number, uid, technology, series, status, person_id)
                SELECT 'BIG' || rowid, hex(randomblob(10)), 'ntag216', hex(randomblob(16)), 'active', id FROM person
                """)
        case .postgres:
            try await db.execute("""
                INSERT INTO person (id, display_name)
                SELECT md5(random()::text) || md5(random()::text), 'Anna K.' FROM generate_series(1, \(cards))
                """)
            try await db.execute("""
                INSERT INTO card (number, uid, technology, series, status, person_id)
                SELECT 'BIG' || row_number() OVER (), upper(substr(md5(random()::text), 1, 20)), 'ntag216',
                       upper(md5(random()::text)), 'active', id FROM person
                """)
        }
    }
}

/// A blocking loopback socket with a small receive buffer and both timeouts set.
func loopbackSocket(port: Int, receiveBuffer: Int32?, timeout: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CentralStoreError(.unavailable, "socket() failed") }
    if var size = receiveBuffer {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }
    var tv = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port)).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw CentralStoreError(.unavailable, "connect() to 127.0.0.1:\(port) failed")
    }
    return fd
}

func sendAll(_ fd: Int32, _ text: String) {
    let bytes = Array(text.utf8)
    var sent = 0
    while sent < bytes.count {
        let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { return }
        sent += n
    }
}

/// One HTTP/1.1 exchange over a fresh connection (`Connection: close`), on a Dispatch thread, never
/// waiting more than `timeout` seconds for a byte: a hung server fails the test instead of hanging it.
func rawHTTP(port: Int, _ requestLine: String, token: String, body: String? = nil, timeout: Int = 5) async throws -> (status: Int, text: String, elapsed: Duration) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            let start = ContinuousClock.now
            do {
                let fd = try loopbackSocket(port: port, receiveBuffer: nil, timeout: timeout)
                defer { close(fd) }
                var head = "\(requestLine) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n"
                if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
                sendAll(fd, head + "\r\n" + (body ?? ""))
                var data: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    data += buffer[..<n]
                }
                let text = String(decoding: data, as: UTF8.self)
                let status = Int(text.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
                continuation.resume(returning: (status, text, ContinuousClock.now - start))
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// A kiosk on a slow line: asks for `path`, then reads 4 KiB every 100 ms until stopped.
final class SlowReader: Sendable {
    private struct State {
        var received = 0
        var head = ""
        var finished = false
        var stopped = false
        var fd: Int32 = -1
    }
    private let state = Mutex(State())
    let port: Int
    let path: String
    let token: String

    init(port: Int, path: String, token: String) {
        self.port = port
        self.path = path
        self.token = token
    }

    var received: Int { state.withLock { $0.received } }
    var head: String { state.withLock { $0.head } }
    var finished: Bool { state.withLock { $0.finished } }

    func start() {
        let thread = Thread { [self] in
            guard let fd = try? loopbackSocket(port: port, receiveBuffer: 4096, timeout: 30) else {
                state.withLock { $0.finished = true }
                return
            }
            state.withLock { $0.fd = fd }
            sendAll(fd, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nAccept-Encoding: gzip\r\n\r\n")
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !state.withLock({ $0.stopped }) {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 {
                    state.withLock { $0.finished = !$0.stopped }
                    break
                }
                state.withLock { s in
                    if s.head.isEmpty { s.head = String(decoding: buffer[..<min(n, 200)], as: UTF8.self) }
                    s.received += n
                }
                usleep(100_000)
            }
        }
        thread.start()
    }

    /// Closes the connection (the server's next write fails and it gives the snapshot's connection back).
    func stop() {
        let fd: Int32 = state.withLock { s in
            s.stopped = true
            return s.fd
        }
        if fd >= 0 {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }
}
