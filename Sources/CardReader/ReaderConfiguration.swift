/// How an ``NFCReader`` finds and drives its reader.
///
/// The defaults suit a PN532 on a serial line as measured with libnfc 1.8.0
/// (see `shared/libnfc-notes.md`); tests shorten none of them.
public struct ReaderConfiguration: Sendable, Equatable {
    /// The libnfc connstring, e.g. `pn532_uart:/dev/serial/by-id/usb-…` (`KIOSK_NFC_DEVICE`).
    ///
    /// `nil`: the first reader libnfc's scan finds; while there is none the reader reports
    /// ``ReaderState/absent`` and looks again. Prefer a stable path (`/dev/serial/by-id/…`): the
    /// reader reopens through it after an unplug, and the lock file is named after it.
    public var connstring: String?
    /// Where the exclusive lock file (`nfc-<device>.lock`) is created; must exist and be writable.
    public var lockDirectory: String
    /// The longest the reader may go unheard while the field is empty.
    ///
    /// With no card the reader loop waits in selects the reader answers the moment a card
    /// arrives (infinite select); each ends after ~350 ms with a timeout, which a silent reader
    /// gives too. So a wait that would end later than this after the reader's last answer is
    /// replaced by a liveness probe (one command a live reader answers at once); a probe that
    /// fails counts as a reader failure. With the default, a reader that stops answering is
    /// reported within ~1.6 s.
    public var livenessInterval: Duration
    /// Pause between two presence checks while a card is held on the reader.
    public var presenceInterval: Duration
    /// How long to wait for the reader's answer to one card command (READ, GET_VERSION, WRITE).
    public var commandTimeout: Duration
    /// First pause before reopening a closed device; each failed try adds this much again.
    public var reopenBackoffStep: Duration
    /// The longest pause between two tries to reopen the device.
    public var reopenBackoffLimit: Duration
    /// A libnfc call that has not returned after this long is aborted and the device reopened.
    /// Must exceed the slowest legitimate call (`nfc_open` on a silent reader takes ~1.4 s). A
    /// select waiting for a card is given its own ~350 ms on top of this.
    public var watchdogTimeout: Duration

    /// Creates a configuration.
    public init(
        connstring: String?,
        lockDirectory: String,
        livenessInterval: Duration = .seconds(1),
        presenceInterval: Duration = .milliseconds(60),
        commandTimeout: Duration = .milliseconds(350),
        reopenBackoffStep: Duration = .milliseconds(100),
        reopenBackoffLimit: Duration = .milliseconds(400),
        watchdogTimeout: Duration = .seconds(3)
    ) {
        self.connstring = connstring
        self.lockDirectory = lockDirectory
        self.livenessInterval = livenessInterval
        self.presenceInterval = presenceInterval
        self.commandTimeout = commandTimeout
        self.reopenBackoffStep = reopenBackoffStep
        self.reopenBackoffLimit = reopenBackoffLimit
        self.watchdogTimeout = watchdogTimeout
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 (libnfc treats a timeout of 0 as "wait for ever").
    var wholeMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(ms, 1))
    }

    /// Seconds as a floating-point number, for sleeping and log texts.
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
