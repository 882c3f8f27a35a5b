import CentralStore
import Foundation
public import Hummingbird
import Logging
import NIOCore

/// An error answered as `{"error":{"code":…,"message":…}}` with an HTTP status.
public struct APIError: Error, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code.
    public var code: String
    /// What went wrong and what to do next.
    public var message: String

    /// An error with `status`, `code` and `message`.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func badRequest(_ message: String) -> APIError { .init(.badRequest, "bad_request", message) }

    /// The API's answer to any error: store errors keep their code, unknown ones never leak details.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as CentralStoreError:
            switch error.code {
            case .invalid: return .init(.badRequest, error.code.rawValue, error.message)
            case .notFound: return .init(.notFound, error.code.rawValue, error.message)
            case .conflict: return .init(.conflict, error.code.rawValue, error.message)
            case .cursorExpired: return .init(.gone, error.code.rawValue, error.message)
            case .badDatabaseURL, .unavailable, .corrupt:
                return .init(.serviceUnavailable, "unavailable", "the central's database is unavailable; retry later")
            }
        case is NIOTooManyBytesError:
            return .init(.contentTooLarge, "too_large", "the request body is too large")
        case let error as any HTTPResponseError:
            let code = switch error.status.code {
            case 404: "not_found"
            case 405: "method_not_allowed"
            case 413: "too_large"
            case 400..<500: "bad_request"
            default: "internal"
            }
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return .init(error.status.code < 500 ? error.status : .internalServerError, code, message)
        default:
            return .init(.internalServerError, "internal", "internal error; the central logged it")
        }
    }

    /// The JSON response for this error.
    func response() -> Response {
        struct Body: Encodable {
            struct Inner: Encodable {
                var code: String
                var message: String
            }
            var error: Inner
        }
        let data = (try? JSONEncoder().encode(Body(error: .init(code: code, message: message)))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Wraps the router so that every error, also from unmatched routes, becomes a JSON error body.
public struct JSONErrorResponder<Inner: HTTPResponder>: HTTPResponder {
    /// The wrapped responder's context.
    public typealias Context = Inner.Context
    let inner: Inner
    let logger: Logger

    /// Responds with `inner`, turning thrown errors into JSON errors.
    public func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await inner.respond(to: request, context: context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.status.code >= 500 {
                // The path only: never query strings (cursors are harmless, but tokens must never be logged).
                logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error_type": "\(type(of: error))", "status": "\(apiError.status.code)"])
            }
            return apiError.response()
        }
    }
}
