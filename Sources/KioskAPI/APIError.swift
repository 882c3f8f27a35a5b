public import Hummingbird
import NIOCore
import Foundation
import KioskCore

/// An error the local API answers with: a status, a stable code and a message a person can act on.
///
/// Rendered as `{"error":{"code":"…","message":"…","message_pl":"…"}}`.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var messagePL: String?
    /// Seconds to wait before asking again (429, 503): sent as `Retry-After` and `retry_after`.
    public var retryAfter: Int?
    /// Extra response headers (e.g. `WWW-Authenticate` on a 401).
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, message: String, messagePL: String? = nil,
        retryAfter: Int? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.messagePL = messagePL
        self.retryAfter = retryAfter
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder.kioskAPI.encode(ErrorBody(error: .init(code: code, message: message, messagePl: messagePL, retryAfter: retryAfter)))
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The JSON shape of an ``APIError``.
struct ErrorBody: Codable {
    struct Inner: Codable {
        var code: String
        var message: String
        var messagePl: String?
        var retryAfter: Int?
    }
    var error: Inner
}
