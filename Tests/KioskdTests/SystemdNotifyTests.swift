import Dispatch
import Foundation
import KioskTestSupport
import PN532Emulator
import Synchronization
import SystemdNotify
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The test plays systemd: it binds the notify socket, starts the real kioskd with NOTIFY_SOCKET and
// WATCHDOG_USEC, and reads what arrives.

/// An AF_UNIX datagram socket standing in for systemd's notify socket. A thread of its own receives
/// every datagram as it arrives, so each is stamped with its arrival time.
final class NotifySocket: Sendable {
    /// What to put in `NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace.
    let address: String
    private let fd: Int32
    private let inbox = Inbox()

    /// What the receiving thread shares with the test (the thread holds this, not the socket, so the
    /// socket's deinit runs and stops it).
    private final class Inbox: Sendable {
        let received = Mutex<[(at: ContinuousClock.Instant, text: String)]>([])
        let stopped = Mutex(false)
        let finished = DispatchSemaphore(value: 0)
    }

    init(abstract: Bool, dir: TempDir) throws {
        address = abstract ? "@cus-test-notify-\(UUID().uuidString.prefix(8))" : dir.file("notify.sock")
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard rc == 0 else {
            close(fd)
            throw TestFailure("cannot bind the notify socket \(address) (errno \(errno))")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let shared = inbox
        let socketFD = fd
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !shared.stopped.withLock({ $0 }) {
                let n = recv(socketFD, &buffer, buffer.count, 0)
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    shared.received.withLock { $0.append((.now, text)) }
                }
            }
            shared.finished.signal()
        }.start()
    }

    /// Every message so far, oldest first.
    var messages: [(at: ContinuousClock.Instant, text: String)] { inbox.received.withLock { $0 } }

    /// Waits for a message with a line that starts with `line` and returns it (and when it came).
    func wait(for line: String, after start: ContinuousClock.Instant? = nil, timeout: Duration = .seconds(30))
        async throws -> (at: ContinuousClock.Instant, text: String)
    {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found = messages.first { message in
                message.text.split(separator: "\n").contains { $0.hasPrefix(line) } && start.map { message.at >= $0 } ?? true
            }
            if let found { return found }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestFailure("no \(line) on the notify socket; got: \(messages.map(\.text))")
    }

    /// When each `WATCHDOG=1` came, from `start` on.
    func watchdogs(from start: ContinuousClock.Instant) -> [ContinuousClock.Instant] {
        messages.filter { $0.text.contains("WATCHDOG=1") && $0.at >= start }.map(\.at)
    }

    deinit {
        inbox.stopped.withLock { $0 = true }
        inbox.finished.wait()
        close(fd)
    }
}

@Suite("SystemdNotifier: the sd_notify protocol, spoken directly", .spawnsProcesses)
struct SystemdNotifierTests {
    @Test("a path socket and an abstract @name both get one datagram per message", arguments: [false, true])
    func sends(abstract: Bool) async throws {
        let dir = TempDir()
        let listener = try NotifySocket(abstract: abstract, dir: dir)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.address])
        #expect(notifier.isEnabled)
        try notifier.ready(status: "Serving\nat once")
        try notifier.stopping()
        _ = try await listener.wait(for: "STOPPING=1")
        #expect(listener.messages.map(\.text) == ["READY=1\nSTATUS=Serving at once\n", "STOPPING=1\n"])
    }

    @Test("without NOTIFY_SOCKET every message is a no-op, and there is no watchdog")
    func unset() throws {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000"])
        #expect(!notifier.isEnabled)
        try notifier.ready(status: "x")
        try notifier.watchdog()
        try notifier.stopping()
    }

    @Test("WATCHDOG_USEC gives the interval; a WATCHDOG_PID that is not ours turns the watchdog off")
    func watchdogPID() async throws {
        let dir = TempDir()
        let listener = try NotifySocket(abstract: false, dir: dir)
        let ours = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid())"])
        #expect(ours.watchdogInterval == .seconds(2))
        let inherited = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(getpid() + 1)"])
        #expect(inherited.watchdogInterval == nil)
        try inherited.watchdog()
        try inherited.status("after the inherited watchdog")
        try ours.watchdog()
        _ = try await listener.wait(for: "WATCHDOG=1")
        #expect(listener.messages.map(\.text) == ["STATUS=after the inherited watchdog\n", "WATCHDOG=1\n"])
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "0"]).watchdogInterval == nil)
    }

    @Test("a socket nobody listens on is an error that names NOTIFY_SOCKET")
    func unreachable() throws {
        let dir = TempDir()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("nobody.sock")])
        let error = try #require(throws: SystemdNotifyError.self) { try notifier.ready() }
        #expect(error.description.contains("NOTIFY_SOCKET"))
    }
}

@Suite("kioskd under systemd (Type=notify, WatchdogSec=)", .serialized, .spawnsProcesses)
struct KioskdSystemdTests {
    static func emulator(_ dir: TempDir) throws -> PN532Emulator {
        let emulator = try PN532Emulator(linkPath: dir.file("pn532"))
        emulator.start()
        return emulator
    }

    @Test("READY=1 only once the API answers and the reader loop runs; WATCHDOG=1 keeps coming; a wedged reader loop stops it", arguments: [false, true])
    func readyAndWatchdog(abstract: Bool) async throws {
        let dir = TempDir()
        let emulator = try Self.emulator(dir)
        defer { emulator.stop() }
        let listener = try NotifySocket(abstract: abstract, dir: dir)
        let state = dir.file("state")
        let kioskd = try KioskdProcess(state: state, environment: [
            "KIOSK_NFC_DEVICE": emulator.connstring, "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000",
            "LIBNFC_LOG_LEVEL": "0",
        ])

        // READY comes after the API listens: the address is written before READY is sent.
        let ready = try await listener.wait(for: "READY=1")
        let address = try #require(try? String(contentsOfFile: state + "/http.addr", encoding: .utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let status = try await http("GET", "http://\(address)/api/v1/status")
        #expect(status.status == 200)
        let readerState = (status.json?["reader"] as? [String: Any])?["state"] as? String
        // The loop runs; its first health report may still be on its way to the API.
        #expect(["absent", "opening", "ready"].contains(readerState), "\(readerState ?? "nil")")
        #expect(ready.text.contains("STATUS=Serving"))

        // Alive: a WATCHDOG=1 at half the interval.
        let aliveFrom = ContinuousClock.now
        try await Task.sleep(for: .seconds(3))
        #expect(listener.watchdogs(from: aliveFrom).count >= 2, "\(listener.messages.map(\.text))")
        _ = try await listener.wait(for: "STATUS=Serving at http://\(address); reader ready (\(emulator.connstring))")

        // Wedged: the reader thread stops where its own watchdog cannot free it (as in a kernel
        // call that never returns). The pings stop within one interval.
        let wedge = try ThreadFreezer(pid: kioskd.process.processIdentifier, threadName: "nfc-reader")
        let wedgedAt = ContinuousClock.now
        try await Task.sleep(for: .seconds(3))
        let quietFrom = ContinuousClock.now
        try await Task.sleep(for: .seconds(3))
        let late = listener.watchdogs(from: quietFrom)
        #expect(late.isEmpty, "WATCHDOG=1 went on \(late.count) times after the reader loop was wedged")
        _ = try await listener.wait(for: "STATUS=Wedged: the NFC reader loop has made no progress for ", after: wedgedAt)
        #expect(kioskd.log.contains("the NFC reader loop has made no progress"))

        // Freed again (systemd would have restarted it by now): it recovers, and stops cleanly.
        wedge.release()
        let freedAt = ContinuousClock.now
        _ = try await listener.wait(for: "WATCHDOG=1", after: freedAt)
        #expect(try await kioskd.terminate() == 0)
        _ = try await listener.wait(for: "STOPPING=1")
    }

    @Test("a reader that stops answering is not a wedged loop: its own watchdog reopens it, and WATCHDOG=1 keeps coming")
    func silentReaderKeepsWatchdog() async throws {
        let dir = TempDir()
        let emulator = try Self.emulator(dir)
        defer { emulator.stop() }
        let listener = try NotifySocket(abstract: false, dir: dir)
        let kioskd = try KioskdProcess(state: dir.file("state"), environment: [
            "KIOSK_NFC_DEVICE": emulator.connstring, "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "4000000",
            "LIBNFC_LOG_LEVEL": "0",
        ])
        _ = try await listener.wait(for: "READY=1")
        let address = try await kioskd.waitUntilListening()
        try await eventually("reader ready", timeout: .seconds(15)) {
            (try await http("GET", "http://\(address)/api/v1/status").json?["reader"] as? [String: Any])?["state"] as? String == "ready"
        }
        // The emulated PN532 answers nothing for 8 s: every libnfc call times out.
        let silentFrom = ContinuousClock.now
        emulator.inject(.silent(milliseconds: 8000))
        _ = try await listener.wait(for: "STATUS=Serving typed card numbers at http://\(address); reader error: reader \(emulator.connstring) ", after: silentFrom, timeout: .seconds(15))
        try await Task.sleep(for: .seconds(8) - (ContinuousClock.now - silentFrom))
        let pings = [silentFrom] + listener.watchdogs(from: silentFrom) + [ContinuousClock.now]
        let longestGap = zip(pings, pings.dropFirst()).map { $1 - $0 }.max() ?? .zero
        #expect(longestGap < .seconds(4), "systemd would have restarted kioskd: \(longestGap) without WATCHDOG=1")
        #expect(!listener.messages.contains { $0.text.contains("Wedged") })
        #expect(try await kioskd.terminate() == 0)
    }

    @Test("no reader: libnfc says nothing, the absence is logged once, the reader's arrival once; the loop is alive (READY, WATCHDOG)")
    func quietWithoutReader() async throws {
        let dir = TempDir()
        let listener = try NotifySocket(abstract: false, dir: dir)
        let path = dir.file("pn532")
        // LIBNFC_LOG_LEVEL removed: kioskd must quiet libnfc by itself, as on a fresh install.
        let kioskd = try KioskdProcess(
            state: dir.file("state"),
            environment: ["KIOSK_NFC_DEVICE": "pn532_uart:\(path)", "NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000", "KIOSK_LOG_LEVEL": "info"],
            unsetting: ["LIBNFC_LOG_LEVEL"]
        )
        _ = try await listener.wait(for: "READY=1")
        let absentFrom = ContinuousClock.now
        try await Task.sleep(for: .seconds(3))
        #expect(listener.watchdogs(from: absentFrom).count >= 2, "a kiosk with no reader is not wedged")
        var lines = kioskd.log.split(separator: "\n")
        #expect(!lines.contains { $0.contains("libnfc") }, "\(lines)")
        #expect(lines.filter { $0.contains("is not connected (its device path is missing)") }.count == 1, "\(lines)")

        // The reader is plugged in: one line says so.
        let emulator = try PN532Emulator(linkPath: path)
        emulator.start()
        defer { emulator.stop() }
        let address = try await kioskd.waitUntilListening()
        _ = try await listener.wait(for: "STATUS=Serving at http://\(address); reader ready (pn532_uart:\(path))", timeout: .seconds(15))
        try await Task.sleep(for: .seconds(1))
        lines = kioskd.log.split(separator: "\n")
        #expect(lines.filter { $0.contains("reader ready") }.count == 1, "\(lines)")
        #expect(!lines.contains { $0.contains("libnfc") }, "\(lines)")
        #expect(try await kioskd.terminate() == 0)
    }

    @Test("no reader found by libnfc's scan: no 'Unable to find USB busses', one line with the reason")
    func quietScan() async throws {
        let dir = TempDir()
        let kioskd = try KioskdProcess(state: dir.file("state"), environment: ["KIOSK_LOG_LEVEL": "info"], unsetting: ["LIBNFC_LOG_LEVEL", "KIOSK_NFC_DEVICE"])
        let address = try await kioskd.waitUntilListening()
        try await eventually("the reader reported absent", timeout: .seconds(15)) {
            (try await http("GET", "http://\(address)/api/v1/status").json?["reader"] as? [String: Any])?["last_error"] as? String != nil
        }
        try await Task.sleep(for: .seconds(3))
        let lines = kioskd.log.split(separator: "\n")
        #expect(!lines.contains { $0.contains("Unable to find USB busses") || $0.contains("libnfc") }, "\(lines)")
        #expect(lines.filter { $0.contains("no NFC reader found") }.count == 1, "\(lines)")
        #expect(try await kioskd.terminate() == 0)
    }
}

@Suite("cus-central under systemd (Type=notify)", .spawnsProcesses)
struct CentralSystemdTests {
    @Test("cus-central serve: READY=1 once it listens, STOPPING=1 on SIGTERM")
    func readyAndStopping() async throws {
        let dir = TempDir()
        let listener = try NotifySocket(abstract: true, dir: dir)
        let central = Process()
        central.executableURL = URL(fileURLWithPath: binary("cus-central"))
        central.arguments = ["serve", "--database", "sqlite:\(dir.file("central.db"))", "--listen", "127.0.0.1:0", "--address-file", dir.file("addr")]
        central.environment = ProcessInfo.processInfo.environment.merging(["NOTIFY_SOCKET": listener.address]) { $1 }
        central.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        central.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try central.run()
        defer { if central.isRunning { kill(central.processIdentifier, SIGKILL) } }
        let ready = try await listener.wait(for: "READY=1")
        // Listening before READY: the address file is written first, and the health route answers.
        let address = try #require(try? String(contentsOfFile: dir.file("addr"), encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ready.text.contains("STATUS=Serving the central API at \(address)"))
        #expect(try await http("GET", "http://\(address)/v1/health").status == 200)
        central.terminate()
        _ = try await listener.wait(for: "STOPPING=1")
        try await eventually("cus-central exits", timeout: .seconds(15)) { !central.isRunning }
        #expect(central.terminationStatus == 0)
    }
}

/// Stops one thread of another process (a ptrace stop of that thread alone, as a debugger does),
/// leaving its other threads running: the reader thread then looks exactly like a thread stuck in
/// a kernel call that never returns, which no `nfc_abort_command` can end.
///
/// `ptrace` is a variadic C function, which Swift does not import; it is called through its
/// address with the fixed four arguments, which the Linux calling conventions pass the same way.
final class ThreadFreezer: @unchecked Sendable {
    // @unchecked: `done` is a semaphore and `failure` is written before `ready` is signalled and read only after.
    private let done = DispatchSemaphore(value: 0)
    private let ready = DispatchSemaphore(value: 0)
    private var failure: String?

    private typealias PtraceFunction = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Int
    private static let seize: Int32 = 0x4206, interrupt: Int32 = 0x4207, detach: Int32 = 17

    init(pid: Int32, threadName: String) throws {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        guard let tid = tasks.compactMap(Int32.init).first(where: {
            (try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == threadName
        }) else { throw TestFailure("no thread \(threadName) in process \(pid)") }
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "ptrace") else { throw TestFailure("ptrace not found") }
        let ptrace = unsafeBitCast(symbol, to: PtraceFunction.self)
        // A ptrace tracer is a thread: the same thread seizes, and later detaches.
        let thread = Thread { [self] in
            if ptrace(Self.seize, tid, nil, nil) != 0 || ptrace(Self.interrupt, tid, nil, nil) != 0 {
                failure = "ptrace on thread \(tid) failed (errno \(errno)): the test needs ptrace permission over its child"
                ready.signal()
                return
            }
            // Stopped once /proc shows the tracing stop ("t").
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8)) ?? ""
                if let paren = stat.lastIndex(of: ")"), stat[paren...].dropFirst(2).first == "t" { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            ready.signal()
            done.wait()
            _ = ptrace(Self.detach, tid, nil, nil)
        }
        thread.start()
        ready.wait()
        if let failure { throw TestFailure(failure) }
    }

    /// Lets the thread run again.
    func release() { done.signal() }

    deinit { done.signal() }
}
