public import CentralStore
import Foundation
public import Hummingbird

/// The request context: Hummingbird's core plus the authenticated caller.
public struct CentralContext: RequestContext {
    /// Hummingbird's per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The kiosk or staff member, once ``RequireRole`` let the request through.
    public var principal: Principal?

    /// A context for one request.
    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}

/// Lets through only requests with a valid, unrevoked `Bearer` token of one role.
public struct RequireRole: RouterMiddleware {
    /// The context it works on.
    public typealias Context = CentralContext
    let store: any CentralStore
    let kind: Principal.Kind

    /// Requires a token of `kind`.
    public init(store: any CentralStore, kind: Principal.Kind) {
        self.store = store
        self.kind = kind
    }

    /// Answers 401 without a valid token, 403 for a token of the other role.
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError(.unauthorized, "unauthorized", "send Authorization: Bearer TOKEN (from cus-central \(kind.rawValue) add)")
        }
        let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let principal = try await store.authenticate(token: token) else {
            throw APIError(.unauthorized, "unauthorized", "the token is unknown or revoked; ask CUS staff to enrol this \(kind.rawValue) again")
        }
        guard principal.kind == kind else {
            throw APIError(.forbidden, "forbidden", "this route is for \(kind.rawValue) tokens only")
        }
        var context = context
        context.principal = principal
        return try await next(request, context)
    }
}
