import Foundation
import KioskCore
import HTTPTypes
public import Hummingbird

/// What every answer of the local API and the screen goes through.
///
/// - With an access token (`http.allow_remote = true` needs one), every route wants it: as
///   `Authorization: Bearer TOKEN`, or as the password of HTTP Basic authentication, which a browser
///   showing the screen from another machine sends by itself on every same-origin request (the event
///   stream included).
/// - A `POST` with a body must say `Content-Type: application/json`: a form that another page in the
///   kiosk's browser posts cross-site cannot (that would need a CORS preflight, which this API never
///   grants). A change asked by a page of another origin (its `Origin` header) is refused outright.
/// - Every answer carries a Content-Security-Policy that lets the screen load only its own files and talk
///   only to this API, and headers that keep it out of frames and referrers.
public struct LocalAccessMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The token every request must carry; `nil` on a loopback-only kiosk.
    public let token: String?

    /// The screen's policy: its own scripts, styles and images only; no inline script, no frames, no plug-ins.
    public static var contentSecurityPolicy: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    }

    public init(token: String?) {
        self.token = token
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            try check(request)
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[HTTPField.Name("Content-Security-Policy")!] = Self.contentSecurityPolicy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return response
    }

    func check(_ request: Request) throws(APIError) {
        if let token, !Self.authorized(request.headers[.authorization], token: token) {
            throw APIError(
                .unauthorized, code: "unauthorized",
                message: APIError.text(
                    "Brak dostępu: potrzebny jest token dostępu kiosku (http.token).",
                    "Немає доступу: потрібен токен доступу кіоску (http.token).",
                    "This kiosk's API needs its access token (http.token): send Authorization: Bearer TOKEN."
                ),
                headers: [.wwwAuthenticate: "Basic realm=\"cus-kiosk\", charset=\"UTF-8\""]
            )
        }
        if request.method != .get, request.method != .head, let origin = request.headers[.origin],
           let authority = request.head.authority, origin != "http://\(authority)", origin != "https://\(authority)" {
            throw APIError(
                .forbidden, code: "cross_origin",
                message: APIError.text(
                    "Tylko ekran kiosku może tu coś zmieniać.",
                    "Лише екран кіоску може тут щось змінювати.",
                    "Only the kiosk's own screen may change anything here."
                )
            )
        }
        if request.method == .post {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            let length = request.headers[.contentLength].flatMap { Int($0) }
            let hasBody = (length ?? 0) > 0 || request.headers[.transferEncoding] != nil
            // A body-less POST (`POST /api/v1/sync`) needs no type; every form a browser posts has one.
            guard type == "application/json" || (type == nil && !hasBody) else {
                throw APIError(
                    .unsupportedMediaType, code: "json_required",
                    message: APIError.text(
                        "Treść musi być w formacie JSON (Content-Type: application/json).",
                        "Вміст має бути у форматі JSON (Content-Type: application/json).",
                        "Send the body as JSON with the header Content-Type: application/json."
                    )
                )
            }
        }
    }

    /// Compares in constant time, so the answer's timing does not reveal how much of a guess was right.
    static func authorized(_ header: String?, token: String) -> Bool {
        guard let header else { return false }
        var presented: String?
        if header.lowercased().hasPrefix("bearer ") {
            presented = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        } else if header.lowercased().hasPrefix("basic "),
                  let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                  let pair = String(data: data, encoding: .utf8), let colon = pair.firstIndex(of: ":") {
            presented = String(pair[pair.index(after: colon)...])
        }
        guard let presented else { return false }
        let a = Array(presented.utf8), b = Array(token.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<b.count { difference |= b[i] ^ (i < a.count ? a[i] : 0) }
        return difference == 0
    }
}
