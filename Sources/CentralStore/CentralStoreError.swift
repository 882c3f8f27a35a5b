/// Why a store call failed; ``code`` tells the HTTP layer the status, ``message`` tells people what to do.
public struct CentralStoreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, for code that reacts to it.
    public enum Code: String, Sendable {
        /// The input is not acceptable; fix it and retry.
        case invalid = "bad_request"
        /// The thing named does not exist.
        case notFound = "not_found"
        /// The input contradicts what is stored (a chip UID in use, a final status).
        case conflict
        /// The feed cursor is older than the oldest retained change (or from another central): bootstrap again.
        case cursorExpired = "cursor_expired"
        /// The database URL cannot be used.
        case badDatabaseURL = "bad_database_url"
        /// The database cannot be reached or opened.
        case unavailable
        /// Every connection stayed in use for the bounded wait: retry in a few seconds (HTTP 503, `Retry-After`).
        case busy
        /// The database holds data the store cannot read.
        case corrupt
    }

    /// What went wrong.
    public let code: Code
    /// What happened and what to do next, in English; never contains tokens or full card numbers.
    public let message: String

    /// An error with `code` and `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func invalid(_ m: String) -> Self { .init(.invalid, m) }
    static func notFound(_ m: String) -> Self { .init(.notFound, m) }
    static func conflict(_ m: String) -> Self { .init(.conflict, m) }
    static func unavailable(_ m: String) -> Self { .init(.unavailable, m) }
    static func corrupt(_ m: String) -> Self { .init(.corrupt, m) }
    static func busy(_ m: String) -> Self { .init(.busy, m) }
    static func badDatabaseURL(_ m: String) -> Self {
        .init(.badDatabaseURL, "\(m). Use sqlite:/path/central.db or postgres://user@host:port/db[?sslmode=verify-full] with the password in --database-password-file or CUS_CENTRAL_DB_PASSWORD")
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
