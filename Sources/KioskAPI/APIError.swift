public import CardModel
public import CentralWire
public import Hummingbird
import NIOCore
import Foundation
import KioskCore

/// An error the local API answers with: a status, a stable code and a message a person can act on, in
/// Polish, Ukrainian and English.
///
/// Rendered as `{"error":{"code":"…","message":"…" (English),"message_pl":"…","message_uk":"…"}}`, with
/// `retry_after`, `reason` or `fields` when they apply.
public struct APIError: HTTPResponseError, Sendable {
    /// One bad field of a request, in the resident's language and in all three.
    public struct FieldError: Sendable, Encodable, Equatable {
        /// `details.<id>` is written as `<id>`; `phone`, `note`, `service` for the request's own fields.
        public var field: String
        /// A stable code (`required`, `too_early`, `not_a_phone`, …).
        public var code: String
        /// The message in the language the request asked for (`lang`, Polish by default).
        public var message: String
        /// The message in every language.
        public var text: LocalizedText

        /// A field error.
        public init(field: String, code: String, message: String, text: LocalizedText) {
            self.field = field
            self.code = code
            self.message = message
            self.text = text
        }
    }

    public var status: HTTPResponse.Status
    public var code: String
    /// What happened and what to do next, in three languages.
    public var message: LocalizedText
    /// Seconds to wait before asking again (429, 503): sent as `Retry-After` and `retry_after`.
    public var retryAfter: Int?
    /// Why a service cannot be requested (`409 not_available`).
    public var reason: StatusReason?
    /// One entry per bad field (`422 invalid_details`).
    public var fields: [FieldError]?
    /// Extra response headers (e.g. `WWW-Authenticate` on a 401).
    public var headers: HTTPFields
    /// For `403 wrong_pin`: PIN tries left before the staff card is locked.
    public var triesLeft: Int?

    /// An error answer.
    public init(
        _ status: HTTPResponse.Status, code: String, message: LocalizedText, retryAfter: Int? = nil, reason: StatusReason? = nil,
        fields: [FieldError]? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.reason = reason
        self.fields = fields
        self.headers = headers
    }

    /// A message in three languages (the kiosk API's words).
    public static func text(_ pl: String, _ uk: String, _ en: String) -> LocalizedText { LocalizedText(pl: pl, uk: uk, en: en) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorBody(error: .init(
            code: code, message: message.en, messagePl: message.pl, messageUk: message.uk, retryAfter: retryAfter, reason: reason, fields: fields,
            triesLeft: triesLeft
        ))
        let data = try JSONEncoder.kioskAPI.encode(body)
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The JSON shape of an ``APIError``.
struct ErrorBody: Encodable {
    struct Inner: Encodable {
        var code: String
        var message: String
        var messagePl: String
        var messageUk: String
        var retryAfter: Int?
        var reason: StatusReason?
        var fields: [APIError.FieldError]?
        var triesLeft: Int?
    }
    var error: Inner
}
