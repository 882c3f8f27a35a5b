import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// libnfc's own log, taken over by the process that reads cards.
///
/// libnfc 1.8.0 writes its messages straight to stderr (`log_put` in libnfc/log.c), at the level it
/// reads from the environment variable `LIBNFC_LOG_LEVEL` on every call; `nfc_init` also writes
/// that variable back from its context (`log_init`), whose level comes from the same variable or
/// `/etc/nfc/libnfc.conf`. Left at its default (1, errors), a kiosk with no USB bus visible or no
/// reader plugged in logs "Unable to find USB busses" twice per scan, several times a second, for
/// ever, and fills the journal. The reader loop reports what matters itself, once per change
/// (``ReaderHealth``), so libnfc's own lines are turned off.
public enum LibnfcLog {
    /// What ``takeOver(environment:)`` did.
    public enum Outcome: Sendable, Equatable {
        /// libnfc's log is off (`LIBNFC_LOG_LEVEL=0`).
        case silenced
        /// The operator asked for libnfc's log with `LIBNFC_LOG_LEVEL` (this value); it is kept.
        case keptRequested(String)
    }

    /// Turns libnfc's stderr log off, unless the operator set `LIBNFC_LOG_LEVEL` (to debug a
    /// reader: `LIBNFC_LOG_LEVEL=3`, e.g. in a systemd drop-in).
    ///
    /// Call it first thing in `main`, before any thread starts: it sets an environment variable,
    /// and `setenv` is not safe while another thread may read the environment (libnfc's
    /// `log_put` does, on the reader thread). Setting it before `nfc_init` also makes the
    /// context's level 0, so `nfc_init`'s own write-back of the variable keeps it 0.
    @discardableResult
    /// - Parameter environment: the process's environment by default.
    public static func takeOver(environment: [String: String]? = nil) -> Outcome {
        let environment = environment ?? ProcessInfo.processInfo.environment
        if let requested = environment["LIBNFC_LOG_LEVEL"], !requested.isEmpty {
            return .keptRequested(requested)
        }
        setenv("LIBNFC_LOG_LEVEL", "0", 1)
        return .silenced
    }
}
