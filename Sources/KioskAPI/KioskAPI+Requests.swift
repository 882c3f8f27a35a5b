import CardModel
import CentralWire
import Foundation
import KioskCore
import Hummingbird
import NIOCore
import Outbox
import ServiceRules

/// Residents' service requests: the catalogue per person, intake and call-backs, their statuses, and on-demand sync.
extension KioskAPI {
    /// `GET /api/v1/services[?session=ID]`: with a session, the catalogue as that card holder may use it;
    /// without, the public catalogue.
    func servicesResponse(_ request: Request) async throws -> Response {
        let session = request.uri.queryParameters["session"].map(String.init)
        let listing: ServiceListing
        do { listing = try await desk.listing(session: session) } catch { throw Self.apiError(error, lang: .pl) }
        return try Self.json(listing)
    }

    /// `POST /api/v1/requests`: `{"session", "service" | "bundle", "details", "phone"?, "lang"?}` or
    /// `{"callback": {"phone", "service"?, "note"?}, "lang"?}`.
    func createRequestResponse(_ request: Request) async throws -> Response {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: 16 * 1024) } catch { throw Self.bodyTooLarge }
        let parsed = try Self.parseRequestBody(Data(buffer.readableBytesView))
        var accepted: AcceptedRequest
        do {
            switch parsed.body {
            case .request(let submission): accepted = try await desk.submit(submission)
            case .callback(let callback): accepted = try await desk.submitCallback(callback)
            }
        } catch {
            throw Self.apiError(error, lang: parsed.lang)
        }
        // On disk already: the slip goes to the printer on its own, the answer does not wait for paper.
        if printTicket(accepted, lang: parsed.lang.rawValue) { accepted.printed = true }
        return try Self.json(accepted, status: .created)
    }

    /// `GET /api/v1/requests?session=ID`: the tapped card holder's requests.
    func requestListResponse(_ request: Request) async throws -> Response {
        guard let session = request.uri.queryParameters["session"].map(String.init), !session.isEmpty else {
            throw APIError(.badRequest, code: "session_required", message: APIError.text(
                "Podaj sesję: GET /api/v1/requests?session=ID.", "Вкажіть сеанс: GET /api/v1/requests?session=ID.",
                "Say whose requests: GET /api/v1/requests?session=ID (the session of a tapped card)."
            ))
        }
        struct Body: Encodable { var requests: [RequestView] }
        let list: [RequestView]
        do { list = try await desk.requests(session: session) } catch { throw Self.apiError(error, lang: .pl) }
        return try Self.json(Body(requests: list))
    }

    /// `GET /api/v1/requests/{id}`: where a request is, for the screen.
    func requestStatusResponse(id: String) throws -> Response {
        let found: RequestView?
        do { found = try desk.request(id: id) } catch { throw Self.apiError(error, lang: .pl) }
        guard let found else {
            throw APIError(.notFound, code: "unknown_request", message: APIError.text(
                "Nie ma takiego zgłoszenia.", "Такої заявки немає.", "No request with this id."
            ))
        }
        struct Body: Encodable { var request: RequestView }
        return try Self.json(Body(request: found))
    }

    /// `POST /api/v1/sync`: pulls and pushes now and answers with the outcome.
    func syncResponse() async throws -> Response {
        guard let sync else {
            throw APIError(.conflict, code: "central_not_configured", message: APIError.text(
                "Nie skonfigurowano serwera centralnego (central.url / KIOSK_CENTRAL_URL); kiosk działa samodzielnie.",
                "Центральний сервер не налаштовано (central.url / KIOSK_CENTRAL_URL); кіоск працює автономно.",
                "No central server is configured (central.url / KIOSK_CENTRAL_URL); this kiosk runs standalone."
            ))
        }
        let outcome = await sync.syncNow()
        return try Self.json(outcome, status: outcome.ok ? .ok : .badGateway)
    }

    // MARK: Errors

    /// The language a resident chose on the screen, for the per-field messages.
    enum Language: String {
        case pl, uk, en
    }

    /// The desk's refusal as an answer, in three languages (per-field messages in `lang`).
    static func apiError(_ error: DeskError, lang: Language) -> APIError {
        switch error {
        case .sessionExpired:
            return APIError(.gone, code: "session_expired", message: APIError.text(
                "Sesja wygasła. Przyłóż kartę ponownie, aby złożyć zgłoszenie.",
                "Сеанс завершився. Прикладіть картку ще раз, щоб подати заявку.",
                "The session has ended. Tap the card again to make a request."
            ))
        case .unknownService(let id):
            let shown = String(id.prefix(40))
            return APIError(.notFound, code: "unknown_service", message: APIError.text(
                "Nie ma takiej usługi. Wybierz usługę z listy.",
                "Такої послуги немає. Виберіть послугу зі списку.",
                "There is no service or bundle \"\(shown)\"; see GET /api/v1/services."
            ))
        case .notAvailable(let reason):
            return APIError(.conflict, code: "not_available", message: reason.text, reason: reason.status)
        case .invalidDetails(let problems):
            return APIError(
                .unprocessableContent, code: "invalid_details",
                message: APIError.text(
                    "Popraw zaznaczone pola zgłoszenia.", "Виправте позначені поля заявки.",
                    "Some details of the request need correcting: see fields."
                ),
                fields: problems.map { APIError.FieldError(field: $0.field, code: $0.code, message: $0.message.text(in: lang.rawValue), text: $0.message) }
            )
        case .typedSession:
            return APIError(.forbidden, code: "typed_session", message: APIError.text(
                "Swoje zgłoszenia zobaczysz po przyłożeniu karty do czytnika (nie po wpisaniu numeru).",
                "Свої заявки ви побачите, приклавши картку до зчитувача (а не ввівши номер).",
                "Requests are shown only to a card tapped on the reader, not to a typed number: anyone can type a number."
            ))
        case .tooManyCallbacks(let seconds):
            return APIError(
                .tooManyRequests, code: "too_many_attempts",
                message: APIError.text(
                    "Zbyt wiele próśb o telefon z tego kiosku. Spróbuj ponownie za \(seconds) s albo podejdź do okienka.",
                    "Забагато прохань передзвонити з цього кіоску. Спробуйте ще раз через \(seconds) с або зверніться до віконця.",
                    "Too many call-back requests from this kiosk. Try again in \(seconds) s, or ask at the desk."
                ),
                retryAfter: seconds
            )
        case .outboxUnavailable:
            return APIError(.serviceUnavailable, code: "outbox_unavailable", message: APIError.text(
                "Nie udało się zapisać zgłoszenia; spróbuj ponownie lub podejdź do okienka.",
                "Не вдалося зберегти заявку; спробуйте ще раз або зверніться до віконця.",
                "The request could not be saved; nothing was queued. Please try again, or ask at the desk."
            ))
        case .malformed(let why):
            return malformed(why)
        }
    }

    static func malformed(_ why: String) -> APIError {
        APIError(.badRequest, code: "malformed_json", message: APIError.text(
            "Nieprawidłowe zgłoszenie: \(why).",
            "Неправильна заявка: \(why).",
            "Send {\"session\":\"…\",\"service\":\"senior_taxi\",\"details\":{…}} or {\"callback\":{\"phone\":\"…\"}}: \(why)"
        ))
    }

    // MARK: Parsing

    struct ParsedRequest {
        enum Body {
            case request(RequestDesk.Submission)
            case callback(RequestDesk.CallbackSubmission)
        }
        var body: Body
        var lang: Language
    }

    static func parseRequestBody(_ data: Data) throws(APIError) -> ParsedRequest {
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: data), case .object(let fields) = object else {
            throw malformed("the body is not a JSON object")
        }
        var lang = Language.pl
        if let value = fields["lang"] {
            guard case .string(let text) = value, let parsed = Language(rawValue: text) else { throw malformed("\"lang\" is \"pl\", \"uk\" or \"en\"") }
            lang = parsed
        }
        func text(_ value: JSONValue?, _ name: String) throws(APIError) -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: throw malformed("the field \"\(name)\" must be text")
            }
        }
        if let callback = fields["callback"] {
            guard case .object(let c) = callback else { throw malformed("\"callback\" must be an object") }
            guard fields["session"] == nil, fields["service"] == nil, fields["bundle"] == nil else {
                throw malformed("a call-back is asked for without a session, service or bundle beside it")
            }
            let submission = RequestDesk.CallbackSubmission(
                phone: try text(c["phone"], "callback.phone"), service: try text(c["service"], "callback.service"),
                note: try text(c["note"], "callback.note")
            )
            return ParsedRequest(body: .callback(submission), lang: lang)
        }
        guard let session = try text(fields["session"], "session"), !session.isEmpty else { throw malformed("the field \"session\" is missing or not text") }
        let service = try text(fields["service"], "service")
        let bundle = try text(fields["bundle"], "bundle")
        let kind: RequestKind
        let id: String
        switch (service, bundle) {
        case (let s?, nil) where !s.isEmpty: (kind, id) = (.service, s)
        case (nil, let b?) where !b.isEmpty: (kind, id) = (.bundle, b)
        default: throw malformed("send either \"service\" or \"bundle\"")
        }
        let details = fields["details"] ?? .object([:])
        guard case .object = details else { throw malformed("the field \"details\" must be an object") }
        guard details.depth <= 4 else { throw malformed("\"details\" may nest at most 4 levels") }
        let phone = try text(fields["phone"], "phone")
        return ParsedRequest(body: .request(.init(session: session, kind: kind, id: id, details: details, phone: phone)), lang: lang)
    }
}
