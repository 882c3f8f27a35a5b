/// Why the replica could not be opened or used; each case says what to do next.
public struct ReplicaError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Code: String, Sendable {
        /// The file exists but is not an SQLite database.
        case notADatabase = "not_a_database"
        /// The file is an SQLite database but damaged.
        case corrupt
        /// The file is a database, but not a kiosk replica (another application's).
        case foreign
        /// The replica was written by a newer kioskd.
        case tooNew = "too_new"
        /// The file or its folder cannot be read or written.
        case io
        /// Any other SQLite failure.
        case database
    }

    public let code: Code
    public let path: String
    public let detail: String

    public init(code: Code, path: String, detail: String) {
        self.code = code
        self.path = path
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .notADatabase:
            "The replica \(path) is not an SQLite database (\(detail)). kioskd will not overwrite it: move the file aside and restart to bootstrap a new replica from the central server or `kioskctl replica import`."
        case .corrupt:
            "The replica \(path) is corrupt (\(detail)). kioskd will not use or overwrite it: move the file aside and restart to bootstrap a new replica."
        case .foreign:
            "The file \(path) is an SQLite database but not a cus-kiosk replica (\(detail)). Check KIOSK_STATE_DIR / state_dir in the config."
        case .tooNew:
            "The replica \(path) was written by a newer kioskd (\(detail)). Install the newer kioskd, or move the file aside."
        case .io:
            "Cannot open the replica \(path): \(detail). Check that the state directory exists and is writable by kioskd."
        case .database:
            "Replica \(path): \(detail)"
        }
    }
}
