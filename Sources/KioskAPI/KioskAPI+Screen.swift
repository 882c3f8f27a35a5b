import CardModel
import CentralWire
import Foundation
import Hummingbird
import Logging
import KioskCore
import NIOCore
import Speech
import StaffAccess
import TicketPrinter

/// What the screen uses beyond checks and requests: its settings, reading aloud, more time, and staff verification.
extension KioskAPI {
    /// `GET /api/v1/ui`.
    func uiResponse() throws -> Response {
        try Self.json(screen.settings)
    }

    /// `POST /api/v1/speech` `{"text", "lang"}`: kioskd reads it aloud (a new text interrupts the last).
    func speakResponse(_ request: Request) async throws -> Response {
        guard let speaker = screen.speaker else { throw Self.speechUnavailable }
        struct Body: Decodable { var text: String; var lang: String }
        let body: Body = try await Self.decodeBody(request, example: #"{"text":"Przyłóż kartę do czytnika","lang":"pl"}"#)
        do {
            try await speaker.say(body.text, language: body.lang)
        } catch {
            throw APIError(.badRequest, code: "cannot_speak", message: APIError.text(
                "Nie można przeczytać tego tekstu: \(error.detail)", "Неможливо прочитати цей текст: \(error.detail)", error.detail
            ))
        }
        return Response(status: .accepted)
    }

    /// `DELETE /api/v1/speech`: stops reading.
    func stopSpeechResponse() async -> Response {
        await screen.speaker?.stop()
        return Response(status: .noContent)
    }

    /// `POST /api/v1/sessions/{id}/extend`: the resident asked for more time.
    func extendSessionResponse(id: String) async throws -> Response {
        guard let seconds = await checkpoint.extendSession(id: id) else { throw Self.sessionGone }
        struct Body: Encodable { var expiresIn: Int }
        return try Self.json(Body(expiresIn: seconds))
    }

    /// `PUT /api/v1/sessions/{id}/preferences` `{"lang", "large_text", "speech"}`: the holder asks the kiosk to
    /// open in this mode at their next tap.
    func storePreferencesResponse(_ request: Request, id: String) async throws -> Response {
        let body: ScreenPreferences = try await Self.decodeBody(request, example: #"{"lang":"uk","large_text":true,"speech":true}"#)
        return try Self.preferencesAnswer(await checkpoint.changePreferences(session: id, to: body))
    }

    /// `DELETE /api/v1/sessions/{id}/preferences`: the holder asks the kiosk to forget them.
    func forgetPreferencesResponse(id: String) async throws -> Response {
        _ = try Self.preferencesAnswer(await checkpoint.changePreferences(session: id, to: nil))
        return Response(status: .noContent)
    }

    private static func preferencesAnswer(_ change: Checkpoint.PreferencesChange) throws -> Response {
        switch change {
        case .done(let preferences):
            struct Answer: Encodable { var preferences: ScreenPreferences? }
            return try json(Answer(preferences: preferences))
        case .sessionExpired:
            throw sessionGone
        case .cardRequired:
            throw APIError(.forbidden, code: "card_required", message: APIError.text(
                "Ustawienia można zapisać tylko z kartą przyłożoną do czytnika.",
                "Налаштування можна зберегти лише з карткою, прикладеною до зчитувача.",
                "Settings can only be stored with the card on the reader."
            ))
        case .noRecord:
            throw APIError(.conflict, code: "no_record", message: APIError.text(
                "Tej karty nie ma jeszcze w rejestrze kiosku; ustawień nie da się przy niej zapisać.",
                "Цієї картки ще немає в реєстрі кіоску; налаштування не можна зберегти.",
                "This card is not in the kiosk's registry yet; settings cannot be stored with it."
            ))
        case .failed:
            throw APIError(.serviceUnavailable, code: "not_stored", message: APIError.text(
                "Nie udało się zapisać ustawień. Spróbuj ponownie.", "Не вдалося зберегти налаштування. Спробуйте ще раз.",
                "The settings could not be stored. Please try again."
            ))
        }
    }

    /// `POST /api/v1/staff/unlock` `{"session", "pin"}`: a staff card's session and its PIN open verification mode.
    func staffUnlockResponse(_ request: Request) async throws -> Response {
        guard let staff = screen.staff else { throw Self.noStaffMode }
        struct Body: Decodable { var session: String; var pin: String }
        let body: Body = try await Self.decodeBody(request, example: #"{"session":"…","pin":"4821"}"#)
        switch await staff.unlock(session: body.session, pin: body.pin) {
        case .unlocked(let token, let expiresIn):
            struct Answer: Encodable { var staffToken: String; var expiresIn: Int }
            return try Self.json(Answer(staffToken: token, expiresIn: expiresIn))
        case .sessionExpired:
            throw Self.sessionGone
        case .notStaff:
            throw APIError(.forbidden, code: "not_staff", message: APIError.text(
                "Ta karta nie jest ważną kartą pracownika CUS.", "Ця картка не є дійсною карткою працівника CUS.", "This card is not a valid CUS staff card."
            ))
        case .noPIN:
            throw APIError(.conflict, code: "no_pin", message: APIError.text(
                "Ta karta pracownika nie ma PIN-u w tym kiosku (kioskctl staff pin set).",
                "Ця картка працівника не має PIN-коду в цьому кіоску (kioskctl staff pin set).",
                "This staff card has no PIN at this kiosk (kioskctl staff pin set)."
            ))
        case .wrongPIN(let left):
            var error = APIError(.forbidden, code: "wrong_pin", message: APIError.text(
                "Błędny PIN. Pozostałe próby: \(left).", "Неправильний PIN. Залишилося спроб: \(left).", "Wrong PIN. Tries left: \(left)."
            ))
            error.triesLeft = left
            throw error
        case .locked(let seconds):
            throw APIError(HTTPResponse.Status(code: 423, reasonPhrase: "Locked"), code: "locked", message: APIError.text(
                "Zbyt wiele błędnych PIN-ów. Spróbuj za \(seconds / 60 + 1) min.",
                "Забагато неправильних PIN-кодів. Спробуйте через \(seconds / 60 + 1) хв.",
                "Too many wrong PINs. Try again in \(seconds / 60 + 1) min."
            ), retryAfter: seconds)
        case .unavailable(let why):
            throw APIError(.serviceUnavailable, code: "staff_pins_unavailable", message: APIError.text(
                "Nie można sprawdzić PIN-u: \(why)", "Неможливо перевірити PIN: \(why)", "The PIN cannot be checked: \(why)"
            ))
        }
    }

    /// `POST /api/v1/staff/check` `{"token", "number"}`: a typed number's verdict with the holder's name, for staff.
    func staffCheckResponse(_ request: Request) async throws -> Response {
        guard let staff = screen.staff else { throw Self.noStaffMode }
        struct Body: Decodable { var token: String; var number: String }
        let body: Body = try await Self.decodeBody(request, example: #"{"token":"…","number":"SKS-0001"}"#)
        guard await staff.touch(body.token) else { throw Self.staffExpired }
        let number: CardNumber
        do { number = try CardNumber(normalising: body.number) } catch {
            throw APIError(.badRequest, code: "invalid_number", message: error.message)
        }
        return try Self.json(await checkpoint.check(.typed(number), source: .check, revealHolder: true))
    }

    /// `DELETE /api/v1/staff/session` with `Authorization: Bearer <staff_token>`: verification mode ends.
    func staffEndResponse(_ request: Request) async throws -> Response {
        guard let staff = screen.staff else { throw Self.noStaffMode }
        let header = request.headers[.authorization] ?? ""
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
        guard await staff.end(token) else { throw Self.staffExpired }
        return Response(status: .noContent)
    }

    /// Prints the ticket of a request just accepted, when a printer is configured; never delays the answer.
    /// - Returns: whether a slip was sent to the printer.
    func printTicket(_ accepted: AcceptedRequest, lang: String) -> Bool {
        guard let printer = screen.printer, let ticket = accepted.ticket else { return false }
        let receipt = accepted.request
        let service: LocalizedText = switch receipt.kind {
        case .bundle: receipt.service.flatMap { catalog.catalogue.bundle(id: $0)?.name } ?? Self.callbackTitle
        case .service: receipt.service.flatMap { catalog.catalogue.service(id: $0)?.name } ?? Self.callbackTitle
        case .callback: Self.callbackTitle
        }
        let slip = TicketSlip(
            ticket: ticket, service: service, nextStep: receipt.nextStep, language: lang, contactPhone: screen.settings.kioskPhone, at: Date()
        )
        let logger = screen.logger
        Task.detached {
            do throws(PrinterError) { try await printer.print(slip.escPos()) } catch {
                logger.error("ticket not printed", metadata: ["error": "\(error.description)"])
            }
        }
        return true
    }

    static let callbackTitle = APIError.text("Telefon od koordynatora", "Дзвінок від координатора", "A call from a coordinator")

    static let speechUnavailable = APIError(.serviceUnavailable, code: "speech_unavailable", message: APIError.text(
        "Czytanie na głos nie działa w tym kiosku.", "Читання вголос у цьому кіоску не працює.", "Reading aloud is not available at this kiosk."
    ))
    static let sessionGone = APIError(.gone, code: "session_expired", message: APIError.text(
        "Sesja wygasła. Przyłóż kartę ponownie.", "Сеанс завершився. Прикладіть картку ще раз.", "The session has ended. Tap the card again."
    ))
    static let noStaffMode = APIError(.notFound, code: "no_staff_mode", message: APIError.text(
        "Ten kiosk nie ma trybu weryfikacji.", "Цей кіоск не має режиму перевірки.", "This kiosk has no verification mode."
    ))
    static let staffExpired = APIError(.unauthorized, code: "staff_session_expired", message: APIError.text(
        "Tryb weryfikacji się zakończył. Przyłóż kartę pracownika i wpisz PIN.",
        "Режим перевірки завершився. Прикладіть картку працівника і введіть PIN.",
        "Verification mode has ended. Tap the staff card and enter the PIN."
    ))

    /// A small JSON body of type `T`, or 400 `malformed_json` showing `example`.
    static func decodeBody<T: Decodable>(_ request: Request, example: String) async throws -> T {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: 16 * 1024) } catch { throw Self.bodyTooLarge }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            let why = describe(error)
            throw APIError(.badRequest, code: "malformed_json", message: APIError.text(
                "Nieprawidłowe zapytanie: wyślij \(example) (\(why)).", "Неправильний запит: надішліть \(example) (\(why)).", "Send \(example): \(why)"
            ))
        }
    }
}
