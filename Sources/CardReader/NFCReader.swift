public import CardModel
public import Logging
import Synchronization

/// Reads cards tapped on one NFC reader through libnfc and hands each tap to the kiosk.
///
/// One dedicated thread per running reader makes every libnfc call (they block); the Swift
/// task that called ``run(onTap:)`` only receives finished taps and runs the watchdog. The
/// reader:
/// - waits for ISO 14443-A cards at 106 kbps in selects the reader answers the moment a card
///   arrives (infinite select), and probes the reader whenever it has gone unheard for
///   ``ReaderConfiguration/livenessInterval``, since a silent reader looks like an empty field;
/// - reads an NTAG21x in one FAST_READ (capability container and the 144 bytes a CUS record can
///   take; the CC names the chip), other Type 2 chips after GET_VERSION, hands only the pages the
///   NDEF TLV needs to its ``CardInterpreter`` and gets the ``Presentation``;
/// - delivers exactly one presentation per tap: a card held on the reader is one tap until
///   it leaves, and a read that fails part-way is ``Presentation/unreadable(technology:)``;
/// - closes and reopens a reader that fails twice in a row or vanishes, pausing 100 ms after
///   every failure and backing off by 100 ms steps, and publishes ``ReaderHealth``;
/// - holds an exclusive lock on the device for as long as it runs.
///
/// Logs name cards only by ``ChipUID/masked``.
public final class NFCReader: Sendable {
    /// How the reader finds and drives its device.
    public let configuration: ReaderConfiguration
    private let interpreter: any CardInterpreter
    private let logger: Logger
    private let healthBroadcast: HealthBroadcast
    private let isRunning = Mutex(false)
    /// The control of the loop now running, for its heartbeat; nil when none runs.
    private let runningControl = Mutex<ReaderControl?>(nil)

    /// Creates a reader; nothing is opened until ``run(onTap:)``.
    public init(configuration: ReaderConfiguration, interpreter: any CardInterpreter, logger: Logger) {
        self.configuration = configuration
        self.interpreter = interpreter
        var logger = logger
        logger[metadataKey: "component"] = "nfc-reader"
        self.logger = logger
        self.healthBroadcast = HealthBroadcast(device: configuration.connstring)
    }

    /// The reader's health now.
    public var health: ReaderHealth { healthBroadcast.current }

    /// A stream that yields the current health at once and then every change, until the
    /// consumer stops iterating. Each call makes a new, independent stream.
    public func healthChanges() -> AsyncStream<ReaderHealth> { healthBroadcast.subscribe() }

    /// When the reader thread last made progress: began an iteration of its loop, or got a libnfc
    /// call back (a wait for a card that timed out counts; so does a back-off with no reader
    /// plugged in). Nil until the loop has started, and after it stops.
    ///
    /// The heartbeat of the loop, for a supervisor: it stops advancing only when the thread is
    /// stuck in a way the reader's own watchdog (which aborts a stalled libnfc call) cannot undo.
    public var lastProgress: ContinuousClock.Instant? {
        runningControl.withLock { $0?.lastProgress }
    }

    /// Reads taps until the calling task is cancelled, then closes the device, releases its lock
    /// and returns (within about a second; up to ~1.5 s if cancelled while opening a silent
    /// reader).
    ///
    /// A missing or failing reader does not end the loop: it is reported through ``health`` and
    /// reopened.
    /// - Parameters:
    ///   - onTap: called once per tap, in order; the next tap waits for it to return.
    ///   - onLeave: called when the card of a tap leaves the field (not when the reader is lost).
    /// - Throws: ``ReaderError`` `.deviceInUse` when another reader loop (in any process) holds the
    ///   device, `.alreadyRunning` when this reader already runs, `.lockDirectoryUnusable`,
    ///   `.libnfcUnavailable`.
    public func run(
        onTap: @escaping @Sendable (Presentation) async -> Void,
        onLeave: @escaping @Sendable (ChipUID) async -> Void = { _ in }
    ) async throws(ReaderError) {
        try await run(onTimedTap: { presentation, _ in await onTap(presentation) }, onLeave: onLeave)
    }

    /// ``run(onTap:onLeave:)``, also handing each tap the instant the reader first saw the card
    /// (before its memory was read), for measuring tap→verdict latency.
    public func run(
        onTimedTap: @escaping @Sendable (Presentation, ContinuousClock.Instant) async -> Void,
        onLeave: @escaping @Sendable (ChipUID) async -> Void = { _ in }
    ) async throws(ReaderError) {
        let claimed = isRunning.withLock { running in
            if running { return false }
            running = true
            return true
        }
        guard claimed else {
            throw ReaderError(
                code: .alreadyRunning, device: configuration.connstring,
                message: "this NFC reader is already running: cancel the running loop before starting it again"
            )
        }
        defer { isRunning.withLock { $0 = false } }

        let (events, continuation) = AsyncStream.makeStream(of: ReaderEvent.self, bufferingPolicy: .unbounded)
        let control = ReaderControl()
        runningControl.withLock { $0 = control }
        defer { runningControl.withLock { $0 = nil } }
        let session = ReaderSession(
            configuration: configuration, interpreter: interpreter, logger: logger,
            health: healthBroadcast, control: control, events: continuation
        )
        session.startThread()

        var failure: ReaderError?
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(250))
                        session.checkWatchdog()
                    }
                }
                for await event in events {
                    switch event {
                    case .tap(let presentation, let detectedAt): await onTimedTap(presentation, detectedAt)
                    case .left(let uid): await onLeave(uid)
                    case .fatal(let error): failure = error
                    }
                }
                group.cancelAll()
            }
        } onCancel: {
            control.cancel()
        }
        control.cancel()
        await control.waitUntilFinished()
        if let failure { throw failure }
    }
}
