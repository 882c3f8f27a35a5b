import Dispatch
import Foundation
import Glibc
import Synchronization

/// A line of the control protocol that cannot be understood.
public enum ControlCommandError: Error, Equatable, CustomStringConvertible {
    /// The line is not a valid command; the message lists what is accepted.
    case invalid(String)

    /// The message, suitable for an `error` reply.
    public var description: String {
        switch self {
        case .invalid(let message): message
        }
    }
}

/// One command of the control protocol: a single line of UTF-8 text, answered by one line.
///
/// Lines: `place {card JSON}`, `remove`, `fault silent 1500` (and the other ``EmulatorFault`` words),
/// `latency MS`, `status`. Answers: `ok`, `ok {status JSON}` for `status`, or `error MESSAGE`.
public enum EmulatorControlCommand: Sendable, Equatable {
    /// Put this card in the field.
    case place(EmulatedCard)
    /// Take the card out of the field.
    case remove
    /// Inject a fault.
    case fault(EmulatorFault)
    /// Set the per-command latency.
    case latency(milliseconds: Int)
    /// Report ``EmulatorStatus`` as JSON.
    case status

    /// Parses one line.
    ///
    /// - Throws: ``ControlCommandError`` listing the accepted commands.
    public init(line: String) throws(ControlCommandError) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        let words = trimmed.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        switch words.first?.lowercased() {
        case "place":
            let json = trimmed.dropFirst("place".count)
            let card: EmulatedCard
            do {
                card = try JSONDecoder().decode(EmulatedCard.self, from: Data(json.utf8))
            } catch {
                throw .invalid("place needs a card as JSON on the same line, e.g. place {\"kind\":\"ntag215\",\"uid\":\"04A1B2C3D4E5F6\"}")
            }
            do {
                try card.validate()
            } catch {
                throw .invalid(error.description)
            }
            self = .place(card)
        case "remove":
            self = .remove
        case "fault":
            self = .fault(try EmulatorFault(words: Array(words.dropFirst())))
        case "latency":
            guard words.count == 2, let ms = Int(words[1]), ms >= 0 else {
                throw .invalid("latency needs one non-negative number of milliseconds, e.g. \"latency 5\"")
            }
            self = .latency(milliseconds: ms)
        case "status":
            self = .status
        default:
            throw .invalid("unknown command \"\(trimmed.prefix(40))\"; use place JSON, remove, fault ..., latency MS or status")
        }
    }

    /// The line that encodes this command (without the newline).
    public var line: String {
        switch self {
        case .place(let card):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let json = (try? encoder.encode(card)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return "place \(json)"
        case .remove:
            return "remove"
        case .fault(let fault):
            return (["fault"] + fault.words).joined(separator: " ")
        case .latency(let ms):
            return "latency \(ms)"
        case .status:
            return "status"
        }
    }
}

extension PN532Emulator {
    /// Runs one control command and returns the reply line (`ok`, `ok {json}` or `error MESSAGE`).
    public func execute(_ command: EmulatorControlCommand) -> String {
        switch command {
        case .place(let card):
            do {
                try place(card)
            } catch {
                return "error \(error)"
            }
        case .remove:
            removeCard()
        case .fault(let fault):
            inject(fault)
        case .latency(let ms):
            commandLatency = .milliseconds(ms)
        case .status:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            guard let data = try? encoder.encode(status()) else { return "error status could not be encoded" }
            return "ok " + String(decoding: data, as: UTF8.self)
        }
        return "ok"
    }

    /// Parses and runs one control line.
    public func execute(line: String) -> String {
        do {
            return execute(try EmulatorControlCommand(line: line))
        } catch {
            return "error \(error.description)"
        }
    }
}

/// Serves the control protocol on a UNIX stream socket, one connection at a time, on a dedicated thread.
public final class EmulatorControlServer: Sendable {
    /// The socket's path.
    public let socketPath: String
    private let emulator: PN532Emulator
    private let listener: Int32
    private let wake: WakePipe
    private let stopRequested = Mutex(false)
    private let started = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the socket (replacing a stale socket file at that path) and starts listening.
    ///
    /// - Throws: ``EmulatorError/controlSocket(path:step:errno:)`` if the path is too long, taken or not writable.
    public init(emulator: PN532Emulator, socketPath: String) throws {
        self.emulator = emulator
        self.socketPath = socketPath
        var address = try UnixAddress(path: socketPath)
        var info = stat()
        if lstat(socketPath, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFSOCK else {
                throw EmulatorError.controlSocket(path: socketPath, step: "path exists and is not a socket; bind", errno: EEXIST)
            }
            _ = unlink(socketPath)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EmulatorError.controlSocket(path: socketPath, step: "socket", errno: errno) }
        guard address.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            let code = errno
            close(fd)
            throw EmulatorError.controlSocket(path: socketPath, step: "bind", errno: code)
        }
        guard listen(fd, 8) == 0 else {
            let code = errno
            close(fd)
            throw EmulatorError.controlSocket(path: socketPath, step: "listen", errno: code)
        }
        do {
            self.wake = try WakePipe.make()
        } catch {
            close(fd)
            throw error
        }
        self.listener = fd
    }

    deinit {
        close(listener)
        wake.close()
    }

    /// Starts accepting connections on a dedicated thread.
    public func start() {
        let first = started.withLock { started in
            defer { started = true }
            return !started
        }
        guard first else { return }
        let thread = Thread { [self] in
            acceptLoop()
            finished.signal()
        }
        thread.name = "pn532-emulator-control"
        thread.start()
    }

    /// Stops accepting, waits for the thread and removes the socket file; safe to call more than once.
    public func stop() {
        let first = stopRequested.withLock { requested in
            defer { requested = true }
            return !requested
        }
        guard first else { return }
        wake.wake()
        if started.withLock({ $0 }) { finished.wait() }
        _ = unlink(socketPath)
    }

    private func acceptLoop() {
        while !stopRequested.withLock({ $0 }) {
            var fds = [
                pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, -1) > 0 else { continue }
            if fds[1].revents != 0 { wake.drain() }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            serve(connection)
            close(connection)
        }
    }

    /// Answers each line until the client closes its side (or stays idle for 5 s).
    private func serve(_ connection: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                let reply = Array((emulator.execute(line: line) + "\n").utf8)
                guard sendAll(reply, to: connection) else { return }
            }
        }
    }
}

/// Sends control commands to a running `pn532-emulator serve --control SOCKET`.
public enum EmulatorControlClient {
    /// Sends one command and returns the reply line without `ok` (e.g. the status JSON, or "").
    ///
    /// - Throws: ``EmulatorError/controlSocket(path:step:errno:)`` if the socket cannot be reached,
    ///   ``EmulatorError/controlReply(_:)`` if the emulator answers `error ...`.
    public static func send(_ command: EmulatorControlCommand, socketPath: String) throws -> String {
        let reply = try sendLine(command.line, socketPath: socketPath)
        if reply == "ok" { return "" }
        if reply.hasPrefix("ok ") { return String(reply.dropFirst(3)) }
        if reply.hasPrefix("error ") { throw EmulatorError.controlReply(String(reply.dropFirst(6))) }
        throw EmulatorError.controlReply("unexpected answer \"\(reply.prefix(80))\"")
    }

    /// Sends one raw line and returns the raw reply line.
    public static func sendLine(_ line: String, socketPath: String) throws -> String {
        var address = try UnixAddress(path: socketPath)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EmulatorError.controlSocket(path: socketPath, step: "socket", errno: errno) }
        defer { close(fd) }
        guard address.withSockaddr({ connect(fd, $0, $1) }) == 0 else {
            throw EmulatorError.controlSocket(path: socketPath, step: "connect", errno: errno)
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard sendAll(Array((line + "\n").utf8), to: fd) else {
            throw EmulatorError.controlSocket(path: socketPath, step: "write", errno: errno)
        }
        _ = shutdown(fd, Int32(SHUT_WR))
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !reply.contains(0x0A) {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 { throw EmulatorError.controlSocket(path: socketPath, step: "read", errno: errno) }
            if count == 0 { break }
            reply += buffer[0..<count]
        }
        let text = String(decoding: reply.prefix { $0 != 0x0A }, as: UTF8.self)
        guard !text.isEmpty else { throw EmulatorError.controlReply("the emulator closed the connection without answering") }
        return text
    }
}

private func sendAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return false }
        offset += written
    }
    return true
}

/// A `sockaddr_un` for a filesystem path.
private struct UnixAddress {
    private var storage = sockaddr_un()

    init(path: String) throws(EmulatorError) {
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw .controlSocket(path: path, step: "path longer than \(capacity - 1) bytes; address", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }

    mutating func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
