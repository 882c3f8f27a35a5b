import CardModel
import Foundation
import Logging

/// What the reader thread tells the task running ``NFCReader/run(onTap:)``.
enum ReaderEvent: Sendable {
    /// One tap, complete (or `.unreadable`), and when the reader first saw the card.
    case tap(Presentation, detectedAt: ContinuousClock.Instant)
    /// The card of the last tap left the field.
    case left(ChipUID)
    /// The loop cannot go on (device locked by another process, libnfc missing).
    case fatal(ReaderError)
}

/// Everything a reader thread needs, handed to it once. Sendable: all of it is immutable or
/// synchronised; the thread's mutable state lives in ``ReaderLoop`` on the thread's stack.
final class ReaderSession: Sendable {
    let configuration: ReaderConfiguration
    let interpreter: any CardInterpreter
    let logger: Logger
    let health: HealthBroadcast
    let control: ReaderControl
    let events: AsyncStream<ReaderEvent>.Continuation

    init(
        configuration: ReaderConfiguration, interpreter: any CardInterpreter, logger: Logger,
        health: HealthBroadcast, control: ReaderControl, events: AsyncStream<ReaderEvent>.Continuation
    ) {
        self.configuration = configuration
        self.interpreter = interpreter
        self.logger = logger
        self.health = health
        self.control = control
        self.events = events
    }

    /// Starts the dedicated thread. libnfc blocks; it never runs on the cooperative pool.
    func startThread() {
        let thread = Thread { [self] in
            // The name in top -H, debuggers and /proc/PID/task/*/comm: Foundation's Thread.name does
            // not set it on Linux, and Swift does not see glibc's pthread_setname_np.
            try? "nfc-reader".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            if let context = NFCContext() {
                var loop = ReaderLoop(session: self, context: context)
                loop.run()
            } else {
                events.yield(.fatal(ReaderError(
                    code: .libnfcUnavailable, device: configuration.connstring,
                    message: "libnfc could not start (nfc_init failed): check that libnfc6 is installed and /etc/nfc is readable"
                )))
            }
            events.finish()
            control.markFinished()
        }
        thread.name = "nfc-reader"
        thread.start()
    }

    /// Called by the watchdog task every quarter second.
    func checkWatchdog() {
        let limit = configuration.watchdogTimeout
        guard let elapsed = control.abortIfStalled(limit: limit) else { return }
        let device = health.current.device
        let message = "reader \(device ?? "?") stopped answering: a libnfc call made no progress for \(String(format: "%.1f", elapsed.secondsValue)) s; aborted it and reopening the device"
        logger.warning("\(message)")
        health.update(.error, error: message, device: device)
    }
}

/// The reader loop proper. Runs on the session's thread and owns the libnfc context, the
/// device and the lock; nothing here is shared.
struct ReaderLoop {
    /// Two failures in a row close and reopen the device (libnfc-notes, point 4).
    static let failuresBeforeReopen = 2
    /// The pause after any failed call before the next one (libnfc-notes, point 5).
    static let pauseAfterFailure: Duration = .milliseconds(100)
    /// How long one wait for a card can take: libnfc's 300 ms select timeout and the 50 ms it
    /// then spends flushing input (libnfc-notes, point 1).
    static let waitCycle: Duration = .milliseconds(350)
    /// What the watchdog allows a wait for a card on top of its limit: a wait cycle and margin.
    static let waitAllowance: Duration = .milliseconds(500)
    /// The pause after a waiting select answered "no card" at once (it should not: see there).
    static let pauseAfterNoTarget: Duration = .milliseconds(20)

    let session: ReaderSession
    let context: NFCContext
    var device: NFCDevice?
    var lock: DeviceLock?
    /// The UID of the card on the reader that was already delivered (one card held = one tap).
    /// Kept across a device reopen, so a held card does not tap twice after a reader hiccup.
    var heldUID: [UInt8]?
    var consecutiveFailures = 0
    var reopenAttempts = 0
    /// When the reader last answered a command (a wait that timed out is no answer: a silent
    /// reader times out the same way).
    var lastHeard = ContinuousClock.now
    /// When the select of the tap being read answered: the start of the tap→verdict latency.
    var tapDetectedAt = ContinuousClock.now

    init(session: ReaderSession, context: NFCContext) {
        self.session = session
        self.context = context
    }

    private var configuration: ReaderConfiguration { session.configuration }
    private var logger: Logger { session.logger }
    private var control: ReaderControl { session.control }

    mutating func run() {
        while !control.isCancelled {
            // The heartbeat a supervisor (systemd's watchdog, through kioskd) watches: a loop that
            // stops coming back here is wedged; one that backs off with no reader is not.
            control.recordProgress()
            if control.takeRestartRequest(), device != nil {
                closeDevice()
                pause(Self.pauseAfterFailure)
            }
            if device == nil {
                guard openDevice() else { continue }
            }
            step()
        }
        closeDevice()
        lock?.release()
        lock = nil
        session.health.update(.absent, device: session.health.current.device)
        logger.info("reader loop stopped")
    }

    // MARK: Opening and closing

    /// Finds, locks, opens and configures the device; on failure reports health and backs off.
    private mutating func openDevice() -> Bool {
        let connstring: String
        if let configured = configuration.connstring {
            connstring = configured
        } else if let found = control.tracked({ context.firstConnstring() }) {
            connstring = found
        } else {
            // Logged once per change (absent, then ready, then absent again), never per retry.
            let reason = Self.noReaderFoundReason()
            if session.health.update(.absent, error: reason, device: nil) {
                logger.warning("\(reason)")
            }
            backOff()
            return false
        }
        if lock?.device != connstring {
            lock?.release()
            lock = nil
            do {
                lock = try DeviceLock.acquire(connstring: connstring, in: configuration.lockDirectory)
            } catch {
                logger.error("\(error.message)")
                session.health.update(.error, error: error.message, device: connstring)
                session.events.yield(.fatal(error))
                control.cancel()
                return false
            }
        }
        let current = session.health.current.state
        if (current != .error && current != .absent) || session.health.current.device != connstring {
            session.health.update(.opening, device: connstring)
        }
        guard !control.isCancelled else { return false }
        guard let opened = control.tracked({ context.open(connstring) }) else {
            let missing = Self.devicePathIsMissing(connstring)
            let message = missing
                ? "reader \(connstring) is not connected (its device path is missing): plug it in; retrying"
                : "cannot open reader \(connstring) (no answer, or not a PN53x): check its cable and power; retrying"
            if session.health.update(missing ? .absent : .error, error: message, device: connstring) {
                logger.warning("\(message)")
            }
            backOff()
            return false
        }
        let result = control.tracked { opened.configureAsInitiator() }
        guard result >= 0 else {
            opened.close()
            let message = "reader \(connstring) opened but refused initiator mode (\(NFCStatus.name(result))): retrying"
            logger.warning("\(message)")
            session.health.update(.error, error: message, device: connstring)
            backOff()
            return false
        }
        device = opened
        control.setAbortHandle(DeviceAbortHandle(opened))
        consecutiveFailures = 0
        reopenAttempts = 0
        lastHeard = .now
        session.health.update(.ready, device: connstring)
        logger.notice("reader ready", metadata: ["device": "\(connstring)"])
        return true
    }

    /// Closes the device; the abort handle is withdrawn first so no other thread can use the
    /// pointer after `nfc_close`.
    private mutating func closeDevice() {
        guard let open = device else { return }
        control.setAbortHandle(nil)
        open.close()
        device = nil
    }

    /// Waits before the next open: 100 ms, 200 ms, … up to the configured limit.
    private mutating func backOff() {
        reopenAttempts += 1
        let step = configuration.reopenBackoffStep
        let delay = min(step * reopenAttempts, configuration.reopenBackoffLimit)
        pause(delay)
    }

    /// Why libnfc's scan found no reader, in words an installer can act on.
    static func noReaderFoundReason(usbBusDirectory: String = "/dev/bus/usb") -> String {
        if !FileManager.default.fileExists(atPath: usbBusDirectory) {
            return "no NFC reader found: no USB bus is visible (\(usbBusDirectory) is missing: a container, or a sandbox without devices); "
                + "give kioskd the USB devices, or set KIOSK_NFC_DEVICE to a serial reader's connstring; looking again"
        }
        return "no NFC reader found on USB: plug one in (and check its permissions: the udev rule's group), "
            + "or set KIOSK_NFC_DEVICE to its connstring; looking again"
    }

    /// `pn532_uart:/dev/ttyUSB0:115200` → whether `/dev/ttyUSB0` is missing. False for
    /// connstrings without a path (USB readers), where libnfc's failure is all we know.
    static func devicePathIsMissing(_ connstring: String) -> Bool {
        let parts = connstring.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasSuffix("_uart") else { return false }
        return !FileManager.default.fileExists(atPath: String(parts[1]))
    }

    /// Sleeps in short slices so cancellation is seen within ~10 ms.
    private func pause(_ duration: Duration) {
        let end = ContinuousClock.now + duration
        while !control.isCancelled {
            let left = end - .now
            guard left > .zero else { return }
            Thread.sleep(forTimeInterval: min(left.secondsValue, 0.01))
        }
    }

    // MARK: One iteration

    private mutating func step() {
        guard let device else { return }
        if let held = heldUID {
            let result = control.tracked { device.selectedTargetIsPresent() }
            switch result {
            case 0:
                succeeded()
                pause(configuration.presenceInterval)
            case NFCStatus.targetReleased, NFCStatus.rfTransmission:
                succeeded()
                cardLeft()
            case NFCStatus.notSupported, NFCStatus.invalidArgument:
                // A chip libnfc cannot ping, or no saved target after a reopen: select it by UID.
                switch selectNow(uid: held) {
                case .target(let target) where target.uid == held:
                    succeeded()
                    pause(configuration.presenceInterval)
                case .target, .none:
                    succeeded()
                    cardLeft()
                case .failed(let code):
                    failed(code, during: "presence check")
                }
            default:
                failed(result, during: "presence check")
            }
            return
        }
        waitForCard(device)
    }

    /// The empty field: waits for a card in a select the reader answers the moment one arrives
    /// (as a minimal libnfc client does), and probes the reader instead when it has gone unheard
    /// for ``ReaderConfiguration/livenessInterval`` or just failed (a silent reader only times
    /// out, like an empty field).
    private mutating func waitForCard(_ device: NFCDevice) {
        let unheardAfterWait = ContinuousClock.now + Self.waitCycle - lastHeard
        if consecutiveFailures > 0 || unheardAfterWait > configuration.livenessInterval {
            // The liveness probe: one RFConfiguration command, answered at once by a live reader,
            // timed out after 350 ms by a silent one. It also (re)sets the mode the wait needs.
            let result = control.tracked { device.setSelectMode(.waitForCard) }
            if result < 0 {
                failed(result, during: "liveness probe")
            } else {
                succeeded()
            }
            return
        }
        if device.selectMode != .waitForCard {
            let result = control.tracked { device.setSelectMode(.waitForCard) }
            guard result >= 0 else {
                failed(result, during: "select mode")
                return
            }
            succeeded()
        }
        switch control.tracked(allowance: Self.waitAllowance, { device.selectISO14443A() }) {
        case .target(let target):
            tapDetectedAt = .now
            succeeded()
            handleTap(target)
        case .failed(NFCStatus.timeout):
            // No card came within libnfc's 300 ms, or the reader is silent: the probe tells.
            break
        case .none:
            // An answer, but not how a waiting select answers: the reader is not in that mode
            // (it lost power, or a libnfc call changed it). Set it again before the next wait;
            // pause briefly so that a reader that never waits cannot make this loop spin.
            succeeded()
            device.forgetSelectMode()
            pause(Self.pauseAfterNoTarget)
        case .failed(let code):
            failed(code, during: "select")
        }
    }

    /// Selects the card with `uid` if it is in the field, with an answer at once either way: in
    /// ``SelectMode/askOnce`` (set first if needed), so "not there" is never a 300 ms timeout.
    private func selectNow(uid: [UInt8]) -> SelectOutcome {
        guard let device else { return .failed(NFCStatus.io) }
        if device.selectMode != .askOnce {
            let result = control.tracked { device.setSelectMode(.askOnce) }
            guard result >= 0 else { return .failed(result) }
        }
        return control.tracked { device.selectISO14443A(uid: uid) }
    }

    private mutating func cardLeft() {
        if let held = heldUID, let uid = try? ChipUID(bytes: held) { session.events.yield(.left(uid)) }
        heldUID = nil
        logger.debug("card left the field")
    }

    /// The reader answered: the failure streak is over and the reader is ready.
    private mutating func succeeded() {
        consecutiveFailures = 0
        lastHeard = .now
        if session.health.current.state != .ready, let device {
            session.health.update(.ready, device: device.connstring)
        }
    }

    /// A libnfc call failed: pause (never retry at once), and after two in a row reopen.
    private mutating func failed(_ code: Int32, during what: String) {
        consecutiveFailures += 1
        // Whatever the failed call was, the reader's select mode is no longer known for sure.
        device?.forgetSelectMode()
        let connstring = device?.connstring ?? configuration.connstring ?? "?"
        logger.debug("reader call failed", metadata: [
            "call": "\(what)", "error": "\(NFCStatus.name(code))", "inARow": "\(consecutiveFailures)",
        ])
        guard consecutiveFailures >= Self.failuresBeforeReopen else {
            pause(Self.pauseAfterFailure)
            return
        }
        closeDevice()
        let missing = Self.devicePathIsMissing(connstring)
        let message = missing
            ? "reader \(connstring) disappeared (\(NFCStatus.name(code)) during \(what), device path gone): plug it back in; reopening"
            : "reader \(connstring) failed \(consecutiveFailures) times in a row (\(NFCStatus.name(code)) during \(what)): reopening"
        if session.health.update(missing ? .absent : .error, error: message, device: connstring) {
            logger.warning("\(message)")
        }
        consecutiveFailures = 0
        pause(Self.pauseAfterFailure)
    }

    // MARK: Reading a card

    /// Reads the card just selected and delivers exactly one presentation for it.
    private mutating func handleTap(_ target: SelectedTarget) {
        heldUID = target.uid
        var presentation: Presentation
        switch readCard(target) {
        case .presentation(let result):
            presentation = result
        case .readerFailed(let failure, let technology):
            // The reader, not the card, failed mid-read (garbled frame, timeout). Pause, and if
            // the same card is still there read it once more from the start; otherwise the tap
            // is unreadable. Never a verdict on partial data.
            failed(failure.code, during: "card read")
            presentation = .unreadable(technology: technology)
            if device != nil, case .target(let again) = selectNow(uid: target.uid), again.uid == target.uid {
                switch readCard(again) {
                case .presentation(let retried): presentation = retried
                case .readerFailed(let failure, _): failed(failure.code, during: "card read (retry)")
                }
            }
        }
        deliver(presentation, uid: target.uid)
    }

    private enum ReadOutcome {
        case presentation(Presentation)
        case readerFailed(NFCCallFailure, technology: CardTechnology?)
    }

    /// Reads a card in as few commands as it allows.
    ///
    /// An NTAG21x, the CUS card, takes one: a FAST_READ of pages 3…39 (the capability container
    /// and the 144 bytes a CUS record can take), whose CC names the chip (see
    /// ``TagProfile/init(capabilityContainer:)``); only a longer TLV costs one more FAST_READ.
    /// Any other Type 2 chip is named by GET_VERSION, after the speculative read if that worked
    /// (Ultralight EV1 MF0UL21, NTAG212), or after a NAK to it (EV1 MF0UL11, NTAG210, and chips
    /// without FAST_READ: Ultralight EV0 and C), which sends the tag to IDLE: it is selected
    /// again by UID before anything else.
    private func readCard(_ target: SelectedTarget) -> ReadOutcome {
        guard let device else { return .readerFailed(NFCCallFailure(code: NFCStatus.io), technology: nil) }
        guard let uid = try? ChipUID(bytes: target.uid) else {
            logger.info("card with an unusable UID length", metadata: ["bytes": "\(target.uid.count)"])
            return .presentation(.unreadable(technology: nil))
        }
        if target.sak != 0 || target.uid.count == 4 {
            return .presentation(.chip(uid: uid, technology: .iso14443a, record: nil))
        }
        let tag = Type2Tag(device: device, timeout: configuration.commandTimeout.wholeMilliseconds, control: control)
        let profile: TagProfile
        var start: [UInt8]?
        switch tag.fastRead(from: Type2Tag.capabilityContainerPage, through: Type2Tag.speculativeLastPage) {
        case .success(let pages):
            start = pages
            if let named = TagProfile(capabilityContainer: pages.prefix(4)) {
                profile = named
            } else {
                switch identify(tag, uid: target.uid, afterNAK: false) {
                case .profile(let identified): profile = identified
                case .done(let outcome): return outcome.withUID(uid)
                }
            }
        case .failure(let failure) where NFCStatus.isCardFailure(failure.code):
            // Refused (fewer than 40 pages, or no FAST_READ), or the card left: the tag is IDLE.
            switch selectNow(uid: target.uid) {
            case .target(let again) where again.uid == target.uid:
                break
            case .target, .none:
                return .presentation(.unreadable(technology: nil))
            case .failed(let code):
                return .readerFailed(NFCCallFailure(code: code), technology: nil)
            }
            switch identify(tag, uid: target.uid, afterNAK: true) {
            case .profile(let identified): profile = identified
            case .done(let outcome): return outcome.withUID(uid)
            }
        case .failure(let failure):
            return .readerFailed(failure, technology: nil)
        }
        switch tag.readNDEFArea(profile: profile, start: start) {
        case .success(let memory):
            return .presentation(session.interpreter.interpret(uid: uid, technology: profile.technology, userMemory: memory))
        case .failure(let failure) where NFCStatus.isCardFailure(failure.code):
            return .presentation(.unreadable(technology: profile.technology))
        case .failure(let failure):
            return .readerFailed(failure, technology: profile.technology)
        }
    }

    private enum Identification {
        case profile(TagProfile)
        case done(PendingOutcome)
    }

    /// A read that ended before the memory was read; the UID is added by the caller.
    private enum PendingOutcome {
        case uidOnly
        case unreadable
        case readerFailed(NFCCallFailure)

        func withUID(_ uid: ChipUID) -> ReadOutcome {
            switch self {
            case .uidOnly: .presentation(.chip(uid: uid, technology: .iso14443a, record: nil))
            case .unreadable: .presentation(.unreadable(technology: nil))
            case .readerFailed(let failure): .readerFailed(failure, technology: nil)
            }
        }
    }

    /// Names a Type 2 chip by GET_VERSION. A chip that refuses it is an Ultralight EV0 when
    /// it also refused FAST_READ (`afterNAK`), and otherwise one the kiosk does not know
    /// (UID-only); either way the refusal sent it to IDLE, so it is selected again first.
    private func identify(_ tag: Type2Tag, uid: [UInt8], afterNAK: Bool) -> Identification {
        switch tag.version() {
        case .success(let version):
            guard let known = TagProfile(version: version) else { return .done(.uidOnly) }
            return .profile(known)
        case .failure(let failure) where NFCStatus.isCardFailure(failure.code):
            switch selectNow(uid: uid) {
            case .target(let again) where again.uid == uid:
                return afterNAK ? .profile(.ultralightEV0) : .done(.uidOnly)
            case .target, .none:
                return .done(.unreadable)
            case .failed(let code):
                return .done(.readerFailed(NFCCallFailure(code: code)))
            }
        case .failure(let failure):
            return .done(.readerFailed(failure))
        }
    }

    private func deliver(_ presentation: Presentation, uid: [UInt8]) {
        let masked = (try? ChipUID(bytes: uid))?.masked ?? "…"
        logger.info("card tapped", metadata: ["uid": "\(masked)", "outcome": "\(presentation.logSummary)"])
        session.events.yield(.tap(presentation, detectedAt: tapDetectedAt))
    }
}

extension Presentation {
    /// A one-word outcome for logs, with no UID and no card number.
    var logSummary: String {
        switch self {
        case .chip(_, let technology, let record): "chip \(technology.rawValue)\(record == nil ? "" : " signed")"
        case .typed: "typed"
        case .unreadable(let technology): "unreadable \(technology?.rawValue ?? "?")"
        case .counterfeit(_, let technology, let why): "counterfeit \(technology.rawValue) \(why.rawValue)"
        }
    }
}
