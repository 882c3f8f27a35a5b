import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why the kiosk could not speak.
public struct SpeechError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for the log and the API's error.
    public var detail: String
    /// An error.
    public init(_ detail: String) { self.detail = detail }
    public var description: String { "Speech: \(detail)" }
}

/// Reads text aloud with espeak-ng, which has Polish, Ukrainian and English voices.
///
/// One utterance at a time: a new one stops the one still speaking (the screen moved on). The text
/// goes to espeak-ng on its standard input, never on its command line, where any local user could read
/// it with `ps`. Nothing spoken is logged.
public actor Speaker {
    /// Where the voice goes.
    public enum Output: Sendable, Equatable {
        /// The sound card (espeak-ng's own audio output).
        case soundCard
        /// One WAV file per utterance in this folder (a kiosk without speakers, or to check a voice).
        case wavDirectory(String)
    }

    /// The espeak-ng program.
    public nonisolated let executable: String
    /// Where the voice goes.
    public nonisolated let output: Output
    /// Words per minute: a little slower than espeak-ng's 175, for older listeners.
    public nonisolated let rate: Int
    /// The most characters one utterance may have.
    public static let maxCharacters = 2_000
    private var current: Process?
    private var count = 0

    /// A speaker using `executable` (found on `PATH` when not absolute).
    public init(executable: String = "espeak-ng", output: Output = .soundCard, rate: Int = 145) {
        self.executable = Self.resolve(executable) ?? executable
        self.output = output
        self.rate = rate
    }

    /// Whether espeak-ng is installed.
    public nonisolated var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    /// The espeak-ng voice for a screen language.
    public static func voice(for language: String) -> String? {
        switch language {
        case "pl": "pl"
        case "uk": "uk"
        case "en": "en-gb"
        default: nil
        }
    }

    /// Starts reading `text` aloud in `language` (`pl`, `uk`, `en`), stopping whatever is being read.
    ///
    /// Returns once espeak-ng has the text; it speaks on while the caller goes on.
    /// - Returns: the WAV file written, for ``Output/wavDirectory(_:)``.
    @discardableResult
    public func say(_ text: String, language: String) throws(SpeechError) -> String? {
        guard let voice = Self.voice(for: language) else { throw SpeechError("no voice for the language \"\(language.prefix(8))\"; use pl, uk or en") }
        let words = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !words.isEmpty, words.count <= Self.maxCharacters else {
            throw SpeechError("the text must have 1 to \(Self.maxCharacters) characters")
        }
        guard isAvailable else { throw SpeechError("\(executable) is not installed; apt-get install espeak-ng") }
        stop()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        var arguments = ["-v", voice, "-s", String(rate), "--stdin", "-b", "1"]
        var file: String?
        if case .wavDirectory(let dir) = output {
            count += 1
            let path = (dir as NSString).appendingPathComponent(String(format: "utterance-%04d.wav", count))
            arguments += ["-w", path]
            file = path
        }
        process.arguments = arguments
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw SpeechError("cannot start \(executable): \(error.localizedDescription)") }
        // UTF-8 text (-b 1) on stdin, then EOF so that espeak-ng speaks it and exits.
        let data = Data((words + "\n").utf8)
        try? input.fileHandleForWriting.write(contentsOf: data)
        try? input.fileHandleForWriting.close()
        current = process
        return file
    }

    /// Stops the utterance being spoken, if any.
    public func stop() {
        if let current, current.isRunning {
            kill(current.processIdentifier, SIGKILL)
        }
        current = nil
    }

    /// Waits until the current utterance has been spoken (or written); for tests and shutdown.
    public func finish() async {
        guard let process = current else { return }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    }

    static func resolve(_ name: String) -> String? {
        if name.contains("/") { return name }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}
