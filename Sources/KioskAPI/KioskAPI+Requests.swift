import CardModel
import CentralWire
import Foundation
import KioskCore
import Hummingbird
import NIOCore
import Outbox

/// Residents' service requests: the catalogue, queuing a request for the open session, its status, and on-demand sync.
extension KioskAPI {
    func servicesResponse() throws -> Response {
        struct Body: Encodable { var services: [KioskService] }
        return try Self.json(Body(services: catalog.services))
    }

    /// `POST /api/v1/requests`: `{"session":"…","service":"senior_taxi","details":{…}}`.
    func createRequestResponse(_ request: Request) async throws -> Response {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: 16 * 1024) } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "The request body is larger than 16 KiB.",
                           messagePL: "Zgłoszenie jest za duże (ponad 16 KiB).")
        }
        let body = try Self.parseRequestBody(Data(buffer.readableBytesView))

        guard let session = await checkpoint.session(id: body.session) else {
            throw APIError(.gone, code: "session_expired",
                           message: "The session has ended. Tap the card again to make a request.",
                           messagePL: "Sesja wygasła. Przyłóż kartę ponownie, aby złożyć zgłoszenie.")
        }
        guard let service = catalog.service(id: body.service) else {
            throw APIError(.notFound, code: "unknown_service",
                           message: "There is no service \"\(body.service.prefix(40))\"; see GET /api/v1/services.",
                           messagePL: "Nie ma takiej usługi. Wybierz usługę z listy.")
        }
        guard service.allows(session.entitlements) else {
            throw APIError(.conflict, code: "not_entitled",
                           message: "This card's entitlements do not include \(service.name.en). Ask at the customer office.",
                           messagePL: "Uprawnienia tej karty nie obejmują usługi: \(service.name.pl). Zapytaj w Biurze Obsługi Klienta.")
        }
        guard let outbox else {
            throw APIError(.serviceUnavailable, code: "outbox_unavailable", message: "Requests cannot be taken at this kiosk now.",
                           messagePL: "W tym kiosku nie można teraz składać zgłoszeń.")
        }
        let item: OutboxItem
        do {
            item = try outbox.enqueue(
                service: service.id, cardNumber: session.cardNumber.value, identity: session.identity, detailsJSON: body.detailsJSON
            )
        } catch {
            if error.code == .invalid {
                throw APIError(.badRequest, code: "invalid_details", message: error.detail, messagePL: "Nieprawidłowe szczegóły zgłoszenia.")
            }
            throw APIError(.serviceUnavailable, code: "outbox_unavailable", message: "The request could not be saved; please try again.",
                           messagePL: "Nie udało się zapisać zgłoszenia; spróbuj ponownie.")
        }
        return try Self.json(RequestBody(request: .init(item)), status: .created)
    }

    /// `GET /api/v1/requests/{id}`: where a request is, for the screen.
    func requestStatusResponse(id: String) throws -> Response {
        guard UUIDv7.isValid(id) else {
            throw APIError(.notFound, code: "unknown_request", message: "No request with this id.", messagePL: "Nie ma takiego zgłoszenia.")
        }
        let found: OutboxItem?
        do { found = try outbox?.item(key: id) } catch {
            throw APIError(.serviceUnavailable, code: "outbox_unavailable", message: "The request list cannot be read now.")
        }
        guard let found else {
            throw APIError(.notFound, code: "unknown_request", message: "No request with this id.", messagePL: "Nie ma takiego zgłoszenia.")
        }
        return try Self.json(RequestBody(request: .init(found)))
    }

    /// `POST /api/v1/sync`: pulls and pushes now and answers with the outcome.
    func syncResponse() async throws -> Response {
        guard let sync else {
            throw APIError(.conflict, code: "central_not_configured",
                           message: "No central server is configured (central.url / KIOSK_CENTRAL_URL); this kiosk runs standalone.")
        }
        let outcome = await sync.syncNow()
        return try Self.json(outcome, status: outcome.ok ? .ok : .badGateway)
    }

    struct ParsedRequest {
        var session: String
        var service: String
        var detailsJSON: String
    }

    static func parseRequestBody(_ data: Data) throws -> ParsedRequest {
        func bad(_ why: String) -> APIError {
            APIError(.badRequest, code: "malformed_json",
                     message: "Send a JSON object like {\"session\":\"…\",\"service\":\"senior_taxi\",\"details\":{}}: \(why)",
                     messagePL: "Nieprawidłowe zgłoszenie.")
        }
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: data), case .object = object else {
            throw bad("the body is not a JSON object")
        }
        guard case .string(let session)? = object["session"], !session.isEmpty else { throw bad("the field \"session\" is missing or not text") }
        guard case .string(let service)? = object["service"], !service.isEmpty else { throw bad("the field \"service\" is missing or not text") }
        let details = object["details"] ?? .object([:])
        guard case .object = details else { throw bad("the field \"details\" must be an object") }
        guard details.depth <= 4 else { throw bad("\"details\" may nest at most 4 levels") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let detailsData = try? encoder.encode(details), detailsData.count <= Outbox.maxDetailsBytes
        else { throw bad("\"details\" must be at most \(Outbox.maxDetailsBytes) bytes of JSON") }
        return ParsedRequest(session: session, service: service, detailsJSON: String(decoding: detailsData, as: UTF8.self))
    }
}

/// `{"request": {…}}`, the answer to creating or looking up a request.
struct RequestBody: Encodable {
    struct Info: Encodable {
        var id: String
        var service: String
        /// `queued` (at the kiosk), `sent` (the central has it), the central's status
        /// (`received`, `scheduled`, `done`, `declined`), or `refused` (the central refused it for good).
        var status: String
        var createdAt: String
        var scheduledAt: String?

        init(_ item: OutboxItem) {
            id = item.idempotencyKey
            service = item.service
            createdAt = item.createdAt
            scheduledAt = item.scheduledAt
            switch item.state {
            case .pending: status = "queued"
            case .delivered: status = item.centralStatus ?? "sent"
            case .quarantined: status = "refused"
            }
        }
    }
    var request: Info
}
