import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The progress of long command-line work (an import) on standard error, so standard output stays the result.
///
/// On a terminal it redraws one bar in place at most ten times a second
/// (`[#####     ] 45 %  450000/1000000 cards  ETA 12 s`); into a file or pipe it writes a plain line at
/// every tenth of the work and at least every 5 s while it moves (`import: 450000/1000000 cards (45 %)`),
/// which a log keeps readable.
public final class TerminalProgress: Sendable {
    /// How the progress is shown.
    public enum Style: Sendable {
        /// One line redrawn in place with `\r` (a terminal).
        case bar
        /// Plain lines, one per step (a file, a pipe, the journal).
        case lines
    }

    /// Prefix of plain lines, e.g. `import`.
    public let label: String
    /// What is counted, e.g. `cards`; `nil` shows the percentage alone (a count that is only an estimate).
    public let unit: String?
    /// Bar or lines.
    public let style: Style

    /// Shortest time between two redraws of the bar.
    static let barInterval: Duration = .milliseconds(100)
    /// Longest time between two plain lines while the work moves.
    static let lineInterval: Duration = .seconds(5)
    /// Width of the bar between its brackets.
    public static let barWidth = 30

    private struct State {
        var start: ContinuousClock.Instant
        var lastOutput: ContinuousClock.Instant?
        var lastDone = -1
        var lastTenth = -1
        /// The last count told, drawn or not.
        var seen: (done: Int, total: Int)?
        var finished = false
    }

    private let state: Mutex<State>
    private let write: @Sendable (String) -> Void

    /// A progress display writing through `write`, its clock starting at `start`.
    public init(
        label: String, unit: String?, style: Style, start: ContinuousClock.Instant = .now,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.unit = unit
        self.style = style
        self.write = write
        state = Mutex(State(start: start))
    }

    /// A progress display on standard error: a bar when it is a terminal, plain lines otherwise.
    public static func standardError(label: String, unit: String?) -> TerminalProgress {
        TerminalProgress(label: label, unit: unit, style: isatty(STDERR_FILENO) == 1 ? .bar : .lines) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// `done` of `total` are finished; draws only when the style's rate allows. Cheap enough to call per item.
    public func update(_ done: Int, of total: Int, at now: ContinuousClock.Instant = .now) {
        let text: String? = state.withLock { s in
            guard !s.finished else { return nil }
            s.seen = (done, total)
            guard done != s.lastDone else { return nil }
            let tenth = Self.percent(done, total) / 10
            let due: Bool
            switch style {
            case .bar:
                due = s.lastOutput.map { now - $0 >= Self.barInterval } ?? true
            case .lines:
                due = tenth > s.lastTenth || (s.lastOutput.map { now - $0 >= Self.lineInterval } ?? false)
            }
            guard due else { return nil }
            s.lastOutput = now
            s.lastDone = done
            s.lastTenth = max(s.lastTenth, tenth)
            return render(done, total, elapsed: now - s.start, final: false)
        }
        if let text { write(text) }
    }

    /// The work is over: shows the last count one last time if it was not (the bar then ends its line).
    public func finish(at now: ContinuousClock.Instant = .now) {
        let text: String? = state.withLock { s in
            guard !s.finished, let (done, total) = s.seen else { return nil }
            s.finished = true
            if style == .lines && done == s.lastDone { return nil }
            return render(done, total, elapsed: now - s.start, final: true)
        }
        if let text { write(text) }
    }

    private func render(_ done: Int, _ total: Int, elapsed: Duration, final: Bool) -> String {
        switch style {
        case .bar: "\r" + Self.bar(done: done, total: total, unit: unit, elapsed: elapsed) + "\u{1B}[K" + (final ? "\n" : "")
        case .lines: Self.line(label: label, done: done, total: total, unit: unit) + "\n"
        }
    }

    /// The bar's text: `[#####     ] 45 %  450000/1000000 cards  ETA 12 s` (no ETA before the first item).
    public static func bar(done: Int, total: Int, unit: String?, elapsed: Duration, width: Int = barWidth) -> String {
        let percent = percent(done, total)
        let filled = min(width, percent * width / 100)
        var text = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
        text += "\(percent) %"
        if let unit { text += "  \(done)/\(total) \(unit)" }
        if let eta = eta(done: done, total: total, elapsed: elapsed) { text += "  ETA " + duration(eta) }
        return text
    }

    /// A plain line: `import: 450000/1000000 cards (45 %)`, or `read: 45 %` without a unit.
    public static func line(label: String, done: Int, total: Int, unit: String?) -> String {
        guard let unit else { return "\(label): \(percent(done, total)) %" }
        return "\(label): \(done)/\(total) \(unit) (\(percent(done, total)) %)"
    }

    /// Whole percent of `total` done (100 for nothing to do).
    public static func percent(_ done: Int, _ total: Int) -> Int {
        total > 0 ? min(100, max(0, done) * 100 / total) : 100
    }

    /// Seconds left at the rate so far; `nil` before the first item.
    static func eta(done: Int, total: Int, elapsed: Duration) -> Int? {
        guard done > 0 else { return nil }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Int((seconds * Double(max(0, total - done)) / Double(done)).rounded(.up))
    }

    /// `12 s`, `3 min 05 s`, `2 h 04 min`.
    static func duration(_ seconds: Int) -> String {
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min " + String(format: "%02d", seconds % 60) + " s" }
        return "\(seconds / 3600) h " + String(format: "%02d", seconds / 60 % 60) + " min"
    }
}
