import Crypto
public import Foundation
import GRDB
import StateFiles
#if canImport(Glibc)
import Glibc
#endif

/// Backs up a kiosk's databases (`replica.sqlite`, `outbox.sqlite`) and restores them.
///
/// A backup is a folder `cus-kiosk-backup-<UTC time>` holding a consistent copy of each database,
/// made with SQLite's online backup while `kioskd` keeps running, and a `manifest.json` with each
/// file's size and SHA-256. It is written under a `.partial` name and renamed when complete and on
/// disk, so a folder with the final name is always a whole backup. Backups hold residents' data:
/// folders are 0700 and files 0600, like the state directory.
///
/// A restore needs `kioskd` stopped (it takes the state directory's ``StateLock``), checks every file
/// against the manifest and with `PRAGMA integrity_check` before touching anything, and refuses to
/// drop requests the current outbox has not delivered yet unless forced.
public enum StateBackup {
    /// The databases a backup holds, in the state directory.
    public static let databaseNames = ["replica.sqlite", "outbox.sqlite"]
    /// Every backup folder's name starts with this.
    public static let folderPrefix = "cus-kiosk-backup-"

    /// What a backup folder says about itself (`manifest.json`).
    public struct Manifest: Codable, Sendable, Equatable {
        /// One database file in the backup.
        public struct File: Codable, Sendable, Equatable {
            public var name: String
            public var bytes: Int
            public var sha256: String
        }
        /// The manifest's format (1).
        public var format: Int
        /// When the backup was taken.
        public var created: Date
        /// The kiosk's name (`kiosk_name`), to tell backups of several kiosks apart.
        public var kiosk: String
        public var files: [File]
    }

    /// What a restore did.
    public struct RestoreReport: Sendable, Equatable {
        /// The databases replaced.
        public var restored: [String]
        /// Requests the old outbox had not delivered and that the backup did not hold (only with `force`).
        public var discardedPending: Int
    }

    /// Takes a backup of `stateDirectory` into a new folder under `parent`, and keeps only the newest
    /// `keep` backups there.
    /// - Returns: the new backup folder.
    public static func create(stateDirectory: String, into parent: String, kiosk: String, keep: Int, now: Date = Date()) throws(BackupError) -> String {
        do { try StateFiles.prepareDirectory(parent) } catch {
            throw BackupError("the backup folder \(error.description)")
        }
        let stamp = Self.stamp(now)
        let name = folderPrefix + stamp
        let final = parent + "/" + name
        let partial = parent + "/." + name + ".partial"
        guard !FileManager.default.fileExists(atPath: final) else {
            throw BackupError("\(final) exists already; wait a second and run the backup again")
        }
        try? FileManager.default.removeItem(atPath: partial)
        do { try StateFiles.prepareDirectory(partial) } catch { throw BackupError("the backup folder \(error.description)") }

        var files: [Manifest.File] = []
        for database in databaseNames {
            let source = stateDirectory + "/" + database
            guard FileManager.default.fileExists(atPath: source) else {
                if database == "replica.sqlite" {
                    try? FileManager.default.removeItem(atPath: partial)
                    throw BackupError("there is no replica at \(source): nothing to back up (is state_dir right?)")
                }
                continue
            }
            let target = partial + "/" + database
            do {
                try StateFiles.prepareFile(target)
                let from = try openReadOnly(source)
                let to = try DatabaseQueue(path: target)
                try from.backup(to: to)
                // A self-contained file: no -wal beside it in the backup.
                try to.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
                try from.close()
                try to.close()
            } catch let error as BackupError {
                throw error
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw BackupError("cannot copy \(source): \(describe(error))")
            }
            try checkIntegrity(target)
            try syncFile(target)
            files.append(try fileEntry(target, name: database))
        }
        let manifest = Manifest(format: 1, created: now, kiosk: kiosk, files: files)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let path = partial + "/manifest.json"
            try StateFiles.prepareFile(path)
            try encoder.encode(manifest).write(to: URL(fileURLWithPath: path))
            try syncFile(path)
            try syncFile(partial)
            try FileManager.default.moveItem(atPath: partial, toPath: final)
            try syncFile(parent)
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("cannot finish the backup in \(parent): \(describe(error))")
        }
        prune(parent, keep: keep)
        return final
    }

    /// Checks a backup folder: its manifest, each file's size and SHA-256, and SQLite's integrity check.
    public static func verify(_ folder: String) throws(BackupError) -> Manifest {
        let manifest: Manifest
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            manifest = try decoder.decode(Manifest.self, from: data)
        } catch {
            throw BackupError("\(folder) is not a kiosk backup (no readable manifest.json): \(describe(error))")
        }
        guard manifest.format == 1 else { throw BackupError("\(folder) has backup format \(manifest.format); this kioskctl knows format 1") }
        guard manifest.files.contains(where: { $0.name == "replica.sqlite" }) else {
            throw BackupError("\(folder) holds no replica.sqlite")
        }
        for file in manifest.files {
            guard databaseNames.contains(file.name) else { throw BackupError("\(folder) names an unexpected file \(file.name)") }
            let path = folder + "/" + file.name
            let actual = try fileEntry(path, name: file.name)
            guard actual == file else {
                throw BackupError("\(path) does not match the manifest (size or SHA-256 differs): the backup is damaged; use another one")
            }
            try checkIntegrity(path)
        }
        return manifest
    }

    /// Replaces the state directory's databases with those of the backup `folder`.
    ///
    /// - Parameter force: restore even though the current outbox holds undelivered requests the backup lacks.
    /// - Throws: ``BackupError`` before anything changed when the backup is damaged, `kioskd` runs, or
    ///   requests would be lost.
    public static func restore(from folder: String, into stateDirectory: String, force: Bool) throws(BackupError) -> RestoreReport {
        let manifest = try verify(folder)
        do { try StateFiles.prepareDirectory(stateDirectory) } catch { throw BackupError("the state directory \(error.description)") }
        let lock: StateLock
        do { lock = try StateLock(directory: stateDirectory, holder: "restoring") } catch {
            throw BackupError(error.description)
        }
        defer { withExtendedLifetime(lock) {} }

        // Nothing lost, ever: requests queued after the backup was taken would vanish with the old outbox.
        let currentOutbox = stateDirectory + "/outbox.sqlite"
        var lost = 0
        if FileManager.default.fileExists(atPath: currentOutbox) {
            let pending = try keys(in: currentOutbox, pendingOnly: true)
            let backedUp = manifest.files.contains { $0.name == "outbox.sqlite" }
                ? try keys(in: folder + "/outbox.sqlite", pendingOnly: false) : []
            lost = pending.subtracting(backedUp).count
            if lost > 0 && !force {
                throw BackupError(
                    "the current outbox holds \(lost) request(s) not yet delivered to the central that the backup does not have; restoring would lose them. Start kioskd and let it sync first (kioskctl sync), or pass --force to discard them"
                )
            }
        }

        var restored: [String] = []
        for file in manifest.files {
            let target = stateDirectory + "/" + file.name
            let staging = stateDirectory + "/." + file.name + ".restoring"
            do {
                try? FileManager.default.removeItem(atPath: staging)
                try FileManager.default.copyItem(atPath: folder + "/" + file.name, toPath: staging)
                try StateFiles.prepareFile(staging)
                try syncFile(staging)
                // Fold the old database's WAL into it first: a stale -wal must never meet the new file.
                if FileManager.default.fileExists(atPath: target) {
                    let old = try DatabaseQueue(path: target)
                    try old.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
                    try old.close()
                }
                for companion in ["-wal", "-shm", "-journal"] {
                    try? FileManager.default.removeItem(atPath: target + companion)
                }
                guard rename(staging, target) == 0 else {
                    throw BackupError("cannot move the restored \(file.name) into place: \(String(cString: strerror(errno)))")
                }
                try syncFile(stateDirectory)
            } catch let error as BackupError {
                throw error
            } catch {
                throw BackupError("cannot restore \(file.name) into \(stateDirectory): \(describe(error))")
            }
            restored.append(file.name)
        }
        return RestoreReport(restored: restored, discardedPending: lost)
    }

    /// The backup folders under `parent`, oldest first.
    public static func list(_ parent: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        return names.filter { $0.hasPrefix(folderPrefix) }.sorted().map { parent + "/" + $0 }
    }

    // MARK: Helpers

    static func prune(_ parent: String, keep: Int) {
        let all = list(parent)
        for old in all.dropLast(max(1, keep)) { try? FileManager.default.removeItem(atPath: old) }
    }

    static func stamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    static func checkIntegrity(_ path: String) throws(BackupError) {
        do {
            let queue = try openReadOnly(path)
            let result = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            try queue.close()
            guard result == ["ok"] else {
                throw BackupError("\(path) fails SQLite's integrity check (\(result.prefix(3).joined(separator: "; "))): use another backup")
            }
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("\(path) cannot be read as an SQLite database (\(describe(error))): use another backup")
        }
    }

    /// A read-only connection that waits up to 10 s for a writer (kioskd may be committing).
    static func openReadOnly(_ path: String) throws -> DatabaseQueue {
        var readOnly = Configuration()
        readOnly.readonly = true
        readOnly.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: readOnly)
    }

    static func keys(in outbox: String, pendingOnly: Bool) throws(BackupError) -> Set<String> {
        do {
            let queue = try openReadOnly(outbox)
            let sql = "SELECT idempotency_key FROM request" + (pendingOnly ? " WHERE state = 'pending'" : "")
            let keys = try queue.read { db in try String.fetchAll(db, sql: sql) }
            try queue.close()
            return Set(keys)
        } catch {
            throw BackupError("cannot read the requests in \(outbox): \(describe(error))")
        }
    }

    static func fileEntry(_ path: String, name: String) throws(BackupError) -> Manifest.File {
        // Streamed: a national-size replica is a gigabyte.
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BackupError("cannot read \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytes = 0
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                hasher.update(data: chunk)
                bytes += chunk.count
            }
        } catch {
            throw BackupError("cannot read \(path): \(describe(error))")
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return Manifest.File(name: name, bytes: bytes, sha256: digest)
    }

    /// fsyncs a file or a directory, so a rename after it is durable.
    static func syncFile(_ path: String) throws(BackupError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BackupError("cannot sync \(path) to disk: \(String(cString: strerror(errno)))") }
    }

    static func describe(_ error: any Error) -> String {
        if let db = error as? DatabaseError { return db.message ?? "\(db.resultCode)" }
        return "\(error)"
    }
}

/// A backup or restore that could not be done; nothing was changed, and the message says what to do.
public struct BackupError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
