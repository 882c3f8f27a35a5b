public import Foundation

/// What the reader is doing, for the health endpoint and the staff screen.
public enum ReaderState: String, Sendable, Codable {
    /// No reader: the device path is missing (unplugged) or the scan found none. Retried.
    case absent
    /// A reader is there and being opened.
    case opening
    /// Open and answering: taps are read.
    case ready
    /// A reader is there but fails (silent, garbled, refused to open). Reopened with backoff.
    case error
}

/// A snapshot of the reader's state and when it began.
public struct ReaderHealth: Sendable, Codable, Equatable {
    /// The current state.
    public var state: ReaderState
    /// The most recent problem, kept after recovery so staff can see what happened; never holds
    /// a UID or a card number.
    public var lastError: String?
    /// The connstring in use or being tried; nil before one is known.
    public var device: String?
    /// When ``state`` (or the error or device) last changed.
    public var since: Date

    /// Creates a snapshot.
    public init(state: ReaderState, lastError: String?, device: String?, since: Date) {
        self.state = state
        self.lastError = lastError
        self.device = device
        self.since = since
    }
}
