import Foundation
import KioskConfig
import Outbox
import Replica
import StateFiles

#if canImport(Glibc)
import Glibc
#endif

/// The state directory: its permissions, free space, and the replica's and outbox's integrity
/// (read only, `PRAGMA quick_check`: safe while kioskd runs).
struct DiskChecks {
    let environment: DoctorEnvironment
    let config: KioskConfiguration?
    let kioskdRunning: Bool

    /// Below this much free space the kiosk is not fit: a sync or a queued request may not fit.
    static let problemBytes: UInt64 = 100 * 1024 * 1024
    /// Below this much free space it is worth freeing some; more with a large replica (see ``advisedBytes(replica:)``).
    static let warningBytes: UInt64 = 1024 * 1024 * 1024

    /// The free space a full registry download needs beside a replica of `replica` bytes: the new file it is
    /// loaded into and its copy through the replica's WAL, two more copies at the peak, and a margin.
    static func advisedBytes(replica: UInt64) -> UInt64 { max(warningBytes, 2 * replica + problemBytes) }

    struct Result {
        var findings: [Finding]
        var replica: Replica.Inspection?
    }

    func run() -> Result {
        guard let config else {
            let skipped = text("Nie sprawdzono: najpierw trzeba naprawić konfigurację.", "Not checked: the configuration must be fixed first.")
            return Result(findings: ["state.permissions", "state.free_space", "replica.integrity", "replica.data", "outbox.integrity"].map { Finding($0, .skipped, skipped) })
        }
        let dir = config.stateDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            let missing = text("Katalogu stanu \(dir) jeszcze nie ma: kioskd utworzy go przy pierwszym starcie.", "The state directory \(dir) does not exist yet: kioskd creates it when it first starts.")
            return Result(findings: [
                Finding("state.permissions", .warning, missing,
                        fix: text("Uruchom kioskd (sudo systemctl start kioskd) albo sprawdź state_dir / KIOSK_STATE_DIR.", "Start kioskd (sudo systemctl start kioskd) or check state_dir / KIOSK_STATE_DIR."),
                        detail: ["state_dir": dir]),
                freeSpace(dir, replica: nil),
                Finding("replica.integrity", .skipped, missing, detail: ["state_dir": dir]),
                Finding("replica.data", .skipped, missing, detail: ["state_dir": dir]),
                Finding("outbox.integrity", .skipped, missing, detail: ["state_dir": dir]),
            ])
        }
        let (replicaIntegrity, replicaData, inspection) = replica(config.replicaPath)
        return Result(
            findings: [permissions(dir), freeSpace(dir, replica: config.replicaPath), replicaIntegrity, replicaData, outbox((dir as NSString).appendingPathComponent("outbox.sqlite"))],
            replica: inspection
        )
    }

    // MARK: Permissions

    private func permissions(_ dir: String) -> Finding {
        let mode = StateFiles.mode(of: dir) ?? 0
        var loose: [String] = []
        if mode & 0o077 != 0 { loose.append("\(dir) (\(String(mode, radix: 8)))") }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for name in names.sorted() {
            let path = (dir as NSString).appendingPathComponent(name)
            if let fileMode = StateFiles.mode(of: path), fileMode & 0o077 != 0 { loose.append("\(path) (\(String(fileMode, radix: 8)))") }
        }
        var detail = ["state_dir": dir, "mode": String(mode, radix: 8)]
        guard loose.isEmpty else {
            detail["loose"] = loose.joined(separator: ", ")
            return Finding(
                "state.permissions", .problem,
                text("Dane mieszkańców w katalogu stanu są dostępne dla innych użytkowników: \(loose.joined(separator: ", ")). Wymagane: katalog 0700, pliki 0600.",
                     "Residents' data in the state directory is open to other users: \(loose.joined(separator: ", ")). Required: directory 0700, files 0600."),
                fix: text("Zaostrz uprawnienia: sudo chmod 0700 \(dir) && sudo chmod 0600 \(dir)/*",
                          "Tighten them: sudo chmod 0700 \(dir) && sudo chmod 0600 \(dir)/*"),
                detail: detail)
        }
        if access(dir, R_OK | X_OK) != 0 {
            return Finding(
                "state.permissions", .ok,
                text("Katalog stanu \(dir) jest prywatny (0700); ten użytkownik nie może do niego zajrzeć, więc plików w nim nie sprawdzono.",
                     "The state directory \(dir) is private (0700); this user cannot look inside, so its files were not checked."),
                fix: text("Pełne sprawdzenie: sudo kioskctl doctor.", "For a full check: sudo kioskctl doctor."), detail: detail)
        }
        return Finding("state.permissions", .ok, text("Katalog stanu \(dir) i jego pliki są prywatne (0700/0600).", "The state directory \(dir) and its files are private (0700/0600)."), detail: detail)
    }

    // MARK: Free space

    private func freeSpace(_ dir: String, replica: String?) -> Finding {
        // The nearest folder that exists: the state directory, or where it will be made.
        var path = dir
        while !FileManager.default.fileExists(atPath: path), path != "/", !path.isEmpty { path = (path as NSString).deletingLastPathComponent }
        var info = statvfs()
        guard statvfs(path.isEmpty ? "/" : path, &info) == 0 else {
            return Finding("state.free_space", .skipped, text("Nie da się odczytać wolnego miejsca na \(path).", "The free space on \(path) cannot be read."), detail: ["path": path])
        }
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        let mib = free / (1024 * 1024)
        let replicaBytes = replica.flatMap { (try? FileManager.default.attributesOfItem(atPath: $0)[.size]) as? NSNumber }?.uint64Value ?? 0
        let advised = Self.advisedBytes(replica: replicaBytes)
        let advisedMiB = advised / (1024 * 1024)
        let detail = ["path": path, "free_bytes": "\(free)", "replica_bytes": "\(replicaBytes)", "advised_bytes": "\(advised)"]
        if free < Self.problemBytes {
            return Finding(
                "state.free_space", .problem,
                text("Na dysku z katalogiem stanu zostało tylko \(mib) MiB: synchronizacja i kolejka wniosków mogą się nie zmieścić.",
                     "Only \(mib) MiB left on the state directory's disk: a sync or queued requests may not fit."),
                fix: text("Zwolnij miejsce (co zajmuje: sudo du -xsh /var/* ; dziennik: sudo journalctl --vacuum-size=100M). Potrzeba co najmniej 100 MiB, zalecane 1 GiB.",
                          "Free some space (what takes it: sudo du -xsh /var/* ; the journal: sudo journalctl --vacuum-size=100M). At least 100 MiB is needed, 1 GiB advised."),
                detail: detail)
        }
        if free < advised {
            return Finding(
                "state.free_space", .warning,
                text("Na dysku z katalogiem stanu zostało \(mib) MiB (zalecane co najmniej \(advisedMiB) MiB: pełne pobranie rejestru potrzebuje miejsca na dwie kolejne kopie repliki).",
                     "\(mib) MiB left on the state directory's disk (\(advisedMiB) MiB or more advised: a full registry download needs room for two more copies of the replica)."),
                fix: text("Zwolnij miejsce: sudo du -xsh /var/* ; sudo journalctl --vacuum-size=100M.", "Free some space: sudo du -xsh /var/* ; sudo journalctl --vacuum-size=100M."),
                detail: detail)
        }
        return Finding("state.free_space", .ok, text("Wolne miejsce na dysku z katalogiem stanu: \(mib) MiB.", "Free space on the state directory's disk: \(mib) MiB."), detail: detail)
    }

    // MARK: Replica

    private func replica(_ path: String) -> (Finding, Finding, Replica.Inspection?) {
        let detail = ["path": path]
        guard FileManager.default.fileExists(atPath: path) else {
            let noData = Finding(
                "replica.data", .warning,
                text("Kiosk nie zna jeszcze żadnej karty (brak repliki): każda karta będzie „nieznana”.", "The kiosk knows no cards yet (no replica): every card will be \"unknown\"."),
                fix: text("Zaimportuj rejestr (kioskctl replica import PLIK.csv) albo skonfiguruj centralę (central.url) i uruchom kioskd.",
                          "Import the registry (kioskctl replica import FILE.csv) or configure the central (central.url) and start kioskd."),
                detail: detail)
            return (Finding("replica.integrity", .skipped, text("Repliki \(path) jeszcze nie ma.", "There is no replica \(path) yet."), detail: detail), noData, nil)
        }
        guard access(path, R_OK) == 0 else {
            let skipped = Finding(
                "replica.integrity", .skipped,
                text("Ten użytkownik nie może czytać repliki \(path).", "This user cannot read the replica \(path)."),
                fix: text("Uruchom doktora jako root albo użytkownik kiosku: sudo kioskctl doctor.", "Run the doctor as root or the kiosk's user: sudo kioskctl doctor."),
                detail: detail)
            return (skipped, Finding("replica.data", .skipped, skipped.message, detail: detail), nil)
        }
        let inspection: Replica.Inspection
        do {
            inspection = try Replica.inspect(path: path)
        } catch {
            var detail = detail
            detail["code"] = error.code.rawValue
            detail["error"] = error.detail
            let damaged = error.code == .corrupt || error.code == .notADatabase
            let finding = Finding(
                "replica.integrity", .problem,
                damaged
                    ? text("Replika \(path) jest uszkodzona (\(error.detail)): kioskd jej nie użyje\(kioskdRunning ? " po ponownym starcie" : " i nie wystartuje").",
                           "The replica \(path) is damaged (\(error.detail)): kioskd will not use it\(kioskdRunning ? " after a restart" : " and will not start").")
                    : text("Repliki nie da się sprawdzić: \(error.description)", "The replica cannot be checked: \(error.description)"),
                fix: damaged
                    ? text("Zatrzymaj kioskd, odsuń plik (sudo mv \(path) \(path).damaged) i uruchom kioskd: pobierze rejestr z centrali; kiosk offline — kioskctl replica import PLIK.csv.",
                           "Stop kioskd, move the file aside (sudo mv \(path) \(path).damaged) and start kioskd: it downloads the registry from the central; an offline kiosk: kioskctl replica import FILE.csv.")
                    : text("Postępuj według komunikatu powyżej.", "Follow the message above."),
                detail: detail)
            return (finding, Finding("replica.data", .skipped, text("Nie sprawdzono: replika jest nieczytelna.", "Not checked: the replica cannot be read."), detail: ["path": path]), nil)
        }
        let integrity = Finding("replica.integrity", .ok, text("Replika jest spójna (PRAGMA quick_check: ok).", "The replica is intact (PRAGMA quick_check: ok)."), detail: detail)
        var dataDetail = detail
        dataDetail["cards"] = "\(inspection.cards)"
        if let sync = inspection.lastSyncAt { dataDetail["last_sync"] = sync.formatted(.iso8601) }
        if let imported = inspection.lastImportAt { dataDetail["last_import"] = imported.formatted(.iso8601) }
        guard inspection.cards > 0 else {
            return (integrity, Finding(
                "replica.data", .warning,
                text("Replika jest pusta: każda karta będzie „nieznana”.", "The replica is empty: every card will be \"unknown\"."),
                fix: text("Zaimportuj rejestr (kioskctl replica import PLIK.csv) albo poczekaj na synchronizację z centralą (kioskctl sync).",
                          "Import the registry (kioskctl replica import FILE.csv) or wait for the sync with the central (kioskctl sync)."),
                detail: dataDetail), inspection)
        }
        return (integrity, Finding("replica.data", .ok, text("Replika zna \(inspection.cards) kart.", "The replica knows \(inspection.cards) cards."), detail: dataDetail), inspection)
    }

    // MARK: Outbox

    private func outbox(_ path: String) -> Finding {
        let detail = ["path": path]
        guard FileManager.default.fileExists(atPath: path) else {
            return Finding("outbox.integrity", .ok, text("Kolejki wniosków jeszcze nie ma (kioskd utworzy ją przy starcie).", "There is no request queue yet (kioskd creates it when it starts)."), detail: detail)
        }
        guard access(path, R_OK) == 0 else {
            return Finding(
                "outbox.integrity", .skipped, text("Ten użytkownik nie może czytać kolejki wniosków \(path).", "This user cannot read the request queue \(path)."),
                fix: text("Uruchom doktora jako root albo użytkownik kiosku: sudo kioskctl doctor.", "Run the doctor as root or the kiosk's user: sudo kioskctl doctor."),
                detail: detail)
        }
        do {
            let found = try Outbox.inspect(path: path)
            var detail = detail
            detail["pending"] = "\(found.pending)"
            detail["quarantined"] = "\(found.quarantined)"
            if let oldest = found.oldestPendingAt { detail["oldest_pending"] = oldest }
            return Finding(
                "outbox.integrity", .ok,
                text("Kolejka wniosków jest spójna (czeka: \(found.pending), odrzucone: \(found.quarantined)).",
                     "The request queue is intact (waiting: \(found.pending), refused: \(found.quarantined))."),
                detail: detail)
        } catch {
            var detail = detail
            detail["code"] = error.code.rawValue
            detail["error"] = error.detail
            return Finding(
                "outbox.integrity", .problem,
                text("Kolejka wniosków \(path) jest uszkodzona lub nieczytelna (\(error.detail)); mogą w niej czekać wnioski mieszkańców.",
                     "The request queue \(path) is damaged or unreadable (\(error.detail)); residents' requests may be waiting in it."),
                fix: text("Nie usuwaj pliku. Zatrzymaj kioskd, skopiuj plik (z -wal i -shm) w bezpieczne miejsce i zgłoś to administratorowi centrali.",
                          "Do not delete the file. Stop kioskd, copy the file (with -wal and -shm) somewhere safe and report it to the central's administrator."),
                detail: detail)
        }
    }
}
