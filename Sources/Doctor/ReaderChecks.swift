import CardModel
import CardReader
import Foundation
import KioskCore
import KioskConfig

#if canImport(Glibc)
import Glibc
#endif

/// The reader: present, which driver, kernel modules and pcscd that grab USB readers, permissions.
///
/// While kioskd runs it holds the reader (and its lock), so its own status is used; otherwise the
/// reader is opened once through libnfc (``ReaderProbe``).
struct ReaderChecks {
    let environment: DoctorEnvironment
    let config: KioskConfiguration?
    /// kioskd's reader status, when kioskd answers.
    let status: StatusReport.ReaderInfo?

    /// Kernel modules that claim USB NFC readers before libnfc can (Hardware/modprobe/blacklist-nfc.conf).
    static let conflictingModules = ["pn533_usb", "pn533", "nfc", "port100"]

    /// USB readers libnfc drives, by `vendor:product` (the same list as Hardware/udev/60-cus-kiosk-nfc.rules).
    static let knownUSBReaders: [String: String] = [
        "072f:2200": "ACS ACR122U", "072f:90cc": "Touchatag (ACR122U)", "072f:2214": "ACS ACR1222",
        "04cc:2533": "NXP PN533", "04e6:5591": "SCM SCL3711", "04e6:5594": "SCM SCL3712",
        "054c:02e1": "Sony RC-S360 PaSoRi", "1fd3:0608": "ASK LoGO",
    ]

    /// What each libnfc driver is, for the technician.
    static let drivers: [String: LocalizedText] = [
        "pn532_uart": text("PN532 na łączu szeregowym (UART, np. przejściówka USB-serial lub piny Raspberry Pi)", "PN532 on a serial line (UART: a USB-serial adapter or the Raspberry Pi's pins)"),
        "acr122_usb": text("ACS ACR122U przez USB (libnfc bezpośrednio, bez pcscd)", "ACS ACR122U over USB (libnfc directly, without pcscd)"),
        "pn53x_usb": text("czytnik z układem PN533/PN531 przez USB", "a PN533/PN531-based reader over USB"),
        "acr122_pcsc": text("ACR122 przez PC/SC (pcscd) — kiosk nie jest na to przygotowany", "ACR122 through PC/SC (pcscd) — the kiosk is not set up for this"),
        "pn532_spi": text("PN532 na SPI", "PN532 on SPI"),
        "pn532_i2c": text("PN532 na I²C", "PN532 on I²C"),
        "arygon": text("czytnik Arygon (szeregowy)", "an Arygon reader (serial)"),
    ]

    func run() async -> [Finding] {
        guard let config else {
            // Without a configuration only what does not depend on it is checked.
            let skipped = text("Nie sprawdzono: najpierw trzeba naprawić konfigurację.", "Not checked: the configuration must be fixed first.")
            return [
                Finding("reader.present", .skipped, skipped), Finding("reader.driver", .skipped, skipped),
                modules(driver: nil, readerWorks: false), pcscd(driver: nil, readerWorks: false),
                Finding("reader.permissions", .skipped, skipped),
            ]
        }
        guard config.nfcEnabled else {
            let off = text("Czytnik wyłączony w konfiguracji (nfc.enabled = false lub KIOSK_NFC_DEVICE=none): numery kart wpisuje się ręcznie.",
                           "The reader is turned off in the configuration (nfc.enabled = false or KIOSK_NFC_DEVICE=none): card numbers are typed.")
            return ["reader.present", "reader.driver", "reader.kernel_modules", "reader.pcscd", "reader.permissions"].map { Finding($0, .skipped, off) }
        }
        let present: Finding
        var connstring = status?.device ?? config.nfcDevice
        if let status {
            present = fromKioskd(status)
        } else {
            let (finding, found) = await probe(config)
            present = finding
            connstring = connstring ?? found
        }
        let driver = connstring.map { String($0.prefix { $0 != ":" }) }
        let works = present.status == .ok
        return [present, driverFinding(connstring: connstring, driver: driver), modules(driver: driver, readerWorks: works),
                pcscd(driver: driver, readerWorks: works), permissions(connstring: connstring, driver: driver, kioskdHasIt: status?.state == "ready")]
    }

    // MARK: Present

    private func fromKioskd(_ status: StatusReport.ReaderInfo) -> Finding {
        let device = status.device ?? "?"
        var detail = ["device": device, "state": status.state, "source": "kioskd"]
        if let error = status.lastError { detail["last_error"] = error }
        switch status.state {
        case "ready":
            return Finding("reader.present", .ok, text("Czytnik \(device) działa (kioskd go używa).", "The reader \(device) works (kioskd is using it)."), detail: detail)
        case "opening":
            return Finding(
                "reader.present", .warning,
                text("kioskd właśnie otwiera czytnik \(device).", "kioskd is opening the reader \(device) right now."),
                fix: text("Uruchom doktora ponownie za kilka sekund.", "Run the doctor again in a few seconds."), detail: detail)
        default:
            let reason = status.lastError.map { " (\($0))" } ?? ""
            return Finding(
                "reader.present", .problem,
                text("kioskd nie ma działającego czytnika\(reason): karty nie będą odczytywane.", "kioskd has no working reader\(reason): cards will not be read."),
                fix: text("Sprawdź kabel i zasilanie czytnika, potem pozostałe wiersze reader.* poniżej; nazwa urządzenia: nfc.device / KIOSK_NFC_DEVICE.",
                          "Check the reader's cable and power, then the other reader.* lines below; the device name: nfc.device / KIOSK_NFC_DEVICE."),
                detail: detail)
        }
    }

    /// Opens the reader once; returns the finding and the connstring found by a scan.
    private func probe(_ config: KioskConfiguration) async -> (Finding, String?) {
        if let connstring = config.nfcDevice, let path = serialPath(connstring) {
            let seen = environment.device(path)
            guard FileManager.default.fileExists(atPath: seen) else {
                return (Finding(
                    "reader.present", .problem,
                    text("Skonfigurowanego czytnika nie ma: urządzenie \(path) nie istnieje (odłączony czytnik albo zła nazwa).",
                         "The configured reader is not there: the device \(path) does not exist (reader unplugged, or a wrong name)."),
                    fix: text("Podłącz czytnik i sprawdź nazwę: ls -l /dev/serial/by-id/ — wpisz ją w nfc.device jako pn532_uart:/dev/serial/by-id/….",
                              "Plug the reader in and check its name: ls -l /dev/serial/by-id/ — put it in nfc.device as pn532_uart:/dev/serial/by-id/…."),
                    detail: ["device": connstring, "source": "probe"]
                ), nil)
            }
        }
        let lockDirectory = usableLockDirectory(config.stateDirectory)
        let outcome = await ReaderProbe.probe(connstring: config.nfcDevice, lockDirectory: lockDirectory, timeout: environment.readerTimeout)
        let checkCable = text("Sprawdź kabel i zasilanie czytnika oraz wiersze reader.* poniżej (moduły jądra, pcscd, uprawnienia).",
                              "Check the reader's cable and power, and the reader.* lines below (kernel modules, pcscd, permissions).")
        switch outcome {
        case .ready(let connstring, let name):
            return (Finding("reader.present", .ok, text("Czytnik odpowiada: \(name) (\(connstring)).", "The reader answers: \(name) (\(connstring))."),
                            detail: ["device": connstring, "name": name, "source": "probe"]), connstring)
        case .notFound:
            return (Finding(
                "reader.present", .problem,
                text("Nie znaleziono żadnego czytnika (nfc.device nie jest ustawione, a libnfc nie widzi czytnika USB).",
                     "No reader found (nfc.device is not set and libnfc sees no USB reader)."),
                fix: text("Podłącz czytnik. Czytnik PN532 na łączu szeregowym trzeba wskazać: nfc.device = \"pn532_uart:/dev/serial/by-id/…\".",
                          "Plug the reader in. A PN532 on a serial line must be named: nfc.device = \"pn532_uart:/dev/serial/by-id/…\"."),
                detail: ["source": "probe"]), nil)
        case .cannotOpen(let connstring):
            return (Finding(
                "reader.present", .problem,
                text("libnfc nie może otworzyć czytnika \(connstring): nie odpowiada, brak uprawnień albo trzyma go inny sterownik.",
                     "libnfc cannot open the reader \(connstring): it does not answer, no permission, or another driver holds it."),
                fix: checkCable, detail: ["device": connstring, "source": "probe"]), connstring)
        case .notAnswering(let connstring, let code):
            return (Finding(
                "reader.present", .problem,
                text("Czytnik \(connstring) otwiera się, ale nie odpowiada poprawnie (\(code)).", "The reader \(connstring) opens but does not answer properly (\(code))."),
                fix: text("Odłącz i podłącz czytnik ponownie; jeśli nie pomoże — sprawdź zasilanie i przełączniki trybu (PN532: UART/HSU).",
                          "Unplug and replug the reader; if that does not help, check its power and mode switches (PN532: UART/HSU)."),
                detail: ["device": connstring, "status": code, "source": "probe"]), connstring)
        case .inUse(let connstring, let message):
            return (Finding(
                "reader.present", .warning,
                text("Czytnika \(connstring) używa inny proces, a kioskd nie odpowiada: \(message)",
                     "Another process uses the reader \(connstring), and kioskd does not answer: \(message)"),
                fix: text("Jeśli to kioskd, sprawdź jego lokalne API (kioskctl status); jeśli zapis karty — poczekaj, aż się skończy.",
                          "If it is kioskd, check its local API (kioskctl status); if a card write, wait for it to finish."),
                detail: ["device": connstring, "source": "probe"]), connstring)
        case .lockUnusable(let message):
            return (Finding(
                "reader.present", .warning,
                text("Nie sprawdzono czytnika: nie da się założyć blokady urządzenia (\(message)).", "The reader was not probed: its lock cannot be taken (\(message))."),
                fix: text("Uruchom doktora jako użytkownik kiosku albo root: sudo kioskctl doctor.", "Run the doctor as the kiosk's user or root: sudo kioskctl doctor."),
                detail: ["source": "probe"]), nil)
        case .libnfcUnavailable:
            return (Finding(
                "reader.present", .problem,
                text("Biblioteka libnfc nie startuje.", "The libnfc library does not start."),
                fix: text("Zainstaluj ją: sudo apt-get install libnfc6.", "Install it: sudo apt-get install libnfc6."), detail: ["source": "probe"]), nil)
        case .timedOut:
            return (Finding(
                "reader.present", .problem,
                text("Czytnik nie odpowiedział w ciągu \(environment.readerTimeout.components.seconds) s.", "The reader did not answer within \(environment.readerTimeout.components.seconds) s."),
                fix: checkCable, detail: ["device": config.nfcDevice ?? "", "source": "probe"]), config.nfcDevice)
        }
    }

    /// The state directory when this user can create the lock file there (then a running reader
    /// loop's lock is respected), else a private temporary one: the doctor never creates the state
    /// directory itself (it would get the wrong owner), and without it no kioskd holds a lock there.
    private func usableLockDirectory(_ state: String) -> String {
        if access(state, W_OK | X_OK) == 0 { return state }
        let folder = NSTemporaryDirectory() + "kioskctl-doctor-\(getuid())"
        mkdir(folder, 0o700)
        return folder
    }

    /// The device path of a serial connstring (`pn532_uart:/dev/ttyUSB0[:115200]`).
    private func serialPath(_ connstring: String) -> String? {
        let parts = connstring.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, ["pn532_uart", "arygon"].contains(parts[0]), parts[1].hasPrefix("/") else { return nil }
        return String(parts[1])
    }

    // MARK: Driver

    private func driverFinding(connstring: String?, driver: String?) -> Finding {
        guard let connstring, let driver else {
            return Finding("reader.driver", .skipped, text("Nie wiadomo, który sterownik: nie znaleziono czytnika.", "Which driver is not known: no reader was found."))
        }
        guard let description = Self.drivers[driver] else {
            return Finding(
                "reader.driver", .warning,
                text("Nieznany sterownik libnfc \"\(driver)\" w \(connstring).", "Unknown libnfc driver \"\(driver)\" in \(connstring)."),
                fix: text("Kiosk jest sprawdzony z pn532_uart, acr122_usb i pn53x_usb; sprawdź nfc.device.", "The kiosk is tested with pn532_uart, acr122_usb and pn53x_usb; check nfc.device."),
                detail: ["driver": driver, "device": connstring])
        }
        if driver == "acr122_pcsc" {
            return Finding(
                "reader.driver", .warning, text("Sterownik: \(description.pl).", "Driver: \(description.en)."),
                fix: text("Użyj acr122_usb (libnfc bezpośrednio) i zatrzymaj pcscd.", "Use acr122_usb (libnfc directly) and stop pcscd."),
                detail: ["driver": driver, "device": connstring])
        }
        return Finding("reader.driver", .ok, text("Sterownik: \(description.pl).", "Driver: \(description.en)."), detail: ["driver": driver, "device": connstring])
    }

    /// Whether the driver is one that kernel modules and pcscd can take a reader from (USB, or unknown).
    private func usbLike(_ driver: String?) -> Bool {
        guard let driver else { return true }
        return driver.hasSuffix("_usb") || driver == "acr122_pcsc"
    }

    // MARK: Kernel modules

    func modules(driver: String?, readerWorks: Bool) -> Finding {
        let path = environment.procRoot + "/modules"
        guard let listing = try? String(contentsOfFile: path, encoding: .utf8) else {
            return Finding("reader.kernel_modules", .skipped, text("Nie da się odczytać \(path).", "\(path) cannot be read."), detail: ["path": path])
        }
        let loaded = Set(listing.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        let conflicts = Self.conflictingModules.filter { loaded.contains($0) }
        guard !conflicts.isEmpty else {
            return Finding("reader.kernel_modules", .ok, text("Żaden moduł NFC jądra nie jest załadowany.", "No kernel NFC module is loaded."))
        }
        let names = conflicts.joined(separator: ", ")
        let grabs = usbLike(driver) && !readerWorks
        return Finding(
            "reader.kernel_modules", grabs ? .problem : .warning,
            grabs
                ? text("Załadowane moduły jądra \(names) przejmują czytniki USB, zanim dotrze do nich libnfc.",
                       "The kernel modules \(names) are loaded: they claim USB readers before libnfc can.")
                : text("Załadowane moduły jądra \(names): czytnikowi teraz nie przeszkadzają, ale przejmą czytnik USB po ponownym podłączeniu.",
                       "The kernel modules \(names) are loaded: they do not disturb the reader now, but will claim a USB reader when it is replugged."),
            fix: text("Zainstaluj blokadę z pakietu (Hardware/modprobe/blacklist-nfc.conf) w /etc/modprobe.d/ i wyładuj moduły: sudo modprobe -r pn533_usb pn533 nfc (albo uruchom ponownie).",
                      "Install the blacklist shipped with the kiosk (Hardware/modprobe/blacklist-nfc.conf) into /etc/modprobe.d/ and unload them: sudo modprobe -r pn533_usb pn533 nfc (or reboot)."),
            detail: ["modules": names])
    }

    // MARK: pcscd

    func pcscd(driver: String?, readerWorks: Bool) -> Finding {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: environment.procRoot)) ?? []
        let pids = entries.filter { !$0.isEmpty && $0.allSatisfy(\.isNumber) }.filter { pid in
            let comm = try? String(contentsOfFile: environment.procRoot + "/" + pid + "/comm", encoding: .utf8)
            return comm?.trimmingCharacters(in: .whitespacesAndNewlines) == "pcscd"
        }.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
        guard !pids.isEmpty else {
            return Finding("reader.pcscd", .ok, text("pcscd nie działa: nie zabierze czytnika.", "pcscd is not running: it will not take the reader."))
        }
        let grabs = usbLike(driver) && !readerWorks
        return Finding(
            "reader.pcscd", grabs ? .problem : .warning,
            grabs
                ? text("Działa pcscd (PID \(pids.joined(separator: ", "))): przejmuje czytniki USB, szczególnie ACR122U, i libnfc nie może ich otworzyć.",
                       "pcscd is running (PID \(pids.joined(separator: ", "))): it takes USB readers, the ACR122U especially, and libnfc cannot open them.")
                : text("Działa pcscd (PID \(pids.joined(separator: ", "))): temu czytnikowi nie przeszkadza, ale zabierze czytnik USB.",
                       "pcscd is running (PID \(pids.joined(separator: ", "))): it does not disturb this reader, but would take a USB reader."),
            fix: text("Wyłącz go: sudo systemctl disable --now pcscd.socket pcscd.service (kiosk nie używa PC/SC).",
                      "Turn it off: sudo systemctl disable --now pcscd.socket pcscd.service (the kiosk does not use PC/SC)."),
            detail: ["pids": pids.joined(separator: ",")])
    }

    // MARK: Permissions

    private func permissions(connstring: String?, driver: String?, kioskdHasIt: Bool) -> Finding {
        if kioskdHasIt {
            return Finding("reader.permissions", .ok, text("kioskd ma czytnik otwarty: uprawnienia są w porządku.", "kioskd has the reader open: the permissions are right."))
        }
        if let connstring, let path = serialPath(connstring) {
            return node(environment.device(path), shownAs: path, group: "dialout")
        }
        guard usbLike(driver) else {
            return Finding("reader.permissions", .skipped, text("Nie sprawdzono uprawnień dla sterownika \(driver ?? "?").", "Permissions not checked for the driver \(driver ?? "?")."))
        }
        let nodes = usbReaderNodes()
        guard let (product, path) = nodes.first else {
            return Finding("reader.permissions", .skipped, text("Nie podłączono żadnego znanego czytnika USB.", "No known USB reader is plugged in."))
        }
        var finding = node(environment.device(path), shownAs: path, group: "plugdev")
        finding.detail["reader"] = product
        return finding
    }

    /// Whether this user can read and write the device node.
    private func node(_ seen: String, shownAs path: String, group: String) -> Finding {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: seen).resolvingSymlinksInPath().path) else {
            return Finding("reader.permissions", .skipped, text("Urządzenia \(path) nie ma, więc nie sprawdzono uprawnień.", "The device \(path) is not there, so permissions were not checked."), detail: ["device": path])
        }
        let mode = String((attributes[.posixPermissions] as? Int ?? 0) & 0o777, radix: 8)
        let groupName = attributes[.groupOwnerAccountName] as? String ?? "\(attributes[.groupOwnerAccountID] as? Int ?? -1)"
        let user = getpwuid(geteuid()).flatMap { $0.pointee.pw_name.map { String(cString: $0) } } ?? "\(geteuid())"
        let detail = ["device": path, "mode": mode, "group": groupName, "user": user]
        guard access(seen, R_OK | W_OK) == 0 else {
            return Finding(
                "reader.permissions", .problem,
                text("Użytkownik \(user) nie może czytać i pisać \(path) (tryb \(mode), grupa \(groupName)).",
                     "The user \(user) cannot read and write \(path) (mode \(mode), group \(groupName))."),
                fix: text("Dodaj użytkownika kiosku do grupy: sudo usermod -aG \(groupName == "root" ? group : groupName) kiosk (w usłudze: SupplementaryGroups=), a dla USB zainstaluj regułę udev Hardware/udev/60-cus-kiosk-nfc.rules. Doktora uruchamiaj jako użytkownik kiosku: sudo -u kiosk kioskctl doctor.",
                          "Add the kiosk's user to the group: sudo usermod -aG \(groupName == "root" ? group : groupName) kiosk (in the unit: SupplementaryGroups=); for USB install the udev rule Hardware/udev/60-cus-kiosk-nfc.rules. Run the doctor as the kiosk's user: sudo -u kiosk kioskctl doctor."),
                detail: detail)
        }
        return Finding("reader.permissions", .ok, text("Użytkownik \(user) może używać \(path) (tryb \(mode), grupa \(groupName)).", "The user \(user) can use \(path) (mode \(mode), group \(groupName))."), detail: detail)
    }

    /// `/dev/bus/usb/BBB/DDD` of the known readers plugged in, found through `/sys/bus/usb/devices`.
    private func usbReaderNodes() -> [(String, String)] {
        let base = environment.sysRoot + "/bus/usb/devices"
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).sorted()
        func read(_ entry: String, _ name: String) -> String? {
            (try? String(contentsOfFile: "\(base)/\(entry)/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return entries.compactMap { entry in
            guard let vendor = read(entry, "idVendor"), let product = read(entry, "idProduct"),
                  let name = Self.knownUSBReaders["\(vendor):\(product)".lowercased()],
                  let bus = read(entry, "busnum").flatMap({ Int($0) }), let dev = read(entry, "devnum").flatMap({ Int($0) })
            else { return nil }
            return (name, String(format: "/dev/bus/usb/%03d/%03d", bus, dev))
        }
    }
}
