#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `<state_dir>/kioskd.lock`: one `kioskd` per state directory, and no
/// `kioskctl restore` under a running one.
///
/// The kernel drops the lock when the process dies, so a `kill -9` or a power cut never leaves a
/// stale lock behind (a lock file's mere existence means nothing).
public final class StateLock: Sendable {
    /// The lock file.
    public let path: String
    private let fd: Int32

    /// The lock file's name inside the state directory.
    public static let fileName = "kioskd.lock"

    /// Takes the lock on `directory`, or throws at once if someone holds it.
    /// - Parameter holder: who wants it, for the error message ("kioskd", "kioskctl restore").
    public init(directory: String, holder: String) throws(StateFileError) {
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, StateFiles.fileMode)
        guard fd >= 0 else { throw StateFileError(path: path, problem: "cannot be opened (\(StateFiles.describeErrno()))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = StateFiles.describeErrno()
            close(fd)
            throw StateFileError(
                path: path,
                problem: busy
                    ? "is held by another process: a kioskd (or a kioskctl restore) is already using this state directory; stop it first (systemctl stop kioskd) before \(holder)"
                    : "cannot be locked (\(reason))"
            )
        }
        _ = fchmod(fd, StateFiles.fileMode)
        self.path = path
        self.fd = fd
    }

    deinit {
        // Closing the descriptor releases the flock.
        close(fd)
    }
}
