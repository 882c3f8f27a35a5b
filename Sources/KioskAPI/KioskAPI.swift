import CardModel
import Foundation
public import Logging
public import Speech
public import TicketPrinter
public import Hummingbird
public import KioskCore
import NIOCore
public import Outbox
import Replica

/// The kiosk's local HTTP API (`/api/v1/…`), served on loopback to the on-screen UI and staff tools.
///
/// See `docs/api.md` for every route with examples.
public struct KioskAPI: Sendable {
    public let checkpoint: Checkpoint
    public let status: any KioskStatusSource
    public let kioskName: String
    /// Served at `/` when set: the on-screen UI.
    public let uiDirectory: String?
    /// How often an idle event stream sends a keep-alive comment.
    public let heartbeat: Duration
    /// Where residents' requests are queued (`POST /api/v1/requests`); `nil`: requests are refused with 503.
    public let outbox: Outbox?
    /// The services residents may request (`GET /api/v1/services`).
    public let catalog: ServiceCatalog
    /// Takes residents' requests: the catalogue per person, intake, call-backs, statuses.
    public let desk: RequestDesk
    /// Runs a sync with the central now (`POST /api/v1/sync`); `nil` when no central is configured.
    public let sync: (any SyncTrigger)?
    /// Pauses number entry after refused numbers in a row (`POST /api/v1/check` answers 429).
    public let entryGuard: NumberEntryGuard
    /// The token every route requires (a kiosk whose API is open beyond loopback); `nil` on loopback.
    public let accessToken: String?
    /// Renders the metrics in Prometheus text format for `GET /metrics`; `nil`: no such route.
    public let metrics: (@Sendable () async -> String)?
    /// The screen's settings and the kiosk's voice, printer and verification mode.
    public let screen: ScreenServices

    /// The API.
    ///
    /// - Parameters:
    ///   - holders: asks the central for a holder's requests (`Sync`'s engine); `nil` without a central.
    ///   - ticketKiosk: the kiosk's number in tickets (``KioskTicketNumber``); by default derived from `kioskName`.
    ///   - callbackGuard: limits call-backs without a card.
    public init(
        checkpoint: Checkpoint, status: any KioskStatusSource, kioskName: String, uiDirectory: String? = nil,
        heartbeat: Duration = .seconds(15), outbox: Outbox? = nil, catalog: ServiceCatalog = ServiceCatalog(),
        sync: (any SyncTrigger)? = nil, holders: (any HolderRequestsSource)? = nil, ticketKiosk: Int? = nil,
        entryGuard: NumberEntryGuard = NumberEntryGuard(path: nil), callbackGuard: CallbackGuard = CallbackGuard(path: nil),
        accessToken: String? = nil, metrics: (@Sendable () async -> String)? = nil, screen: ScreenServices = ScreenServices()
    ) {
        self.screen = screen
        desk = RequestDesk(
            checkpoint: checkpoint, catalog: catalog, outbox: outbox, holders: holders,
            ticketKiosk: ticketKiosk ?? KioskTicketNumber.number(centralToken: nil, kioskName: kioskName), callbacks: callbackGuard
        )
        self.metrics = metrics
        self.checkpoint = checkpoint
        self.status = status
        self.kioskName = kioskName
        self.uiDirectory = uiDirectory
        self.heartbeat = heartbeat
        self.outbox = outbox
        self.catalog = catalog
        self.sync = sync
        self.entryGuard = entryGuard
        self.accessToken = accessToken
    }

    /// Builds the router with every route.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: LocalAccessMiddleware(token: accessToken))
        if let uiDirectory {
            router.add(middleware: FileMiddleware(uiDirectory, searchForIndexHtml: true))
        }
        if let metrics {
            router.get("metrics") { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(string: await metrics()))
                )
            }
        }
        let api = router.group("api/v1")
        api.get("status") { _, _ in try await self.statusResponse() }
        api.get("taps") { request, _ in try await self.tapsResponse(request) }
        api.post("check") { request, _ in try await self.checkResponse(request) }
        api.get("events") { _, _ in self.eventsResponse() }
        api.delete("sessions/:id") { _, context in
            await self.checkpoint.endSession(id: context.parameters.get("id") ?? "", reason: .done)
            return Response(status: .noContent)
        }
        api.get("ui") { _, _ in try self.uiResponse() }
        api.post("speech") { request, _ in try await self.speakResponse(request) }
        api.delete("speech") { _, _ in await self.stopSpeechResponse() }
        api.post("sessions/:id/extend") { _, context in try await self.extendSessionResponse(id: context.parameters.get("id") ?? "") }
        api.put("sessions/:id/preferences") { request, context in
            try await self.storePreferencesResponse(request, id: context.parameters.get("id") ?? "")
        }
        api.delete("sessions/:id/preferences") { _, context in try await self.forgetPreferencesResponse(id: context.parameters.get("id") ?? "") }
        api.post("staff/unlock") { request, _ in try await self.staffUnlockResponse(request) }
        api.post("staff/check") { request, _ in try await self.staffCheckResponse(request) }
        api.delete("staff/session") { request, _ in try await self.staffEndResponse(request) }
        api.get("services") { request, _ in try await self.servicesResponse(request) }
        api.post("requests") { request, _ in try await self.createRequestResponse(request) }
        api.get("requests") { request, _ in try await self.requestListResponse(request) }
        api.get("requests/:id") { _, context in try self.requestStatusResponse(id: context.parameters.get("id") ?? "") }
        api.post("sync") { _, _ in try await self.syncResponse() }
        return router
    }

    func statusResponse() async throws -> Response {
        do {
            return try Self.json(try await StatusReport.assemble(kiosk: kioskName, checkpoint: checkpoint, source: status))
        } catch let error as ReplicaError {
            throw APIError(.serviceUnavailable, code: "replica_unavailable", message: APIError.text(
                "Nie można odczytać rejestru kart (\(error.code.rawValue)). Uruchom kioskctl doctor.",
                "Неможливо прочитати реєстр карток (\(error.code.rawValue)). Запустіть kioskctl doctor.",
                "The replica cannot be read: \(error.code.rawValue). Run kioskctl doctor."
            ))
        }
    }

    func tapsResponse(_ request: Request) async throws -> Response {
        var limit = 50
        if let text = request.uri.queryParameters["limit"] {
            guard let n = Int(text), (1...1000).contains(n) else {
                let got = String(text.prefix(20))
                throw APIError(.badRequest, code: "bad_limit", message: APIError.text(
                    "limit musi być liczbą całkowitą od 1 do 1000, a jest \"\(got)\".",
                    "limit має бути цілим числом від 1 до 1000, а не \"\(got)\".",
                    "limit must be a whole number from 1 to 1000, got \"\(got)\""
                ))
            }
            limit = n
        }
        struct Body: Encodable { var taps: [CheckEvent] }
        return try Self.json(Body(taps: await checkpoint.recentTaps(limit: limit)))
    }

    func checkResponse(_ request: Request) async throws -> Response {
        struct CheckRequest: Decodable { var number: String }
        if let wait = await entryGuard.secondsLeft() { throw Self.tooManyAttempts(wait) }
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: 16 * 1024) } catch { throw Self.bodyTooLarge }
        let body: CheckRequest
        do {
            body = try JSONDecoder.kioskAPI.decode(CheckRequest.self, from: Data(buffer.readableBytesView))
        } catch {
            let why = Self.describe(error)
            throw APIError(.badRequest, code: "malformed_json", message: APIError.text(
                "Nieprawidłowe zapytanie: wyślij {\"number\":\"1234 5678\"} (\(why)).",
                "Неправильний запит: надішліть {\"number\":\"1234 5678\"} (\(why)).",
                "Send a JSON object like {\"number\":\"1234 5678\"}: \(why)"
            ))
        }
        let number: CardNumber
        do { number = try CardNumber(normalising: body.number) } catch {
            throw APIError(.badRequest, code: "invalid_number", message: error.message)
        }
        let event = await checkpoint.check(.typed(number), source: .check)
        await entryGuard.record(accepted: event.verdict == .valid)
        return try Self.json(event)
    }

    static func tooManyAttempts(_ seconds: Int) -> APIError {
        APIError(
            .tooManyRequests, code: "too_many_attempts",
            message: APIError.text(
                "Zbyt wiele nieudanych prób. Wpisywanie numeru będzie możliwe za \(seconds) s.",
                "Забагато невдалих спроб. Ввести номер можна буде через \(seconds) с.",
                "Too many numbers that are not valid in a row. Number entry resumes in \(seconds) s."
            ),
            retryAfter: seconds
        )
    }

    /// `413 body_too_large`.
    static let bodyTooLarge = APIError(.contentTooLarge, code: "body_too_large", message: APIError.text(
        "Zapytanie jest za duże (ponad 16 KiB).", "Запит завеликий (понад 16 КіБ).", "The request body is larger than 16 KiB."
    ))

    func eventsResponse() -> Response {
        let stream = checkpoint.events.subscribe()
        let heartbeat = self.heartbeat
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (ticks, tick) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
                group.addTask {
                    while !Task.isCancelled {
                        try await Task.sleep(for: heartbeat)
                        tick.yield()
                    }
                }
                // Events and heartbeats are merged through one writer, so the writer is used from one task.
                // Bounded like the hub's own buffer: a screen that stops reading loses old events, and
                // the kiosk's memory does not grow.
                let (merged, sink) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(EventHub.bufferSize))
                group.addTask {
                    for await event in stream {
                        let data: Data
                        switch event {
                        case .check(let check): data = try JSONEncoder.kioskAPI.encode(check)
                        case .sessionEnded(let end): data = try JSONEncoder.kioskAPI.encode(end)
                        }
                        var buffer = ByteBuffer(string: "event: \(event.name)\ndata: ")
                        buffer.writeBytes(data)
                        buffer.writeString("\n\n")
                        sink.yield(buffer)
                    }
                    sink.finish()
                }
                group.addTask {
                    for await _ in ticks { sink.yield(ByteBuffer(string: ": keep-alive\n\n")) }
                }
                for await chunk in merged { try await writer.write(chunk) }
                tick.finish()
                group.cancelAll()
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
            body: body
        )
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder.kioskAPI.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "the field \"\(key.stringValue)\" is missing"
        case DecodingError.typeMismatch(_, let c): "the field \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
        case DecodingError.valueNotFound(_, let c): "the field \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\" is null"
        case DecodingError.dataCorrupted: "the body is not valid JSON"
        default: "the body could not be read"
        }
    }
}

/// The screen's settings and what the kiosk has for it: a voice, a ticket printer, verification mode.
public struct ScreenServices: Sendable {
    /// `GET /api/v1/ui`.
    public var settings: ScreenSettings
    /// Reads aloud (`POST /api/v1/speech`); `nil`: 503 `speech_unavailable`.
    public var speaker: Speaker?
    /// Prints each accepted request's ticket; `nil`: no printer.
    public var printer: TicketPrinterDevice?
    /// Staff verification mode; `nil`: none at this kiosk.
    public var staff: StaffDesk?
    /// Where printer failures are logged.
    public var logger: Logger

    /// What a kiosk has for its screen.
    public init(
        settings: ScreenSettings = ScreenSettings(), speaker: Speaker? = nil, printer: TicketPrinterDevice? = nil, staff: StaffDesk? = nil,
        logger: Logger = Logger(label: "kioskd.screen")
    ) {
        self.settings = settings
        self.speaker = speaker
        self.printer = printer
        self.staff = staff
        self.logger = logger
    }
}
