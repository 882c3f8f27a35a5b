import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive `flock` on `<lockDirectory>/nfc-<device>.lock`, held while a reader loop or a
/// tag writer uses the device.
///
/// libnfc does not stop two clients from sharing one reader (its termios "lock" bit is dropped
/// on ptys), and two clients corrupt each other's frames, so the kiosk takes its own lock. The
/// lock belongs to the open file description: a second `DeviceLock` on the same device fails
/// even in the same process, and the kernel releases it if the process dies. The holder's PID is
/// written into the file so the refusal can name it.
final class DeviceLock {
    /// The lock file's path.
    let path: String
    /// The device named in messages.
    let device: String
    private var fd: Int32

    private init(path: String, device: String, fd: Int32) {
        self.path = path
        self.device = device
        self.fd = fd
    }

    deinit { release() }

    /// The lock file name for a connstring: `nfc-` plus the connstring with every character
    /// other than letters, digits, `.`, `-` and `_` replaced by `_`.
    static func fileName(for connstring: String) -> String {
        let safe = connstring.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "-", "_": Character(scalar)
            default: "_"
            }
        }
        return "nfc-" + String(safe) + ".lock"
    }

    /// Takes the lock for `connstring`, or fails at once.
    /// - Throws: ``ReaderError`` `.deviceInUse` naming the holder's PID, or
    ///   `.lockDirectoryUnusable`.
    static func acquire(connstring: String, in directory: String) throws(ReaderError) -> DeviceLock {
        let path = (directory.hasSuffix("/") ? directory : directory + "/") + fileName(for: connstring)
        // Created on first use (like `mkdir -p`); a failure shows up as the open() error below.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw ReaderError(
                code: .lockDirectoryUnusable, device: connstring,
                message: "cannot create the reader lock file \(path) (\(reason)): create the directory \(directory) and make it writable for the kiosk user"
            )
        }
        // Made by root (`sudo kioskctl doctor`, `sudo kioskctl card write`): the file goes to the lock
        // directory's owner, or the kiosk's own user could not open it afterwards and its reader would stop.
        var folder = stat()
        if geteuid() == 0, stat(directory, &folder) == 0, folder.st_uid != 0 {
            _ = fchown(fd, folder.st_uid, folder.st_gid)
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = readHolder(fd: fd)
            close(fd)
            let who = holder.map { "process \($0)" } ?? "another process"
            throw ReaderError(
                code: .deviceInUse, device: connstring,
                message: "reader \(connstring) is already used by \(who) (lock \(path)): stop it, or point this one at another reader (KIOSK_NFC_DEVICE)"
            )
        }
        let lock = DeviceLock(path: path, device: connstring, fd: fd)
        lock.writeHolder()
        return lock
    }

    /// Releases the lock (closing the file); later calls do nothing.
    func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        close(fd)
        fd = -1
    }

    private func writeHolder() {
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    private static func readHolder(fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        return Int32(String(text.prefix { $0.isASCII && $0.isNumber }))
    }
}
