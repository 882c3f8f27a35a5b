public import Foundation

/// Slows down anyone walking the registry by typing numbers: after ``limit`` unknown or refused
/// numbers in a row, number entry pauses for ``pause``.
///
/// The count and the pause are kept in a small file in the state directory (mode 0600), written
/// before each answer, so restarting `kioskd` does not lift a pause. A valid number resets the count.
public actor NumberEntryGuard {
    /// Refused numbers in a row that start a pause.
    public let limit: Int
    /// How long number entry pauses.
    public let pause: Duration
    private let path: String?
    private var state: State

    struct State: Codable, Equatable {
        var failures = 0
        var pausedUntil: Date?
    }

    /// A guard persisted at `path` (`nil`: in memory only, for tests of other parts).
    public init(path: String?, limit: Int = 5, pause: Duration = .seconds(60)) {
        self.path = path
        self.limit = limit
        self.pause = pause
        if let path, let data = FileManager.default.contents(atPath: path),
           let saved = try? JSONDecoder().decode(State.self, from: data) {
            state = saved
        } else {
            // A missing or unreadable file starts afresh; an attacker who could delete it could also stop kioskd.
            state = State()
        }
    }

    /// Seconds until number entry may be used again, or `nil` when it may be used now.
    public func secondsLeft(now: Date = Date()) -> Int? {
        guard let until = state.pausedUntil, until > now else { return nil }
        return max(1, Int(until.timeIntervalSince(now).rounded(.up)))
    }

    /// Records the outcome of one typed number; returns the pause it started, in seconds, if any.
    @discardableResult
    public func record(accepted: Bool, now: Date = Date()) -> Int? {
        if accepted {
            state = State()
        } else {
            state.failures += 1
            if state.failures >= limit {
                state.failures = 0
                state.pausedUntil = now.addingTimeInterval(Double(pause.components.seconds))
            }
        }
        save()
        return secondsLeft(now: now)
    }

    private func save() {
        guard let path, let data = try? JSONEncoder().encode(state) else { return }
        // Written whole and renamed into place; 0600 like every state file.
        let temp = path + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) else { return }
        _ = rename(temp, path)
    }
}
