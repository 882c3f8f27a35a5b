#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `read(2)`, named apart from ``KeyFileIO/read(_:secret:)``.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

/// `write(2)`, named for symmetry with ``posixRead(_:_:_:)``.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, buffer, count)
}

/// Small POSIX file helpers for key files: one `open`, `fstat` on that descriptor, then `read`.
///
/// Checking the mode on the open descriptor (not on the path) leaves no gap between the
/// check and the read for the file to be swapped.
enum KeyFileIO {
    /// Largest key file accepted; a trusted-keys file with 256 keys is about 12 KiB.
    static let maxSize = 64 * 1024

    static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// Whether `path` is a directory (following symlinks).
    static func isDirectory(_ path: String) throws(KeyFileError) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let code = errno
            throw .cannotOpen(path: path, errno: code, reason: errorText(code))
        }
        return st.st_mode & 0o170000 == 0o040000
    }

    /// Names of the entries of directory `path`, sorted, without `.` and `..`.
    static func directoryEntries(_ path: String) throws(KeyFileError) -> [String] {
        guard let dir = opendir(path) else {
            let code = errno
            throw .cannotOpen(path: path, errno: code, reason: errorText(code))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The bytes of the regular file `path`; with `secret`, refuses a file that the group or others may access.
    static func read(_ path: String, secret: Bool) throws(KeyFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw .cannotOpen(path: path, errno: code, reason: errorText(code))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            throw .cannotOpen(path: path, errno: code, reason: errorText(code))
        }
        guard st.st_mode & 0o170000 == 0o100000 else { throw .notARegularFile(path: path) }
        if secret, st.st_mode & 0o077 != 0 {
            throw .insecurePermissions(path: path, mode: UInt32(st.st_mode))
        }
        guard st.st_size <= maxSize else { throw .tooLarge(path: path) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw .cannotOpen(path: path, errno: code, reason: errorText(code))
            }
            if n == 0 { break }
            out += buffer[..<n]
            guard out.count <= maxSize else { throw .tooLarge(path: path) }
        }
        return out
    }

    /// Removes `path`, ignoring failure (cleanup after a failed write).
    static func remove(_ path: String) {
        _ = unlink(path)
    }

    /// Creates `path` with `mode` (never replacing a file) and writes `bytes` to it.
    static func create(_ path: String, bytes: [UInt8], mode: mode_t) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST { throw .fileExists(path: path) }
            throw .cannotWrite(path: path, errno: code, reason: errorText(code))
        }
        var ok = true
        var code: Int32 = 0
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { posixWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                ok = false
                code = errno
                break
            }
            written += n
        }
        if ok, fsync(fd) != 0 {
            ok = false
            code = errno
        }
        if close(fd) != 0, ok {
            ok = false
            code = errno
        }
        guard ok else {
            unlink(path)
            throw .cannotWrite(path: path, errno: code, reason: errorText(code))
        }
    }
}
