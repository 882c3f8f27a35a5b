import CardModel
import CardReader
import Foundation
import Logging
import PN532Emulator
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// libnfc prints its own errors on stderr; the tests provoke many on purpose.
let quietLibnfc: Void = {
    setenv("LIBNFC_LOG_LEVEL", "0", 1)
}()

/// A temporary directory with an emulator linked at `<dir>/reader`, removed by `close()`.
final class Bench: Sendable {
    let directory: String
    let emulator: PN532Emulator
    let logs = LogCapture()

    init() throws {
        _ = quietLibnfc
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cardreader-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        directory = dir
        emulator = try PN532Emulator(linkPath: dir + "/reader")
        emulator.start()
    }

    var connstring: String { emulator.connstring }

    func configuration() -> ReaderConfiguration {
        ReaderConfiguration(connstring: connstring, lockDirectory: directory)
    }

    var logger: Logger {
        let logs = self.logs
        var logger = Logger(label: "test") { _ in CapturingLogHandler(capture: logs) }
        logger.logLevel = .trace
        return logger
    }

    func close() {
        emulator.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Interprets any tag as an unsigned chip and remembers what it was given.
final class RecordingInterpreter: CardInterpreter {
    struct Call: Sendable, Equatable {
        var uid: ChipUID
        var technology: CardTechnology
        var userMemory: [UInt8]
    }

    private let recorded = Mutex<[Call]>([])

    var calls: [Call] { recorded.withLock { $0 } }

    func interpret(uid: ChipUID, technology: CardTechnology, userMemory: [UInt8]) -> Presentation {
        recorded.withLock { $0.append(Call(uid: uid, technology: technology, userMemory: userMemory)) }
        return .chip(uid: uid, technology: technology, record: nil)
    }
}

/// The taps a reader delivered, in order.
final class TapLog: Sendable {
    private let taps = Mutex<[Presentation]>([])

    func append(_ presentation: Presentation) { taps.withLock { $0.append(presentation) } }

    var all: [Presentation] { taps.withLock { $0 } }
    var count: Int { taps.withLock { $0.count } }
}

/// A running reader loop, stopped with `stop()`.
final class RunningReader: Sendable {
    let reader: NFCReader
    let taps = TapLog()
    let task: Task<ReaderError?, Never>

    init(_ reader: NFCReader) {
        self.reader = reader
        let taps = self.taps
        task = Task {
            do throws(ReaderError) {
                try await reader.run { taps.append($0) }
                return nil
            } catch {
                return error
            }
        }
    }

    /// Cancels the loop and waits for `run` to return; returns how long that took.
    @discardableResult
    func stop() async -> Duration {
        let start = ContinuousClock.now
        task.cancel()
        _ = await task.value
        return ContinuousClock.now - start
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(within timeout: Duration = .seconds(15), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// An NDEF message: one short Text record ("en") whose text is `length` letters.
func textNDEF(length: Int) -> [UInt8] {
    let text = (0..<length).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    let payload: [UInt8] = [0x02, UInt8(ascii: "e"), UInt8(ascii: "n")] + text
    return [0xD1, 0x01, UInt8(payload.count), UInt8(ascii: "T")] + payload
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02X", $0) }.joined()
}

/// Everything logged, as rendered lines (message and metadata).
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    var all: [String] { lines.withLock { $0 } }
}

/// A log handler that keeps every record in memory (swift-log's advice for testing logs).
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        capture.append("\(event.level) \(event.message) \(merged.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " "))")
    }
}

extension Bench {
    /// A logger that drops everything, for tests that do not look at logs.
    static var quietLogger: Logger { Logger(label: "test") { _ in SwiftLogNoOpLogHandler() } }
}
