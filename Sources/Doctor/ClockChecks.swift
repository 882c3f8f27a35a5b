import Foundation
import KioskCore
import Replica

/// The clock: every validity decision is a day in Warsaw, so the zone's rules must be there and the
/// clock must be right. Unsynchronised is a warning; a clock that is clearly wrong is a problem.
struct ClockChecks {
    let environment: DoctorEnvironment
    let replica: Replica.Inspection?
    let kioskd: StatusReport?
    /// The central's `Date` header, when it answered.
    let centralDate: Date?

    /// How far the clock may be from the central's before it is called wrong.
    static let tolerance: TimeInterval = 5 * 60

    func run() -> [Finding] {
        [timezone(), sync(), plausible()]
    }

    private func timezone() -> Finding {
        let file = environment.zoneInfoDirectory + "/Europe/Warsaw"
        guard TimeZone(identifier: "Europe/Warsaw") != nil, FileManager.default.fileExists(atPath: file) else {
            return Finding(
                "clock.timezone", .problem,
                text("Brak danych strefy czasowej Europe/Warsaw (\(file)): kioskd nie wystartuje, bo nie ustali, który jest dzień w Polsce.",
                     "The Europe/Warsaw time zone data is missing (\(file)): kioskd will not start, as it cannot tell which day it is in Poland."),
                fix: text("Zainstaluj dane stref: sudo apt-get install tzdata.", "Install the zone data: sudo apt-get install tzdata."),
                detail: ["path": file])
        }
        return Finding("clock.timezone", .ok, text("Dane strefy Europe/Warsaw są na miejscu.", "The Europe/Warsaw zone data is present."), detail: ["path": file])
    }

    private func sync() -> Finding {
        switch environment.clockSync() {
        case .synchronised(let maxError):
            return Finding("clock.ntp", .ok, text("Zegar jest synchronizowany (NTP).", "The clock is synchronised (NTP)."), detail: ["max_error_us": "\(maxError)"])
        case .unsynchronised:
            return Finding(
                "clock.ntp", .warning,
                text("Zegar nie jest synchronizowany (NTP): z czasem się rozejdzie, a od daty zależy ważność kart.",
                     "The clock is not synchronised (NTP): it will drift, and cards' validity depends on the date."),
                fix: text("Włącz synchronizację: sudo timedatectl set-ntp true (albo zainstaluj chrony); sprawdź: timedatectl status.",
                          "Turn synchronisation on: sudo timedatectl set-ntp true (or install chrony); check: timedatectl status."))
        case .unknown(let reason):
            return Finding("clock.ntp", .skipped, text("Jądro nie podało stanu synchronizacji zegara (\(reason)).", "The kernel did not tell whether the clock is synchronised (\(reason))."))
        }
    }

    private func plausible() -> Finding {
        let now = environment.now()
        var detail = ["now": now.formatted(.iso8601)]
        let fix = text("Ustaw właściwy czas (sudo timedatectl set-time 'RRRR-MM-DD GG:MM:SS' albo włącz NTP), sprawdź baterię zegara płyty (RTC), potem uruchom kioskd ponownie.",
                       "Set the right time (sudo timedatectl set-time 'YYYY-MM-DD HH:MM:SS' or turn NTP on), check the board's clock battery (RTC), then restart kioskd.")
        if let centralDate {
            detail["central_date"] = centralDate.formatted(.iso8601)
            let offset = now.timeIntervalSince(centralDate)
            detail["offset_seconds"] = "\(Int(offset.rounded()))"
            if abs(offset) > Self.tolerance {
                return Finding(
                    "clock.plausible", .problem,
                    text("Zegar kiosku różni się od zegara centrali o \(Self.minutes(offset)) min: daty ważności kart będą oceniane źle.",
                         "The kiosk's clock differs from the central's by \(Self.minutes(offset)) min: cards' dates will be judged wrongly."),
                    fix: fix, detail: detail)
            }
        }
        let refreshed = [replica?.lastSyncAt, replica?.lastImportAt, kioskd?.replica.lastSync, kioskd?.replica.lastImport].compactMap { $0 }.max()
        if let refreshed {
            detail["replica_refreshed"] = refreshed.formatted(.iso8601)
            if now < refreshed.addingTimeInterval(-Self.tolerance) {
                return Finding(
                    "clock.plausible", .problem,
                    text("Zegar kiosku (\(detail["now"] ?? "")) jest wcześniejszy niż ostatnie odświeżenie repliki (\(detail["replica_refreshed"] ?? "")): zegar jest źle ustawiony.",
                         "The kiosk's clock (\(detail["now"] ?? "")) is earlier than the replica's last refresh (\(detail["replica_refreshed"] ?? "")): the clock is wrong."),
                    fix: fix, detail: detail)
            }
        }
        if let kioskd, !kioskd.clock.ok {
            return Finding(
                "clock.plausible", .problem,
                text("kioskd zgłasza, że jego zegar cofnął się przed ostatnią synchronizację (\(kioskd.clock.problem ?? "")).",
                     "kioskd reports its clock is behind the last sync (\(kioskd.clock.problem ?? ""))."),
                fix: fix, detail: detail)
        }
        return Finding(
            "clock.plausible", .ok,
            centralDate == nil
                ? text("Zegar nie jest wcześniejszy niż ostatnie odświeżenie repliki.", "The clock is not earlier than the replica's last refresh.")
                : text("Zegar zgadza się z zegarem centrali (różnica do 5 minut).", "The clock agrees with the central's (within 5 minutes)."),
            detail: detail)
    }

    static func minutes(_ seconds: TimeInterval) -> Int { Int((abs(seconds) / 60).rounded()) }
}
