import CardModel
public import CentralStore
import CentralWire
import CompressNIO
import Foundation
public import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The central's HTTP API: registry feed and snapshot for kiosks, the service catalogue, the request
/// inbox and a holder's own requests, staff registry management, publishing and coordinators' work.
public enum CentralAPI {
    /// Largest request body accepted (a batch of requests, a card).
    public static let maxBodyBytes = 256 * 1024
    /// Largest request batch accepted.
    public static let maxBatchItems = 100
    /// Snapshots streamed at once; matches the store's snapshot connections, so a started snapshot never waits for one.
    public static let maxConcurrentSnapshots = 4

    /// The router with every route; wrap it with ``JSONErrorResponder`` (``application(store:configuration:retention:logger:onServerRunning:)`` does).
    /// Largest snapshot the central keeps to send again (``SnapshotCache``), in bytes of gzip: about 11 M cards.
    public static let defaultSnapshotCacheBytes = 256 << 20

    public static func router(
        store: any CentralStore, snapshotCache: SnapshotCache = SnapshotCache(maxBytes: defaultSnapshotCacheBytes)
    ) -> Router<CentralContext> {
        let router = Router(context: CentralContext.self, options: .autoGenerateHeadEndpoints)
        router.get("v1/health") { _, _ in json(["status": "ok"]) }
        // The newest catalogue, for anyone: a kiosk bootstrapping, a resident's browser, a partner's site.
        router.get("v1/catalogue") { _, _ in try json(await store.catalogue()) }

        let kiosk = router.group("v1").add(middleware: RequireRole(store: store, kind: .kiosk))
        kiosk.get("registry/changes") { request, context in
            let after = try query(request, "after", default: 0, range: 0...Int64.max)
            let limit = try query(request, "limit", default: 500, range: 1...1000)
            let page = try await store.storedChanges(after: after, limit: Int(limit), kioskID: try kioskID(context))
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: page.json)))
        }
        let snapshotSlots = ResourcePool(Array(0..<maxConcurrentSnapshots), label: "snapshot slots", maxWait: .seconds(5))
        kiosk.get("registry/snapshot") { _, _ in
            if let kept = snapshotCache.usable(at: try await store.feedPosition()) { return keptSnapshotResponse(kept) }
            // Take a slot before answering, so that a kiosk turned away gets a clean 503, not a cut stream.
            guard let slot = await snapshotSlots.acquire() else {
                throw APIError.busy("\(maxConcurrentSnapshots) kiosks are downloading the snapshot; retry in a few seconds")
            }
            return snapshotResponse(store: store, lease: SlotLease(pool: snapshotSlots, slot: slot), cache: snapshotCache)
        }
        kiosk.post("requests") { request, context in
            let kiosk = try kioskPrincipal(context)
            let body = try await readJSON(request, as: JSONValue.self)
            guard case .array(let raw)? = body["requests"] else {
                throw APIError.badRequest("the body must be {\"requests\": [ … ]}")
            }
            guard raw.count <= maxBatchItems else {
                throw APIError(.contentTooLarge, "too_large", "at most \(maxBatchItems) requests per batch; send the rest in another batch")
            }
            let results = try await store.submitRequests(raw.map(RequestItem.validate), from: kiosk)
            return try json(RequestResults(results: results))
        }
        kiosk.post("holder/requests") { request, _ in
            let query = try await readJSON(request, as: HolderQuery.self)
            return try json(try await store.holderRequests(query))
        }

        let staff = router.group("v1/staff").add(middleware: RequireRole(store: store, kind: .staff))
        staff.get("requests") { request, _ in
            var status: RequestStatus?
            if let text = request.uri.queryParameters["status"] {
                guard let s = RequestStatus(rawValue: String(text)) else {
                    throw APIError.badRequest("status must be one of \(RequestStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                status = s
            }
            let after = try query(request, "after_id", default: 0, range: 0...Int64.max)
            let limit = try query(request, "limit", default: 100, range: 1...1000)
            return try json(RequestsBody(requests: try await store.requests(status: status, afterID: after, limit: Int(limit))))
        }
        staff.get("requests/:ref") { _, context in
            try json(try await store.request(try requestRef(context)))
        }
        staff.post("requests/:ref/status") { request, context in
            let ref = try requestRef(context)
            let change = try await readJSON(request, as: RequestStatusChange.self)
            return try json(try await store.setRequestStatus(ref, change))
        }
        staff.post("requests/:ref/schedule") { request, context in
            let ref = try requestRef(context)
            let body = try await readJSON(request, as: ScheduleBody.self)
            guard let date = try? CivilDate(iso: body.date) else { throw APIError.badRequest("date must be a day, YYYY-MM-DD, e.g. 2025-03-04") }
            return try json(try await store.scheduleRequest(ref, date: date, time: body.time))
        }
        staff.post("requests/:ref/decline") { request, context in
            let ref = try requestRef(context)
            let body = try await readJSON(request, as: DeclineBody.self)
            return try json(try await store.declineRequest(ref, reason: body.reason))
        }
        staff.put("catalogue") { request, context in
            let buffer = try await request.body.collect(upTo: maxBodyBytes)
            let draft = try decodeCatalogueDraft(Data(buffer.readableBytesView))
            let author = context.principal.map { "staff \($0.name)" } ?? "staff"
            return try json(try await store.publishCatalogue(draft, by: author))
        }
        staff.put("people/:person") { request, context in
            let id = pathParameter(context, "person")
            let body = try await readJSON(request, as: PersonBody.self)
            try await store.upsertPerson(id: id, displayName: body.displayName)
            return try json(PersonResponse(personID: id, displayName: body.displayName))
        }
        staff.put("people/:person/entitlements") { request, context in
            let id = pathParameter(context, "person")
            let body = try await readJSON(request, as: EntitlementsBody.self)
            try await store.setEntitlements(personID: id, body.entitlements)
            return try json(body)
        }
        staff.get("cards/:number") { _, context in
            let number = try cardNumber(context)
            guard let card = try await store.card(number: number) else {
                throw APIError(.notFound, "not_found", "no card \(number.masked)")
            }
            return try json(card)
        }
        staff.put("cards/:number") { request, context in
            let number = try cardNumber(context)
            let input = try await readJSON(request, as: CardInput.self)
            return try json(try await store.upsertCard(number: number, input))
        }
        staff.post("cards/:number/suspend") { _, context in
            try json(try await store.setCardStatus(number: try cardNumber(context), to: .suspended))
        }
        staff.post("cards/:number/reactivate") { _, context in
            try json(try await store.setCardStatus(number: try cardNumber(context), to: .active))
        }
        staff.post("cards/:number/revoke") { _, context in
            try json(try await store.setCardStatus(number: try cardNumber(context), to: .revoked))
        }
        staff.post("cards/:number/report-lost") { _, context in
            try json(try await store.setCardStatus(number: try cardNumber(context), to: .lost))
        }
        staff.post("cards/:number/replace") { request, context in
            let number = try cardNumber(context)
            let input = try await readJSON(request, as: ReplacementInput.self)
            return try json(try await store.replaceCard(number: number, with: input))
        }
        return router
    }

    /// A ready-to-run application: the routes, JSON errors, and the feed pruner when `retention` is set.
    public static func application(
        store: any CentralStore,
        configuration: ApplicationConfiguration,
        retention: Duration?,
        snapshotCacheBytes: Int = defaultSnapshotCacheBytes,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = router(store: store, snapshotCache: SnapshotCache(maxBytes: snapshotCacheBytes))
        let responder = JSONErrorResponder(inner: router.buildResponder(), routes: RouteTable(router.routes), logger: logger)
        var services: [any Service] = []
        if let retention { services.append(FeedPruner(store: store, retention: retention, logger: logger)) }
        return Application(
            responder: responder, configuration: configuration, services: services,
            onServerRunning: onServerRunning, logger: logger
        )
    }

    // MARK: Helpers

    static func kioskPrincipal(_ context: CentralContext) throws -> Principal {
        guard let p = context.principal, p.kind == .kiosk else { throw APIError(.unauthorized, "unauthorized", "kiosk token required") }
        return p
    }

    static func kioskID(_ context: CentralContext) throws -> Int64 { try kioskPrincipal(context).id }

    static func requestRef(_ context: CentralContext) throws -> RequestRef {
        guard let ref = RequestRef(parsing: pathParameter(context, "ref")) else {
            throw APIError.badRequest("name the request by \(RequestRef.help)")
        }
        return ref
    }

    static func cardNumber(_ context: CentralContext) throws -> CardNumber {
        do { return try CardNumber(normalising: pathParameter(context, "number")) } catch {
            throw APIError.badRequest("card number: \(error.message.en)")
        }
    }

    /// A path parameter, percent-decoded (`SKS%200001` is `SKS 0001`); empty when absent or badly encoded.
    static func pathParameter(_ context: CentralContext, _ name: String) -> String {
        guard let raw = context.parameters.get(name) else { return "" }
        return raw.removingPercentEncoding ?? ""
    }

    /// An integer query parameter: `default` when absent, 400 when not a number in `range`.
    static func query(_ request: Request, _ name: String, default value: Int64, range: ClosedRange<Int64>) throws -> Int64 {
        guard let text = request.uri.queryParameters[name[...]] else { return value }
        guard let v = Int64(text), range.contains(v) else {
            throw APIError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return v
    }

    /// Reads a JSON body of at most ``maxBodyBytes``; 400 with the decoder's reason when it does not fit `T`.
    static func readJSON<T: Decodable>(_ request: Request, as: T.Type) async throws -> T {
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError.badRequest("the body is not the expected JSON: \(describe(error))")
        } catch {
            throw APIError.badRequest("the body is not JSON")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "" : " at \(p)"
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing \(key.stringValue)\(path(c))"
        case .typeMismatch(_, let c): return "wrong type\(path(c))"
        case .valueNotFound(_, let c): return "null not allowed\(path(c))"
        case .dataCorrupted(let c): return "\(c.debugDescription)\(path(c))"
        @unknown default: return "unreadable"
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json(_ value: [String: String]) -> Response {
        (try? json(value, status: .ok)) ?? Response(status: .ok)
    }

    static var snapshotHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        headers[.contentEncoding] = "gzip"
        return headers
    }

    /// A kept snapshot, sent again as it was sent the first time.
    static func keptSnapshotResponse(_ kept: SnapshotCache.Entry) -> Response {
        Response(status: .ok, headers: snapshotHeaders, body: ResponseBody { writer in
            var out = writer
            for segment in kept.segments { try await out.write(segment) }
            try await out.finish(nil)
        })
    }

    /// The registry as gzip-compressed NDJSON, streamed page by page from one read transaction, and kept in
    /// `cache` once sent whole.
    static func snapshotResponse(store: any CentralStore, lease: SlotLease, cache: SnapshotCache) -> Response {
        Response(status: .ok, headers: snapshotHeaders, body: ResponseBody { writer in
            defer { lease.release() }
            let recording = cache.beginRecording()
            var recorder = SnapshotRecorder(limit: cache.maxBytes, recording: recording)
            var header: (seq: Int64, cards: Int)?
            var kept: SnapshotCache.Entry?
            defer { if recording { cache.endRecording(kept) } }
            let compressor = CompressionAlgorithm.gzip().compressor
            try compressor.startStream()
            var out = writer
            try await store.snapshot(pageSize: 500) { part in
                var plain = ByteBuffer()
                switch part {
                case .header(let seq, let cards):
                    header = (seq, cards)
                    plain.writeBytes(try encoder.encode(SnapshotHeader(seq: seq, cards: cards)))
                    plain.writeInteger(UInt8(ascii: "\n"))
                case .cards(let cards):
                    // The same JSON as `encoder` writes, at a fraction of its cost (see SnapshotLine).
                    var line: [UInt8] = []
                    line.reserveCapacity(512)
                    for card in cards {
                        line.removeAll(keepingCapacity: true)
                        SnapshotLine.write(card, into: &line)
                        line.append(UInt8(ascii: "\n"))
                        plain.writeBytes(line)
                    }
                }
                var compressed = ByteBuffer()
                compressed.reserveCapacity(compressor.maxSize(from: plain))
                try compressor.streamDeflate(from: &plain, to: &compressed, flush: .sync)
                if compressed.readableBytes > 0 {
                    recorder.append(compressed)
                    try await out.write(compressed)
                }
            }
            while true {
                var tail = ByteBuffer()
                tail.reserveCapacity(64 * 1024)
                do {
                    try compressor.finishDeflate(to: &tail)
                    recorder.append(tail)
                    if tail.readableBytes > 0 { try await out.write(tail) }
                    break
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    recorder.append(tail)
                    try await out.write(tail)
                }
            }
            try compressor.finishStream()
            try await out.finish(nil)
            // Sent to the end: kept for the next kiosks.
            if recorder.recording, let header {
                kept = SnapshotCache.Entry(seq: header.seq, cards: header.cards, segments: recorder.finish())
            }
        })
    }
}

/// A slot taken from a ``ResourcePool``, given back once: by ``release()`` or, at the latest, when the
/// response holding it is dropped unsent.
final class SlotLease: Sendable {
    private let pool: ResourcePool<Int>
    private let slot: Mutex<Int?>

    init(pool: ResourcePool<Int>, slot: Int) {
        self.pool = pool
        self.slot = Mutex(slot)
    }

    func release() {
        if let slot = slot.withLock({ value -> Int? in defer { value = nil }; return value }) { pool.release(slot) }
    }

    deinit { release() }
}

struct RequestsBody: Encodable {
    var requests: [StoredRequest]
}

/// The body of `POST /v1/staff/requests/{ref}/schedule`.
struct ScheduleBody: Decodable {
    var date: String
    var time: String?
}

/// The body of `POST /v1/staff/requests/{ref}/decline`.
struct DeclineBody: Decodable {
    var reason: String
}

struct PersonBody: Decodable {
    var displayName: String
    enum CodingKeys: String, CodingKey { case displayName = "display_name" }
}

struct PersonResponse: Encodable {
    var personID: String
    var displayName: String
    enum CodingKeys: String, CodingKey { case personID = "person_id", displayName = "display_name" }
}

struct EntitlementsBody: Codable {
    var entitlements: [EntitlementView]
}

/// Prunes the change feed every hour, keeping `retention`.
struct FeedPruner: Service {
    let store: any CentralStore
    let retention: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled {
            do {
                let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
                let pruned = try await store.pruneChanges(olderThan: cutoff)
                if pruned > 0 { logger.info("pruned the change feed", metadata: ["entries": "\(pruned)"]) }
            } catch {
                logger.error("pruning the change feed failed", metadata: ["error": "\(error.code.rawValue)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
            if Task.isShuttingDownGracefully { break }
        }
    }
}
