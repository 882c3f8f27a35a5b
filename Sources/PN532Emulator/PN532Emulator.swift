import Dispatch
import Foundation
import Glibc
import Synchronization

/// An emulated PN532 NFC reader on a pseudo-terminal, driven by libnfc as `pn532_uart:PATH`.
///
/// Create it, ``start()`` it, hand ``connstring`` to libnfc, then ``place(_:)`` and ``removeCard()``
/// cards and ``inject(_:)`` faults. Always call ``stop()``: the serving thread keeps the emulator alive.
public final class PN532Emulator: Sendable {
    /// Serving-thread lifecycle and the current pseudo-terminal.
    private struct Lifecycle: Sendable {
        var pty: PseudoTerminal?
        var ptsPath: String
        var started = false
        var stopRequested = false
        var stopped = false
    }

    private let state = Mutex(EmulatorState())
    private let lifecycle: Mutex<Lifecycle>
    private let wake: WakePipe
    private let link: DeviceLink?
    private let finished = DispatchSemaphore(value: 0)

    /// Opens a pseudo-terminal in raw mode; with `linkPath`, keeps a symlink there to the current `/dev/pts/N`.
    ///
    /// - Throws: ``EmulatorError`` if no pseudo-terminal can be had or the link path is taken.
    public init(linkPath: String? = nil) throws {
        let link = linkPath.map(DeviceLink.init(path:))
        try link?.checkReplaceable()
        let wake = try WakePipe.make()
        let pty: PseudoTerminal
        do {
            pty = try PseudoTerminal.open()
            try link?.point(to: pty.slavePath)
        } catch {
            wake.close()
            throw error
        }
        self.link = link
        self.wake = wake
        self.lifecycle = Mutex(Lifecycle(pty: pty, ptsPath: pty.slavePath))
    }

    deinit {
        lifecycle.withLock { $0.pty?.close() }
        wake.close()
    }

    /// The path clients open: the link path if one was given, else the current `/dev/pts/N`.
    public var devicePath: String {
        link?.path ?? ptsPath
    }

    /// The current `/dev/pts/N` (changes after a ``EmulatorFault/vanish(milliseconds:)``).
    public var ptsPath: String {
        lifecycle.withLock { $0.ptsPath }
    }

    /// The libnfc connection string: `pn532_uart:` + ``devicePath``.
    public var connstring: String {
        "pn532_uart:" + devicePath
    }

    /// Per-command latency between the ACK and the answer frame (default zero).
    public var commandLatency: Duration {
        get { state.withLock { $0.latency } }
        set { state.withLock { $0.latency = newValue } }
    }

    /// Starts serving on a dedicated thread; does nothing if already started or stopped.
    public func start() {
        let shouldStart = lifecycle.withLock { life in
            guard !life.started, !life.stopRequested else { return false }
            life.started = true
            return true
        }
        guard shouldStart else { return }
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        thread.name = "pn532-emulator"
        thread.start()
    }

    /// Stops serving, closes the pseudo-terminal and removes the link; safe to call more than once.
    public func stop() {
        let wasStarted: Bool? = lifecycle.withLock { life in
            guard !life.stopRequested else { return nil }
            life.stopRequested = true
            return life.started
        }
        guard let wasStarted else { return }
        wake.wake()
        if wasStarted { finished.wait() }
        lifecycle.withLock { life in
            life.pty?.close()
            life.pty = nil
            life.stopped = true
        }
        link?.remove()
    }

    /// Puts a card in the field, replacing any card there.
    ///
    /// - Throws: ``CardDescriptionError`` if the card description is invalid.
    public func place(_ card: EmulatedCard) throws {
        let image = try TagImage(card: card)
        state.withLock { $0.place(image) }
        wake.wake()
    }

    /// Takes the card out of the field.
    public func removeCard() {
        state.withLock { $0.card = nil }
        wake.wake()
    }

    /// Injects a fault; see ``EmulatorFault`` for what each does.
    public func inject(_ fault: EmulatorFault) {
        state.withLock { state in
            state.counters.faultsInjected += 1
            switch fault {
            case .silent(let ms):
                state.faults.silentUntil = .now + .milliseconds(ms)
            case .garbageFrame:
                state.faults.garbageFrames += 1
            case .badChecksum:
                state.faults.badChecksums += 1
            case .slowAnswer(let ms):
                state.faults.slowAnswer += .milliseconds(ms)
            case .vanish(let ms):
                state.faults.vanish = .milliseconds(ms)
            case .tearAfterReads(let reads):
                if reads <= 0 {
                    state.card = nil
                    state.faults.tearAfterReads = nil
                } else {
                    state.faults.tearAfterReads = reads
                }
            case .tearAfterWrites(let writes):
                if writes <= 0 {
                    state.card = nil
                    state.faults.tearAfterWrites = nil
                } else {
                    state.faults.tearAfterWrites = writes
                }
            }
        }
        wake.wake()
    }

    /// The memory of the card in the field (page 0 first), or nil if the field is empty.
    public func cardMemory() -> [UInt8]? {
        state.withLock { $0.card?.image.memory }
    }

    /// A snapshot of the device, the card in the field and the counters.
    public func status() -> EmulatorStatus {
        let (pts, running, vanished) = lifecycle.withLock { life in
            (life.ptsPath, life.started && !life.stopRequested, life.pty == nil && !life.stopRequested)
        }
        return state.withLock { state in
            EmulatorStatus(
                devicePath: link?.path ?? pts,
                connstring: "pn532_uart:" + (link?.path ?? pts),
                ptsPath: pts,
                running: running,
                vanished: vanished,
                cardPresent: state.card != nil,
                kind: state.card?.image.kind,
                uid: state.card.map { Hex.encode($0.image.uid) },
                latencyMilliseconds: Int(state.latency.components.seconds * 1000 + state.latency.components.attoseconds / 1_000_000_000_000_000),
                counters: state.counters
            )
        }
    }

    // MARK: Serving thread

    private var stopRequested: Bool {
        lifecycle.withLock { $0.stopRequested }
    }

    private func serve() {
        var parser = HostFrameParser()
        var pendingWait: ChipWait?
        var lastAnswer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)

        while !stopRequested {
            if let vanish = state.withLock({ state -> Duration? in
                defer { state.faults.vanish = nil }
                return state.faults.vanish
            }) {
                performVanish(for: vanish)
                parser = HostFrameParser()
                pendingWait = nil
                lastAnswer = []
                continue
            }
            guard let pty = lifecycle.withLock({ $0.pty }) else { return }

            var fds = [
                pollfd(fd: pty.master, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, pollTimeout())
            if ready < 0, errno != EINTR {
                pause(for: .milliseconds(10))
                continue
            }
            if fds[1].revents != 0 { wake.drain() }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let count = read(pty.master, &buffer, buffer.count)
                if count > 0 {
                    parser.feed(buffer[0..<count])
                } else {
                    pause(for: .milliseconds(10))
                }
            } else if fds[0].revents & Int16(POLLHUP | POLLERR) != 0 {
                pause(for: .milliseconds(10))
            }

            while let message = parser.next() {
                handle(message, on: pty, pendingWait: &pendingWait, lastAnswer: &lastAnswer)
            }
            if let wait = pendingWait {
                let payload = state.withLock { state -> [UInt8]? in
                    state.faults.isSilent(at: .now) ? nil : state.answer(wait)
                }
                if let payload {
                    pendingWait = nil
                    respond(payload, on: pty, lastAnswer: &lastAnswer)
                }
            }
        }
    }

    /// Milliseconds poll may block: until a silence window ends, else indefinitely (the wake pipe interrupts).
    private func pollTimeout() -> Int32 {
        state.withLock { state in
            guard let until = state.faults.silentUntil else { return -1 }
            let remaining = until - .now
            guard remaining > .zero else {
                state.faults.silentUntil = nil
                return 0
            }
            return Int32(clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1)
        }
    }

    private func handle(_ message: HostMessage, on pty: PseudoTerminal, pendingWait: inout ChipWait?, lastAnswer: inout [UInt8]) {
        let now = ContinuousClock.now
        switch message {
        case .corrupt:
            state.withLock { $0.counters.corruptFrames += 1 }
        case .ack:
            let silent = state.withLock { state in
                let silent = state.faults.isSilent(at: now)
                if silent { state.counters.droppedWhileSilent += 1 } else { state.counters.hostAborts += 1 }
                return silent
            }
            if !silent { pendingWait = nil }
        case .nack:
            let silent = state.withLock { $0.faults.isSilent(at: now) }
            if !silent, !lastAnswer.isEmpty { writeAll(lastAnswer, to: pty) }
        case .command(let command):
            let action = state.withLock { state -> ChipAction? in
                guard !state.faults.isSilent(at: now) else {
                    state.counters.droppedWhileSilent += 1
                    return nil
                }
                state.counters.commands += 1
                return state.process(command)
            }
            guard let action else { return }
            pendingWait = nil
            writeAll(PN532Frame.ack, to: pty)
            switch action {
            case .reply(let payload):
                respond(payload, on: pty, lastAnswer: &lastAnswer)
            case .errorFrame:
                let frame: [UInt8] = [0x00, 0x00, 0xFF, 0x01, 0xFF, 0x7F, 0x81, 0x00]
                writeAll(frame, to: pty)
                lastAnswer = frame
            case .wait(let wait):
                pendingWait = wait
            }
        }
    }

    private func respond(_ payload: [UInt8], on pty: PseudoTerminal, lastAnswer: inout [UInt8]) {
        let (delay, garbage, badChecksum) = state.withLock { state in
            let delay = state.latency + state.faults.slowAnswer
            state.faults.slowAnswer = .zero
            let garbage = state.faults.garbageFrames > 0
            if garbage { state.faults.garbageFrames -= 1 }
            let badChecksum = !garbage && state.faults.badChecksums > 0
            if badChecksum { state.faults.badChecksums -= 1 }
            return (delay, garbage, badChecksum)
        }
        if delay > .zero { pause(for: delay) }
        var frame = PN532Frame.encode(payload, corruptChecksum: badChecksum)
        if garbage {
            var generator = SystemRandomNumberGenerator()
            frame = frame.indices.map { _ in UInt8.random(in: 0...0xFF, using: &generator) }
            frame[0] = UInt8.random(in: 0x01...0xFE, using: &generator)  // never a valid preamble
        }
        writeAll(frame, to: pty)
        lastAnswer = frame
    }

    /// Writes the whole frame, waiting briefly when the line is full; gives up after about a second.
    private func writeAll(_ bytes: [UInt8], to pty: PseudoTerminal) {
        var offset = 0
        var stalls = 0
        while offset < bytes.count, stalls < 10 {
            let written = bytes[offset...].withUnsafeBytes { write(pty.master, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                stalls += 1
                var out = pollfd(fd: pty.master, events: Int16(POLLOUT), revents: 0)
                _ = poll(&out, 1, 100)
            }
        }
    }

    /// Sleeps on the serving thread, returning early when ``stop()`` is called.
    private func pause(for duration: Duration) {
        let deadline = ContinuousClock.now + duration
        while !stopRequested {
            let remaining = deadline - .now
            guard remaining > .zero else { return }
            let ms = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
            var fds = pollfd(fd: wake.readEnd, events: Int16(POLLIN), revents: 0)
            if poll(&fds, 1, Int32(clamping: max(1, ms))) > 0 { wake.drain() }
        }
    }

    /// Closes the device, removes the link, waits, then comes back on a new pseudo-terminal.
    private func performVanish(for duration: Duration) {
        let old = lifecycle.withLock { life in
            defer { life.pty = nil }
            return life.pty
        }
        old?.close()
        link?.remove()
        state.withLock { state in
            // The reader lost power: the chip starts afresh; the card stays where it is.
            state.counters.vanishes += 1
            state.registers = EmulatorState.registerDefaults
            state.passiveActivationRetries = 0xFF
            state.fieldOn = false
            state.selectedGeneration = nil
            state.card?.halted = false
        }
        pause(for: duration)
        while !stopRequested {
            do {
                let pty = try PseudoTerminal.open()
                try? link?.point(to: pty.slavePath)
                lifecycle.withLock { life in
                    life.pty = pty
                    life.ptsPath = pty.slavePath
                }
                return
            } catch {
                pause(for: .milliseconds(100))
            }
        }
    }
}

/// A snapshot of an emulator, as printed by `pn532-emulator status`.
public struct EmulatorStatus: Codable, Sendable, Equatable {
    /// The path clients open.
    public var devicePath: String
    /// `pn532_uart:` + ``devicePath``.
    public var connstring: String
    /// The current `/dev/pts/N`.
    public var ptsPath: String
    /// Whether the serving thread runs.
    public var running: Bool
    /// Whether the device is currently gone (a vanish fault is in progress).
    public var vanished: Bool
    /// Whether a card is in the field.
    public var cardPresent: Bool
    /// The kind of the card in the field.
    public var kind: EmulatedCard.Kind?
    /// The UID of the card in the field, upper-case hex without separators.
    public var uid: String?
    /// The per-command latency in milliseconds.
    public var latencyMilliseconds: Int
    /// Command, selection, read and write counters.
    public var counters: EmulatorCounters
}
