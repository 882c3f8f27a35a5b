import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Blocking network steps (name resolution, connecting) on their own thread, each with a deadline:
/// a resolver that never answers cannot hold the doctor up.
enum Network {
    /// One resolved address of the central.
    struct Address: Sendable {
        var family: Int32
        var bytes: [UInt8]
        var text: String
    }

    enum Resolution: Sendable {
        case resolved([Address])
        case failed(String)
        case timedOut
    }

    enum Connection: Sendable, Equatable {
        case connected
        case failed(String)
        case timedOut
    }

    /// Runs `work` on a new thread; `nil` when it has not finished within `timeout`.
    static func withDeadline<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () -> T) async -> T? {
        let answer = FirstAnswer<T?>()
        return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            answer.wait(continuation)
            let thread = Thread { answer.give(work()) }
            thread.start()
            let (seconds, attoseconds) = timeout.components
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000))) {
                answer.give(nil)
            }
        }
    }

    /// `getaddrinfo` for a TCP connection to `host:port`.
    static func resolve(_ host: String, port: Int, timeout: Duration) async -> Resolution {
        await withDeadline(timeout) { () -> Resolution in
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            hints.ai_family = AF_UNSPEC
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0, let first = list else {
                return .failed(String(cString: gai_strerror(rc)))
            }
            defer { freeaddrinfo(first) }
            var out: [Address] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let sa = entry.pointee.ai_addr {
                    let bytes = Array(UnsafeRawBufferPointer(start: sa, count: Int(entry.pointee.ai_addrlen)))
                    var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    getnameinfo(sa, entry.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST)
                    out.append(Address(family: entry.pointee.ai_family, bytes: bytes, text: String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
                }
                cursor = entry.pointee.ai_next
            }
            return out.isEmpty ? .failed("no addresses") : .resolved(out)
        } ?? .timedOut
    }

    /// A TCP connection to `address`, closed at once.
    static func connect(_ address: Address, timeout: Duration) async -> Connection {
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return await withDeadline(timeout + .seconds(1)) { () -> Connection in
            let fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return .failed(String(cString: strerror(errno))) }
            defer { close(fd) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let rc = address.bytes.withUnsafeBytes { raw in
                Glibc.connect(fd, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
            if rc == 0 { return .connected }
            guard errno == EINPROGRESS else { return .failed(String(cString: strerror(errno))) }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, milliseconds)
            guard ready > 0 else { return .timedOut }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            return error == 0 ? .connected : .failed(String(cString: strerror(error)))
        } ?? .timedOut
    }
}

/// The first of two answers (the work's, the deadline's) resumes the waiter; the other is dropped.
private final class FirstAnswer<T: Sendable>: Sendable {
    private let waiter = Mutex<CheckedContinuation<T, Never>?>(nil)

    func wait(_ continuation: CheckedContinuation<T, Never>) {
        waiter.withLock { $0 = continuation }
    }

    func give(_ value: T) {
        waiter.withLock { pending in
            pending?.resume(returning: value)
            pending = nil
        }
    }
}
