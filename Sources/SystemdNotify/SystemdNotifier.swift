#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speaks systemd's notify protocol (`sd_notify(3)`) without libsystemd: one datagram per message
/// to the AF_UNIX socket named by `$NOTIFY_SOCKET`.
///
/// Spoken directly, so the kiosk does not link libsystemd for five lines of protocol, and a system
/// without systemd needs nothing: with no `NOTIFY_SOCKET` every send is a no-op.
public struct SystemdNotifier: Sendable {
    /// The socket address from `NOTIFY_SOCKET` (`/run/systemd/notify`, or `@name` for the Linux
    /// abstract namespace); nil when the process was not started by systemd as `Type=notify`.
    public let socketPath: String?
    /// How often systemd expects `WATCHDOG=1` (`WATCHDOG_USEC`); nil when the unit has no
    /// `WatchdogSec=`, or `WATCHDOG_PID` names another process (the variable was inherited).
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`; `processID`
    /// (this process's by default) is compared with `WATCHDOG_PID`.
    public init(environment: [String: String], processID: Int32? = nil) {
        let processID = processID ?? getpid()
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        var interval: Duration?
        if let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 {
            interval = .microseconds(Int64(clamping: usec))
        }
        // Like sd_watchdog_enabled(3): a WATCHDOG_PID that is not ours means the watchdog is someone else's.
        if let pidText = environment["WATCHDOG_PID"], !pidText.isEmpty, Int32(pidText) != processID {
            interval = nil
        }
        watchdogInterval = interval
    }

    /// Whether messages go anywhere (`NOTIFY_SOCKET` is set).
    public var isEnabled: Bool { socketPath != nil }

    /// Sends one message: `KEY=value` assignments, one per line (e.g. `READY=1`, `STATUS=…`).
    ///
    /// A no-op without `NOTIFY_SOCKET`. Newlines inside a `STATUS=` value would end the assignment;
    /// they are replaced by spaces.
    /// - Throws: ``SystemdNotifyError`` when the socket cannot be reached.
    public func send(_ assignments: [String]) throws(SystemdNotifyError) {
        guard let socketPath else { return }
        let message = assignments.map { line in
            String(line.map { $0.isNewline ? " " : $0 })
        }.joined(separator: "\n") + "\n"
        try Self.sendDatagram(message, to: socketPath)
    }

    /// `READY=1` with an optional `STATUS=`: start-up is complete.
    public func ready(status: String? = nil) throws(SystemdNotifyError) {
        try send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
    }

    /// `STATUS=…`: a line of plain words `systemctl status` shows.
    public func status(_ text: String) throws(SystemdNotifyError) {
        try send(["STATUS=\(text)"])
    }

    /// `STOPPING=1`: a graceful shutdown has begun.
    public func stopping(status: String? = nil) throws(SystemdNotifyError) {
        try send(["STOPPING=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
    }

    /// `WATCHDOG=1`: the service is alive. A no-op when the watchdog is not ours (see ``watchdogInterval``).
    public func watchdog() throws(SystemdNotifyError) {
        guard watchdogInterval != nil else { return }
        try send(["WATCHDOG=1"])
    }

    /// One datagram on a fresh socket, as `sd_notify` does; `@` at the start is the abstract namespace.
    static func sendDatagram(_ message: String, to path: String) throws(SystemdNotifyError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path socket needs room for its terminating NUL; an abstract name is counted exactly.
        guard !pathBytes.isEmpty, pathBytes.count <= capacity - (abstract ? 0 : 1) else {
            throw SystemdNotifyError(socket: path, errno: ENAMETOOLONG, operation: "address")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path) ?? 2
        let length = socklen_t(pathOffset + pathBytes.count + (abstract ? 0 : 1))

        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw SystemdNotifyError(socket: path, errno: errno, operation: "socket") }
        defer { close(fd) }
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { buffer in
                    #if canImport(Glibc)
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                    #else
                    sendto(fd, buffer.baseAddress, buffer.count, 0, socketAddress, length)
                    #endif
                }
            }
        }
        guard sent == bytes.count else {
            throw SystemdNotifyError(socket: path, errno: sent < 0 ? errno : EMSGSIZE, operation: "sendto")
        }
    }
}

/// A notify message could not be delivered to systemd.
public struct SystemdNotifyError: Error, CustomStringConvertible {
    /// The `NOTIFY_SOCKET` address.
    public var socket: String
    /// The system error number.
    public var errno: Int32
    /// The call that failed (`socket`, `sendto`, or `address` for a name that does not fit).
    public var operation: String

    /// Creates an error.
    public init(socket: String, errno: Int32, operation: String) {
        self.socket = socket
        self.errno = errno
        self.operation = operation
    }

    /// What failed, and what to check.
    public var description: String {
        let reason = String(cString: strerror(errno))
        return "cannot notify systemd at \(socket) (\(operation): \(reason)): check NOTIFY_SOCKET, or unset it when not run by systemd"
    }
}
