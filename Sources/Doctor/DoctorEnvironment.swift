import CTimex
public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the doctor looks: the system's `/proc`, `/dev` and `/sys`, the time zone data, the
/// environment, the clock. Tests point the roots at a scratch folder to plant faults.
public struct DoctorEnvironment: Sendable {
    /// What the kernel says about its clock discipline (`ntp_adjtime`).
    public enum ClockSync: Sendable, Equatable {
        /// The kernel's clock is synchronised (to NTP or another source).
        case synchronised(maxErrorMicroseconds: Int)
        /// Not synchronised: nothing disciplines the clock.
        case unsynchronised
        /// The kernel would not say.
        case unknown(String)
    }

    /// Stands for `/proc` (`modules`, `<pid>/comm`).
    public var procRoot: String
    /// Stands for `/dev`: a reader's device path under `/dev/` is looked up below this.
    public var devRoot: String
    /// Stands for `/sys` (`bus/usb/devices/*/idVendor`).
    public var sysRoot: String
    /// The time zone data (`TZDIR`, else `/usr/share/zoneinfo`).
    public var zoneInfoDirectory: String
    /// The environment the configuration is read with (`KIOSK_*` overrides).
    public var variables: [String: String]
    /// The longest any one network step (DNS, connect, one HTTP exchange) may take.
    public var networkTimeout: Duration
    /// How long a reader probe may take (opening a silent serial reader takes ~1.5 s).
    public var readerTimeout: Duration
    /// The clock.
    public var now: @Sendable () -> Date
    /// The kernel's clock discipline.
    public var clockSync: @Sendable () -> ClockSync

    /// Creates an environment; every argument has the real system's value by default.
    public init(
        procRoot: String = "/proc", devRoot: String = "/dev", sysRoot: String = "/sys",
        zoneInfoDirectory: String? = nil,
        variables: [String: String] = ProcessInfo.processInfo.environment,
        networkTimeout: Duration = .seconds(3), readerTimeout: Duration = .seconds(6),
        now: @escaping @Sendable () -> Date = { Date() },
        clockSync: @escaping @Sendable () -> ClockSync = DoctorEnvironment.kernelClockSync
    ) {
        self.procRoot = procRoot
        self.devRoot = devRoot
        self.sysRoot = sysRoot
        self.zoneInfoDirectory = zoneInfoDirectory ?? variables["TZDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
        self.variables = variables
        self.networkTimeout = networkTimeout
        self.readerTimeout = readerTimeout
        self.now = now
        self.clockSync = clockSync
    }

    /// The real system, except that the test seams `KIOSK_DOCTOR_PROC_ROOT`, `KIOSK_DOCTOR_DEV_ROOT` and
    /// `KIOSK_DOCTOR_SYS_ROOT` (when set) replace `/proc`, `/dev` and `/sys`: tests plant faults there.
    public static func system(variables: [String: String] = ProcessInfo.processInfo.environment) -> DoctorEnvironment {
        func root(_ name: String, _ fallback: String) -> String {
            guard let value = variables[name], !value.isEmpty else { return fallback }
            return value
        }
        return DoctorEnvironment(
            procRoot: root("KIOSK_DOCTOR_PROC_ROOT", "/proc"), devRoot: root("KIOSK_DOCTOR_DEV_ROOT", "/dev"),
            sysRoot: root("KIOSK_DOCTOR_SYS_ROOT", "/sys"), variables: variables
        )
    }

    /// Asks the kernel with `ntp_adjtime` (read only: no mode bits set).
    public static let kernelClockSync: @Sendable () -> ClockSync = {
        var t = timex()
        let state = ntp_adjtime(&t)
        if state < 0 { return .unknown(String(cString: strerror(errno))) }
        if state == TIME_ERROR || t.status & Int32(STA_UNSYNC) != 0 { return .unsynchronised }
        return .synchronised(maxErrorMicroseconds: Int(t.maxerror))
    }

    /// A device path as seen under ``devRoot`` (unchanged when it is not under `/dev/`).
    func device(_ path: String) -> String {
        guard devRoot != "/dev", path.hasPrefix("/dev/") else { return path }
        return devRoot + path.dropFirst("/dev".count)
    }
}
