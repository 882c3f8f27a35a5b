internal import CNFC
import Dispatch
import Foundation
import Synchronization

/// One look at the reader for `kioskctl doctor`: find it, take its lock, open it, put it in
/// initiator mode, close it. Never used while a reader loop runs (the lock would refuse it).
public enum ReaderProbe {
    /// What the probe found.
    public enum Outcome: Sendable, Equatable {
        /// The reader opened and answered; `name` is libnfc's name for the device.
        case ready(connstring: String, name: String)
        /// No connstring was configured and libnfc's scan found no reader.
        case notFound
        /// libnfc could not open the device (missing, silent, no permission, held by another driver).
        case cannotOpen(connstring: String)
        /// The device opened but refused initiator mode (a libnfc status name).
        case notAnswering(connstring: String, status: String)
        /// Another process holds the kiosk's lock on the device (a running kioskd, a card write).
        case inUse(connstring: String, message: String)
        /// The lock file could not be created.
        case lockUnusable(message: String)
        /// libnfc could not start.
        case libnfcUnavailable
        /// The probe had not finished within its time limit.
        case timedOut
    }

    /// Probes the reader at `connstring` (`nil`: the first one libnfc's scan finds), taking the same
    /// lock as the reader loop in `lockDirectory`; gives up after `timeout`.
    public static func probe(connstring: String?, lockDirectory: String, timeout: Duration = .seconds(5)) async -> Outcome {
        let answer = ProbeAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            answer.wait(continuation)
            let thread = Thread { answer.give(perform(connstring: connstring, lockDirectory: lockDirectory)) }
            thread.name = "nfc-probe"
            thread.start()
            // A libnfc call that hangs is left to its thread: the answer is "timed out" either way.
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout.wholeMilliseconds))) {
                answer.give(.timedOut)
            }
        }
    }

    private static func perform(connstring configured: String?, lockDirectory: String) -> Outcome {
        guard let context = NFCContext() else { return .libnfcUnavailable }
        guard let connstring = configured ?? context.firstConnstring() else { return .notFound }
        let lock: DeviceLock
        do {
            lock = try DeviceLock.acquire(connstring: connstring, in: lockDirectory)
        } catch {
            return error.code == .deviceInUse ? .inUse(connstring: connstring, message: error.message) : .lockUnusable(message: error.message)
        }
        defer { lock.release() }
        // A reader that misses one wake-up (a loaded machine, a slow USB-serial bridge) gets two more
        // tries, as the reader loop would give it; the caller's time limit still bounds the whole probe.
        var outcome = Outcome.cannotOpen(connstring: connstring)
        for attempt in 0..<3 {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.3) }
            outcome = openOnce(context, connstring)
            if case .ready = outcome { return outcome }
        }
        return outcome
    }

    private static func openOnce(_ context: NFCContext, _ connstring: String) -> Outcome {
        guard let device = context.open(connstring) else { return .cannotOpen(connstring: connstring) }
        defer { device.close() }
        let configured = device.configureAsInitiator()
        guard configured >= 0 else { return .notAnswering(connstring: connstring, status: NFCStatus.name(configured)) }
        let name = nfc_device_get_name(device.pointer).map { String(cString: $0) } ?? connstring
        return .ready(connstring: connstring, name: name)
    }
}

/// The probe's one answer: the first of "the thread finished" and "time is up" resumes the waiter.
private final class ProbeAnswer: Sendable {
    private let waiter = Mutex<CheckedContinuation<ReaderProbe.Outcome, Never>?>(nil)

    func wait(_ continuation: CheckedContinuation<ReaderProbe.Outcome, Never>) {
        waiter.withLock { $0 = continuation }
    }

    func give(_ outcome: ReaderProbe.Outcome) {
        waiter.withLock { pending in
            pending?.resume(returning: outcome)
            pending = nil
        }
    }
}
