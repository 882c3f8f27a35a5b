import Foundation
import KioskCore
import KioskConfig
import Replica

/// `kioskctl doctor`'s examination: the config, kioskd, the reader, the clock, the disk and the
/// central, each as ``Finding``s that say in plain words (Polish and English) what is wrong and what
/// to do. Read only: it changes nothing on the kiosk.
public struct Doctor: Sendable {
    /// Where it looks.
    public let environment: DoctorEnvironment

    /// A doctor for `environment` (default: the real system, with the test seams of
    /// ``DoctorEnvironment/system(variables:)``).
    public init(environment: DoctorEnvironment = .system()) {
        self.environment = environment
    }

    /// Runs every check.
    /// - Parameters:
    ///   - configFile: kioskd's TOML file, as `kioskd --config` takes it (`nil`: none, defaults and
    ///     the `KIOSK_*` environment only).
    ///   - localAddress: kioskd's local API `host:port`, when not the one it wrote to its state dir.
    public func examine(configFile: String?, localAddress: String? = nil) async -> DoctorReport {
        var findings: [Finding] = []
        let config: KioskConfiguration?
        do {
            let loaded = try KioskConfiguration.load(file: configFile, environment: environment.variables)
            config = loaded
            findings.append(Finding(
                "config.load", .ok,
                configFile.map { text("Konfiguracja wczytana z \($0).", "Configuration read from \($0).") }
                    ?? text("Bez pliku konfiguracji: wartości domyślne i zmienne KIOSK_*.", "No config file: defaults and KIOSK_* variables."),
                detail: ["file": configFile ?? "", "state_dir": loaded.stateDirectory]
            ))
            for warning in loaded.warnings {
                findings.append(Finding(
                    "config.warning", .warning,
                    text("Konfiguracja działa, ale: \(warning)", "The configuration works, but: \(warning)"),
                    fix: text("Popraw wskazany klucz w pliku konfiguracji i uruchom kioskd ponownie (systemctl restart kioskd).",
                              "Correct the key named in the config file and restart kioskd (systemctl restart kioskd)."),
                    detail: ["warning": warning]
                ))
            }
        } catch {
            config = nil
            findings.append(Finding(
                "config.load", .problem,
                text("Konfiguracji nie da się użyć — kioskd z nią nie wystartuje: \(error.description)",
                     "The configuration cannot be used — kioskd will not start with it: \(error.description)"),
                fix: text("Popraw wskazane miejsce (plik, wiersz, klucz) i uruchom doktora ponownie; wzór: systemd/kiosk.toml.example (każdy klucz z opisem).",
                          "Correct the place named (file, line, key) and run the doctor again; see systemd/kiosk.toml.example (every key, explained)."),
                detail: ["file": configFile ?? "", "error": error.description]
            ))
        }

        let kioskd = await LocalKiosk.examine(config, address: localAddress, timeout: environment.networkTimeout, variables: environment.variables)
        findings.append(kioskd.finding)

        let reader = await ReaderChecks(environment: environment, config: config, status: kioskd.report?.reader).run()
        let disk = DiskChecks(environment: environment, config: config, kioskdRunning: kioskd.report != nil).run()
        let central = await CentralChecks(environment: environment, config: config, status: kioskd.report?.central, replica: disk.replica).run()
        let clock = ClockChecks(environment: environment, replica: disk.replica, kioskd: kioskd.report, centralDate: central.centralDate).run()
        return DoctorReport(checks: findings + reader + clock + disk.findings + central.findings)
    }
}
