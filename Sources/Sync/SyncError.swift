/// Why a sync with the central did not complete; every case says what to do next.
///
/// Never carries a token or a card number.
public struct SyncError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// No connection, DNS failure, connection refused or reset.
        case unreachable
        /// The central did not answer within the call's time limit.
        case timeout
        /// TLS failed (wrong CA file, bad certificate).
        case tls
        /// 401: the kiosk's token is unknown or revoked.
        case tokenRefused = "token_refused"
        /// 403: the token is not a kiosk token.
        case forbidden
        /// 410: the feed no longer has our cursor; bootstrap again.
        case cursorExpired = "cursor_expired"
        /// Another HTTP error status (5xx, unexpected 4xx).
        case httpStatus = "http_status"
        /// The reply could not be understood; nothing was changed.
        case malformed
        /// The replica or the outbox could not be written.
        case local
        /// The configuration cannot work (bad URL, unreadable CA file).
        case configuration
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String {
        switch code {
        case .unreachable: "central unreachable (\(detail)); requests stay queued and checks use the local replica"
        case .timeout: "central did not answer in time (\(detail)); will retry"
        case .tls: "TLS with the central failed (\(detail)); check central.ca_file and the server's certificate"
        case .tokenRefused: "the central refused this kiosk's token (HTTP 401); enrol the kiosk again (cus-central kiosk add) and set central.token"
        case .forbidden: "the central says this token is not a kiosk token (HTTP 403); use a token from cus-central kiosk add"
        case .cursorExpired: "the central no longer has our place in the change feed; bootstrapping again"
        case .httpStatus: "the central answered \(detail); will retry"
        case .malformed: "the central's reply could not be understood (\(detail)); nothing was changed, will retry"
        case .local: "cannot store what the central sent (\(detail)); check the state directory's disk"
        case .configuration: "the central's configuration cannot work: \(detail)"
        }
    }
}
