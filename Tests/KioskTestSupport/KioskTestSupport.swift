import Dispatch
public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Helpers shared by the test targets that run cus-kiosk's programs as real processes: temporary
// folders, the built executables, running a program to completion, free ports, polling.

/// A fresh folder under the system temp dir, removed when the test ends.
public final class TempDir: Sendable {
    /// The folder.
    public let path: String

    /// Makes the folder; `prefix` names it after the suite, for reading leftovers.
    public init(prefix: String = "cus-test") {
        path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to a file in the folder and returns its path.
    public func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A test step that did not happen, with what was seen instead.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Where the package's executables were built: beside the test bundle (the same build), or `KIOSK_BIN_DIR`.
///
/// Never another build folder: a binary left there by an older build would test old code. When the
/// executable is missing, the path beside the bundle is still returned, so starting it fails loudly.
public func binary(_ name: String) -> String {
    if let dir = ProcessInfo.processInfo.environment["KIOSK_BIN_DIR"] { return dir + "/" + name }
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for candidate in [bundleDir, bundleDir.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return bundleDir.appendingPathComponent(name).path
}

/// The outcome of a finished process.
public struct Finished: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to completion with extra environment.
/// Runs a program to completion with extra environment, waiting for it on a Dispatch thread.
///
/// Async tests use this one: a test that blocks one of the few cooperative threads while its child
/// waits for a server running in-process on those same threads (a PostgreSQL advisory lock held by an
/// in-process store, say) can deadlock the whole test run on a 2-core machine.
public func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Finished {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runBlocking(program, arguments, environment: environment) })
        }
    }
}

/// Runs a program to completion, blocking the calling thread (synchronous tests only).
public func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Finished {
    try runBlocking(program, arguments, environment: environment)
}

func runBlocking(_ program: String, _ arguments: [String], environment: [String: String]) throws -> Finished {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // Read stderr on its own thread, so a child that fills one pipe while the other is read never stalls.
    let errorData = Mutex(Data())
    let errorRead = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errorData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
        errorRead.signal()
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    errorRead.wait()
    let e = errorData.withLock { $0 }
    p.waitUntilExit()
    return Finished(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A TCP socket bound to a free port on 127.0.0.1, not yet listening; the caller closes it.
public func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else {
        close(fd)
        throw TestFailure("cannot bind a socket on 127.0.0.1")
    }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

/// A free TCP port on 127.0.0.1 (bound, then released).
public func freePort() throws -> Int {
    let (fd, port) = try boundLoopbackSocket()
    close(fd)
    return port
}

/// A TCP connection to `host:port`; the caller closes it.
///
/// - Parameter receiveBuffer: a small socket receive buffer (set before connecting), to play a slow reader.
public func connectTCP(host: String = "127.0.0.1", port: Int, receiveBuffer: Int32? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &addr.sin_addr)
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw TestFailure("cannot connect to \(host):\(port) (errno \(errno))")
    }
    return fd
}

/// Polls `condition` until it holds; generous by default for a loaded machine.
public func eventually(_ what: String, timeout: Duration = .seconds(90), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(200))
    }
    throw TestFailure("timed out waiting for: \(what)")
}

/// Details that pass the standard catalogue's rules for `service` (dates a few days ahead in Warsaw), as JSON text.
public func requestDetailsJSON(for service: String) -> String {
    func day(_ n: Int) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "Europe/Warsaw") ?? .gmt
        let d = cal.date(byAdding: .day, value: n, to: Date()) ?? Date()
        let c = cal.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }
    let window = #"{"from":"\#(day(5))","to":"\#(day(9))"}"#
    switch service {
    case "senior_taxi":
        return #"{"pickup":"ul. Kolejowa 5","destination":"Przychodnia, ul. Radomska 70","date":"\#(day(3))","time":"10:30"}"#
    case "home_care", "respite_care", "mobile_physiotherapist":
        return #"{"address":"ul. Kolejowa 5, Starachowice","when":\#(window)}"#
    case "handyman":
        return #"{"address":"ul. Kolejowa 5, Starachowice","when":\#(window),"note":"cieknie kran"}"#
    case "vaccinations":
        return #"{"when":\#(window)}"#
    case "theatre_trips":
        return #"{"people":2}"#
    case "training_flats", "flat_specialists", "family_crisis_support":
        return #"{"note":"prosimy o kontakt"}"#
    case "home_support":
        return #"{"address":"ul. Kolejowa 5, Starachowice","when":\#(window),"note":"pomoc po operacji"}"#
    case "senior_health":
        return #"{"when":\#(window)}"#
    case "family_in_crisis":
        return #"{"note":"prosimy o kontakt"}"#
    default:
        return "{}"
    }
}

/// Waits for `process` to end without holding a thread of the cooperative pool (unlike `waitUntilExit()`).
/// - Returns: `false` when it has not ended within `timeout`.
public func waitForExit(_ process: Process, timeout: Duration = .seconds(60)) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// A tiny deterministic random generator (SplitMix64), so that generated test inputs are the same on every run.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
