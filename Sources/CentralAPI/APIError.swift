import CentralStore
import CentralWire
import Foundation
public import Hummingbird
public import Logging
import NIOCore

/// An error answered as `{"error":{"code":…,"message":…}}` with an HTTP status.
public struct APIError: Error, Sendable {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code.
    public var code: String
    /// What went wrong and what to do next.
    public var message: String
    /// Seconds after which a retry may succeed, sent as `Retry-After` (with 503 `busy`).
    public var retryAfter: Int?

    /// An error with `status`, `code` and `message`.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    /// Seconds a caller is told to wait when every connection is busy.
    static let busyRetryAfter = 2

    /// 503 `busy` with `Retry-After`: every connection stayed in use for the bounded wait.
    static func busy(_ message: String) -> APIError {
        .init(.serviceUnavailable, "busy", message, retryAfter: busyRetryAfter)
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
            case .busy:
                return .busy("the central is busy (\(error.message))")
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
        let data = (try? JSONEncoder().encode(ErrorBody(error: .init(code: code, message: message)))) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The paths the router knows and the methods each answers: what 404, 405 and `OPTIONS` are decided from.
public struct RouteTable: Sendable {
    struct Entry: Sendable {
        /// Path segments; `nil` where the route captures a parameter.
        var segments: [String?]
        var methods: Set<HTTPRequest.Method>
    }
    let entries: [Entry]

    /// The table of `routes` (from `Router.routes`).
    public init(_ routes: [Router<CentralContext>.RouteDescription]) {
        var byPath: [String: Entry] = [:]
        for route in routes {
            let segments: [String?] = route.path.components.map { element in
                let text = element.description
                return text.hasPrefix(":") || text.hasPrefix("{") || text == "*" ? nil : text
            }
            byPath[route.path.description, default: Entry(segments: segments, methods: [])].methods.insert(route.method)
        }
        entries = byPath.keys.sorted().compactMap { byPath[$0] }
    }

    /// The methods answered at `path`, or `nil` when no route has this path.
    public func methods(at path: String) -> Set<HTTPRequest.Method>? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        var found: Set<HTTPRequest.Method>?
        for entry in entries where entry.segments.count == parts.count {
            let matches = zip(entry.segments, parts).allSatisfy { segment, part in segment.map { $0 == part } ?? true }
            if matches { found = (found ?? []).union(entry.methods) }
        }
        return found
    }

    /// `Allow` header value for `methods`, in a stable order, with `OPTIONS` (always answered).
    static func allow(_ methods: Set<HTTPRequest.Method>) -> String {
        (methods.map(\.rawValue) + ["OPTIONS"]).sorted().joined(separator: ", ")
    }
}

/// Wraps the router so that every error, also from unmatched routes, becomes a JSON error body.
///
/// A known path asked with a method it does not answer gets 405 with `Allow`; `OPTIONS` on a known
/// path gets 204 with `Allow`; an unknown path gets 404. All before any token is checked.
public struct JSONErrorResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context == CentralContext {
    /// The wrapped responder's context.
    public typealias Context = Inner.Context
    let inner: Inner
    let routes: RouteTable
    let logger: Logger

    /// Wraps `inner`, deciding 404/405/`OPTIONS` from `routes`.
    public init(inner: Inner, routes: RouteTable, logger: Logger) {
        self.inner = inner
        self.routes = routes
        self.logger = logger
    }

    /// Responds with `inner`, turning thrown errors into JSON errors.
    public func respond(to request: Request, context: Context) async throws -> Response {
        guard let methods = routes.methods(at: request.uri.path) else {
            return APIError(.notFound, "not_found", "no such path; see docs/openapi/central.yaml for the routes").response()
        }
        guard methods.contains(request.method) else {
            var response: Response
            if request.method == .options {
                response = Response(status: .noContent)
            } else {
                response = APIError(
                    .methodNotAllowed, "method_not_allowed",
                    "\(request.method.rawValue) is not answered here; use \(methods.map(\.rawValue).sorted().joined(separator: " or "))"
                ).response()
            }
            response.headers[.allow] = RouteTable.allow(methods)
            return response
        }
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
