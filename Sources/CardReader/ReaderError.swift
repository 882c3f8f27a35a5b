/// Why an ``NFCReader`` could not run. Each message says what to do next.
public struct ReaderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for callers to match on.
    public enum Code: String, Sendable, Equatable {
        /// Another reader loop (this or another process) holds the device's lock.
        case deviceInUse
        /// ``NFCReader/run(onTap:)`` was called while it is already running.
        case alreadyRunning
        /// The lock directory cannot be used (missing, not writable).
        case lockDirectoryUnusable
        /// libnfc could not start (`nfc_init` failed).
        case libnfcUnavailable
    }

    /// What went wrong.
    public var code: Code
    /// The device concerned, when known.
    public var device: String?
    /// A sentence for the log and the operator: what happened and what to do.
    public var message: String

    /// Creates an error.
    public init(code: Code, device: String?, message: String) {
        self.code = code
        self.device = device
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
