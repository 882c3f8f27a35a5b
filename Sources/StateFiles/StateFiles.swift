#if canImport(Glibc)
public import Glibc
#elseif canImport(Darwin)
public import Darwin
#endif

/// The kiosk's files on disk are its residents' data: a state directory only its owner can enter
/// (0700) and files only its owner can read (0600), whatever the process umask.
///
/// SQLite creates a database's `-wal` and `-shm` files with the mode of the database file, so a
/// database file created here keeps its companions private too.
public enum StateFiles {
    /// The state directory's mode.
    public static let directoryMode: mode_t = 0o700
    /// Every state file's mode.
    public static let fileMode: mode_t = 0o600

    /// Creates `path` (and missing parents) as a directory only its owner can use, or tightens an existing one.
    public static func prepareDirectory(_ path: String) throws(StateFileError) {
        var info = stat()
        if stat(path, &info) != 0 {
            var prefix = ""
            for part in path.split(separator: "/", omittingEmptySubsequences: true) {
                prefix += (prefix.isEmpty && !path.hasPrefix("/") ? "" : "/") + part
                if mkdir(prefix, directoryMode) != 0 && errno != EEXIST {
                    throw StateFileError(path: prefix, problem: "cannot be created (\(describeErrno()))")
                }
            }
            guard stat(path, &info) == 0 else { throw StateFileError(path: path, problem: "cannot be created (\(describeErrno()))") }
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw StateFileError(path: path, problem: "is not a directory") }
        if info.st_mode & 0o777 != directoryMode, chmod(path, directoryMode) != 0 {
            throw StateFileError(path: path, problem: "cannot be made private (chmod 0700: \(describeErrno()))")
        }
    }

    /// Creates `path` empty with mode 0600 if it does not exist, or tightens it and its SQLite
    /// companions (`-wal`, `-shm`, `-journal`) if they do.
    public static func prepareFile(_ path: String) throws(StateFileError) {
        let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw StateFileError(path: path, problem: "cannot be opened (\(describeErrno()))") }
        close(fd)
        for file in [path, path + "-wal", path + "-shm", path + "-journal"] {
            var info = stat()
            guard stat(file, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            if info.st_mode & 0o777 != fileMode, chmod(file, fileMode) != 0 {
                throw StateFileError(path: file, problem: "cannot be made private (chmod 0600: \(describeErrno()))")
            }
        }
    }

    /// Refuses a file that anyone but its owner (and root) could change: a trusted-keys file or a
    /// token file that others can write would let them decide which cards or which central to trust.
    public static func checkOnlyOwnerCanWrite(_ path: String, what: String) throws(StateFileError) {
        var info = stat()
        guard stat(path, &info) == 0 else { throw StateFileError(path: path, problem: "\(what) cannot be read (\(describeErrno()))") }
        if info.st_mode & 0o022 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw StateFileError(path: path, problem: "\(what) can be changed by other users (mode \(mode)); run: chmod go-w \(path)")
        }
    }

    /// The permission bits of `path`, or `nil` if it does not exist.
    public static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }

    static func describeErrno() -> String {
        String(cString: strerror(errno))
    }
}

/// A state file or directory that cannot be made or kept private; the problem says what to do.
public struct StateFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
    public var description: String { "\(path) \(problem)" }
}

extension StateFiles {
    /// Writes `bytes` to `path` whole or not at all: a temporary file beside it (mode 0600) is written,
    /// fsynced and renamed over `path`, then the directory is fsynced, so a power cut leaves either the
    /// old file or the new one, never a torn one.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(StateFileError) {
        let temp = path + ".tmp"
        let fd = open(temp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw StateFileError(path: temp, problem: "cannot be written (\(describeErrno()))") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { raw in write(fd, raw.baseAddress.map { $0 + written }, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                let problem = "cannot be written (\(describeErrno())); check that the disk is not full"
                close(fd)
                unlink(temp)
                throw StateFileError(path: temp, problem: problem)
            }
            written += n
        }
        if fchmod(fd, fileMode) != 0 || fsync(fd) != 0 {
            let problem = "cannot be made private and flushed to disk (\(describeErrno()))"
            close(fd)
            unlink(temp)
            throw StateFileError(path: temp, problem: problem)
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let problem = "cannot be put in place (\(describeErrno()))"
            unlink(temp)
            throw StateFileError(path: path, problem: problem)
        }
        // The rename itself must survive a power cut too.
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let dirfd = open(directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }
}
