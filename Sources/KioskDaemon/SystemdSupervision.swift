import KioskCore
import Logging
import ServiceLifecycle
import Synchronization
import SystemdNotify

/// kioskd's side of its systemd unit (`Type=notify`, `WatchdogSec=`): `READY=1` once the kiosk
/// can serve, `STATUS=` lines in plain words, `WATCHDOG=1` while the reader loop makes progress,
/// `STOPPING=1` when a graceful shutdown begins. Does nothing without `NOTIFY_SOCKET`.
///
/// Placed last in the service group, so it is the first told to shut down.
final class SystemdSupervision: Service, Sendable {
    private let notifier: SystemdNotifier
    private let reader: ReaderService
    private let logger: Logger
    /// The local API's address once Hummingbird's `onServerRunning` has fired.
    private let listening = Mutex<String?>(nil)
    /// Only the first failure to reach systemd is logged.
    private let sendFailureLogged = Mutex(false)

    /// How often the state is looked at for `STATUS=`; `WATCHDOG=1` goes out at half the
    /// watchdog interval (checked on these ticks when that is shorter).
    static let tick: Duration = .seconds(1)

    init(notifier: SystemdNotifier, reader: ReaderService, logger: Logger) {
        self.notifier = notifier
        self.reader = reader
        self.logger = logger
    }

    /// Called from the API's `onServerRunning`: the local API accepts connections.
    func apiListening(at address: String) {
        listening.withLock { $0 = address }
    }

    /// Sends `STATUS=` (start-up steps before the service group runs).
    func status(_ text: String) {
        send { try notifier.status(text) }
    }

    func run() async throws {
        guard notifier.isEnabled else {
            try? await gracefulShutdown()
            return
        }
        do {
            try await cancelWhenGracefulShutdown { try await self.supervise() }
        } catch is CancellationError {
            // Shutdown began.
        }
        send { try notifier.stopping(status: "Stopping: finishing open requests") }
    }

    private func supervise() async throws {
        // READY=1 only when the replica is open (done before the group runs), the API listens and
        // the reader loop runs, or is disabled: then a check can be served, typed or tapped.
        while listening.withLock({ $0 }) == nil || (reader.isEnabled && reader.lastProgress == nil) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let address = listening.withLock { $0 } ?? "?"
        send { try notifier.ready(status: statusLine(address: address)) }
        logger.debug("told systemd: ready", metadata: ["watchdog": "\(notifier.watchdogInterval.map { "\($0)" } ?? "off")"])

        var lastStatus = statusLine(address: address)
        var lastPing = ContinuousClock.now
        var wedgeReported = false
        let pingEvery = notifier.watchdogInterval.map { $0 / 2 }
        while true {
            let nap = min(Self.tick, pingEvery ?? Self.tick)
            try await Task.sleep(for: nap)
            if let interval = notifier.watchdogInterval, let pingEvery {
                if let stalledFor = wedged(limit: interval) {
                    // No WATCHDOG=1: systemd restarts kioskd when the interval runs out.
                    if !wedgeReported {
                        wedgeReported = true
                        let message = "the NFC reader loop has made no progress for \(Int(stalledFor.components.seconds)) s: not feeding systemd's watchdog, so systemd restarts kioskd"
                        logger.error("\(message)")
                        send { try notifier.status("Wedged: \(message)") }
                    }
                } else {
                    if wedgeReported {
                        wedgeReported = false
                        lastStatus = ""
                        logger.notice("the NFC reader loop makes progress again")
                    }
                    if ContinuousClock.now - lastPing >= pingEvery - .milliseconds(50) {
                        send { try notifier.watchdog() }
                        lastPing = .now
                    }
                }
            }
            let line = statusLine(address: address)
            if line != lastStatus, !wedgeReported {
                send { try notifier.status(line) }
                lastStatus = line
            }
        }
    }

    /// How long the reader loop has gone without progress, when that is `limit` or more; nil when
    /// it is alive, or there is no reader loop (typed numbers only).
    private func wedged(limit: Duration) -> Duration? {
        guard reader.isEnabled else { return nil }
        guard let last = reader.lastProgress else { return limit }  // the loop has ended
        let age = ContinuousClock.now - last
        return age >= limit ? age : nil
    }

    /// The plain-words state `systemctl status kioskd` shows.
    private func statusLine(address: String) -> String {
        guard reader.isEnabled else { return "Serving typed card numbers at http://\(address); NFC reader disabled by configuration" }
        let info = reader.status
        switch info.state {
        case "ready":
            return "Serving at http://\(address); reader ready (\(info.device ?? "first found"))"
        default:
            let why = info.lastError.map { ": \($0)" } ?? ""
            return "Serving typed card numbers at http://\(address); reader \(info.state)\(why)"
        }
    }

    /// Runs one send; a failure is logged once (systemd may have gone away; the kiosk keeps serving).
    private func send(_ body: () throws -> Void) {
        do { try body() } catch {
            let first = sendFailureLogged.withLock { logged in
                defer { logged = true }
                return !logged
            }
            if first { logger.warning("\(error)") }
        }
    }
}
