
/// Every error answer of the central: `{"error": {"code", "message"}}`.
public struct ErrorBody: Sendable, Codable, Hashable {
    /// The error itself.
    public struct Detail: Sendable, Codable, Hashable {
        /// A stable code (`bad_request`, `unauthorized`, `cursor_expired`, …).
        public var code: String
        /// What went wrong and what to do, in English.
        public var message: String
        /// An error.
        public init(code: String, message: String) {
            self.code = code
            self.message = message
        }
    }
    /// The error.
    public var error: Detail
    /// An error body.
    public init(error: Detail) { self.error = error }
}
