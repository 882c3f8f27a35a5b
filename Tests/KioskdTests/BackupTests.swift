import Foundation
import KioskTestSupport
import StateFiles
import Testing

/// `kioskctl backup` and `kioskctl restore` on a real kiosk's state directory, with `kioskd` running
/// and stopped: a backup is whole and private; a restore checks before it changes anything, never
/// runs under a live kioskd and never silently drops an undelivered request.
@Suite("kioskctl backup and restore", .serialized, .spawnsProcesses)
struct BackupTests {
    func request(_ addr: String, number: String, service: String = "psychologist") async throws -> Int {
        let check = try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"\#(number)"}"#)
        let session = try #require(check.json?["session"] as? String)
        return try await http("POST", "http://\(addr)/api/v1/requests", body: #"{"session":"\#(session)","service":"\#(service)"}"#).status
    }

    func pending(_ addr: String) async throws -> Int? {
        (try await http("GET", "http://\(addr)/api/v1/status").json?["outbox"] as? [String: Any])?["pending"] as? Int
    }

    @Test("back up under a running kioskd; restore refused while it runs, on damage, and when it would lose a request; then restored")
    func backupAndRestore() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let backups = dir.file("backups")
        let env = ["KIOSK_STATE_DIR": state]
        let csv = try dir.write("registry.csv", registryCSV())
        #expect(try await run(binary("kioskctl"), ["replica", "import", csv], environment: env).status == 0)

        var kioskd = try KioskdProcess(state: state)
        var addr = try await kioskd.waitUntilListening()
        #expect(try await request(addr, number: "SKS-0001") == 201)

        // A second kioskd on the same state directory is refused, and says why.
        let second = try await run(binary("kioskd"), [], environment: env.merging(["KIOSK_HTTP_ADDR": "127.0.0.1:0", "KIOSK_NFC_DEVICE": "none"]) { $1 })
        #expect(second.status != 0)
        #expect(second.stderr.contains("already using this state directory"), "\(second.stderr)")

        // Backed up while kioskd runs.
        let made = try await run(binary("kioskctl"), ["backup", "--to", backups], environment: env)
        #expect(made.status == 0, "\(made.stderr)")
        let folder = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(folder.hasPrefix(backups + "/cus-kiosk-backup-"))
        #expect(StateFiles.mode(of: folder) == 0o700)
        for file in ["replica.sqlite", "outbox.sqlite", "manifest.json"] {
            #expect(StateFiles.mode(of: folder + "/" + file) == 0o600, "\(file)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: backups).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.isEmpty)

        // Not under a running kioskd.
        let underLive = try await run(binary("kioskctl"), ["restore", folder], environment: env)
        #expect(underLive.status == 1)
        #expect(underLive.stderr.contains("stop it first"), "\(underLive.stderr)")

        // A request queued after the backup: restoring would lose it, so it is refused without --force.
        #expect(try await request(addr, number: "KDR-1001", service: "community_organising") == 201)
        #expect(try await pending(addr) == 2)
        #expect(try await kioskd.terminate() == 0)
        let wouldLose = try await run(binary("kioskctl"), ["restore", folder], environment: env)
        #expect(wouldLose.status == 1)
        #expect(wouldLose.stderr.contains("1 request(s) not yet delivered"), "\(wouldLose.stderr)")

        // A damaged backup is refused before anything changes.
        let damaged = dir.file("damaged")
        try FileManager.default.copyItem(atPath: folder, toPath: damaged)
        let handle = try #require(FileHandle(forUpdatingAtPath: damaged + "/replica.sqlite"))
        try handle.seek(toOffset: 5000)
        try handle.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        let fromDamaged = try await run(binary("kioskctl"), ["restore", damaged, "--force"], environment: env)
        #expect(fromDamaged.status == 1)
        #expect(fromDamaged.stderr.contains("does not match the manifest"), "\(fromDamaged.stderr)")

        // Forced: the backup's state comes back (one request), and kioskd runs on it.
        let restored = try await run(binary("kioskctl"), ["restore", folder, "--force"], environment: env)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("discarded 1 undelivered request(s)"))
        for file in ["replica.sqlite", "outbox.sqlite"] {
            #expect(StateFiles.mode(of: state + "/" + file) == 0o600)
            #expect(!FileManager.default.fileExists(atPath: state + "/." + file + ".restoring"))
        }
        kioskd = try KioskdProcess(state: state)
        addr = try await kioskd.waitUntilListening()
        #expect(try await pending(addr) == 1)
        let cards = (try await http("GET", "http://\(addr)/api/v1/status").json?["replica"] as? [String: Any])?["cards"] as? Int
        #expect(cards ?? 0 > 0)
        #expect(try await kioskd.terminate() == 0)
    }

    @Test("backups beyond --keep are deleted, oldest first")
    func keepsTheNewest() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let env = ["KIOSK_STATE_DIR": state]
        let csv = try dir.write("registry.csv", registryCSV())
        #expect(try await run(binary("kioskctl"), ["replica", "import", csv], environment: env).status == 0)
        var made: [String] = []
        for _ in 0..<3 {
            let result = try await run(binary("kioskctl"), ["backup", "--keep", "2"], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
            made.append(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            try await Task.sleep(for: .milliseconds(1100))  // folder names are stamped to the second
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: state + "/backups").sorted()
        #expect(kept.count == 2)
        #expect(!FileManager.default.fileExists(atPath: made[0]))
        #expect(FileManager.default.fileExists(atPath: made[2]))
    }
}
