import ArgumentParser
import Foundation
import KioskConfig
import StateBackup

/// `kioskctl backup`: a consistent copy of the replica and the outbox, taken while kioskd runs.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up the replica and the outbox (SQLite online backup; kioskd may keep running).",
        discussion: """
            Writes a folder cus-kiosk-backup-<UTC time> under --to (default: <state_dir>/backups) with both
            databases and a manifest of their SHA-256, complete or not at all, and keeps the newest --keep.
            Backups hold residents' data: keep them on an encrypted disk, folders 0700, files 0600.
            Exit status: 0 done (prints the folder); 1 the backup could not be made (nothing half-written is left).
            """
    )
    @OptionGroup var options: KioskOptions
    @Option(help: "The folder to keep backups in (another disk is better).") var to: String?
    @Option(help: "How many backups to keep in that folder; older ones are deleted.") var keep = 7

    func run() async throws {
        let config = try loadConfig(options)
        guard keep >= 1 else { fail("--keep must be at least 1", code: 64) }
        umask(0o077)
        let parent = to ?? (config.stateDirectory as NSString).appendingPathComponent("backups")
        do {
            let folder = try StateBackup.create(stateDirectory: config.stateDirectory, into: parent, kiosk: config.kioskName, keep: keep)
            print(folder)
        } catch {
            fail("backup failed: \(error.description)", code: 1)
        }
    }
}

/// `kioskctl restore`: puts a backup back, with kioskd stopped.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore the replica and the outbox from a backup folder (stop kioskd first).",
        discussion: """
            Checks the backup (manifest, SHA-256, PRAGMA integrity_check) before changing anything, and refuses
            while kioskd runs or when the current outbox holds undelivered requests the backup lacks (--force
            discards them). Requests the central already has are not sent twice: it keeps each request once.
            Exit status: 0 restored; 1 refused or failed, with nothing changed.
            """
    )
    @OptionGroup var options: KioskOptions
    @Argument(help: "The backup folder (cus-kiosk-backup-…).") var folder: String
    @Flag(help: "Discard undelivered requests that the backup does not hold.") var force = false

    func run() async throws {
        let config = try loadConfig(options)
        umask(0o077)
        do {
            let report = try StateBackup.restore(from: folder, into: config.stateDirectory, force: force)
            print("restored \(report.restored.joined(separator: ", ")) into \(config.stateDirectory)")
            if report.discardedPending > 0 {
                print("discarded \(report.discardedPending) undelivered request(s) (--force)")
            }
        } catch {
            fail("restore refused: \(error.description)", code: 1)
        }
    }
}
