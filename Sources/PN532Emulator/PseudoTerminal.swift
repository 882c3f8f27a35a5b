import Glibc

/// Why the emulator could not set up or serve its device.
public enum EmulatorError: Error, Equatable, CustomStringConvertible {
    /// A pseudo-terminal call failed; `step` names it.
    case pseudoTerminal(step: String, errno: Int32)
    /// The link path exists and is not a symlink, so the emulator will not replace it.
    case linkPathOccupied(String)
    /// The link could not be created.
    case linkFailed(path: String, errno: Int32)
    /// The control socket could not be set up or reached.
    case controlSocket(path: String, step: String, errno: Int32)
    /// The control channel answered with an error, or not in the protocol.
    case controlReply(String)

    /// What went wrong and what to try.
    public var description: String {
        switch self {
        case .pseudoTerminal(let step, let code):
            "cannot create a pseudo-terminal (\(step): \(errnoText(code))); check that /dev/ptmx and /dev/pts are available"
        case .linkPathOccupied(let path):
            "link path \(path) exists and is not a symlink; remove it or choose another --link path"
        case .linkFailed(let path, let code):
            "cannot create the link \(path) (\(errnoText(code))); check that its directory exists and is writable"
        case .controlSocket(let path, let step, let code):
            "control socket \(path): \(step) failed (\(errnoText(code))); is `pn532-emulator serve --control \(path)` running?"
        case .controlReply(let message):
            "emulator refused the command: \(message)"
        }
    }
}

func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// A pseudo-terminal pair: the emulator serves the master side, clients open the slave path.
///
/// The emulator also keeps the slave open itself, so the master never sees a hang-up between clients.
struct PseudoTerminal: Sendable {
    let master: Int32
    let slave: Int32
    let slavePath: String

    /// `TIOCGPTN` and `TIOCSPTLCK` from <asm-generic/ioctls.h> (x86_64, arm64): Glibc's module does not
    /// export `posix_openpt`/`unlockpt`/`ptsname_r`, so this does what they do on Linux.
    private static let getPtyNumber: UInt = 0x8004_5430
    private static let setPtyLock: UInt = 0x4004_5431

    static func open() throws(EmulatorError) -> PseudoTerminal {
        let master = Glibc.open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw .pseudoTerminal(step: "open /dev/ptmx", errno: errno) }
        var unlock: Int32 = 0
        guard ioctl(master, setPtyLock, &unlock) == 0 else {
            let code = errno
            _ = Glibc.close(master)
            throw .pseudoTerminal(step: "unlock (TIOCSPTLCK)", errno: code)
        }
        var number: UInt32 = 0
        guard ioctl(master, getPtyNumber, &number) == 0 else {
            let code = errno
            _ = Glibc.close(master)
            throw .pseudoTerminal(step: "pty number (TIOCGPTN)", errno: code)
        }
        let path = "/dev/pts/\(number)"
        let slave = Glibc.open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)
        guard slave >= 0 else {
            let code = errno
            _ = Glibc.close(master)
            throw .pseudoTerminal(step: "open \(path)", errno: code)
        }
        // Raw 8-bit line both ways: no echo, no line editing, no CR/LF translation.
        var settings = termios()
        if tcgetattr(slave, &settings) == 0 {
            cfmakeraw(&settings)
            settings.c_cflag |= tcflag_t(CLOCAL | CREAD)
            _ = tcsetattr(slave, TCSANOW, &settings)
        }
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
        return PseudoTerminal(master: master, slave: slave, slavePath: path)
    }

    func close() {
        _ = Glibc.close(slave)
        _ = Glibc.close(master)
    }
}

/// Maintains a symlink to the current device, like /dev/serial/by-id does for USB-serial adapters.
struct DeviceLink: Sendable {
    let path: String

    /// Fails if the path holds something other than a symlink.
    func checkReplaceable() throws(EmulatorError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFLNK else { throw .linkPathOccupied(path) }
    }

    /// Points the link at `target`, atomically replacing any previous link.
    func point(to target: String) throws(EmulatorError) {
        let temporary = "\(path).tmp-\(getpid())"
        _ = unlink(temporary)
        guard symlink(target, temporary) == 0 else { throw .linkFailed(path: path, errno: errno) }
        guard rename(temporary, path) == 0 else {
            let code = errno
            _ = unlink(temporary)
            throw .linkFailed(path: path, errno: code)
        }
    }

    /// Removes the link if it is still a symlink.
    func remove() {
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            _ = unlink(path)
        }
    }
}

/// A self-pipe that wakes a thread blocked in poll(2).
struct WakePipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32

    static func make() throws(EmulatorError) -> WakePipe {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw .pseudoTerminal(step: "pipe", errno: errno) }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        return WakePipe(readEnd: fds[0], writeEnd: fds[1])
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readEnd, &buffer, buffer.count) > 0 {}
    }

    func close() {
        _ = Glibc.close(readEnd)
        _ = Glibc.close(writeEnd)
    }
}
