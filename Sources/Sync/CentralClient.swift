import AsyncHTTPClient
import CardModel
public import CentralWire
import CompressNIO
import Foundation
import KioskCore
import NIOCore
import NIOHTTP1
import NIOSSL
public import Outbox
public import Replica

/// The calls the kiosk makes to the central: the seam between the sync loop and HTTP.
public protocol CentralConnection: Sendable {
    /// `GET /v1/catalogue`: the whole service catalogue in use at the central.
    func catalogue() async throws(SyncError) -> Catalogue
    /// `POST /v1/holder/requests`: one card holder's requests, asked with the chip just presented; answers
    /// within `timeout` or throws.
    func holderRequests(_ query: HolderQuery, timeout: Duration) async throws(SyncError) -> [HolderRequest]
    /// `GET /v1/registry/changes?after=&limit=`, checked.
    func changes(after: Int64, limit: Int) async throws(SyncError) -> CentralFeedPage
    /// `GET /v1/registry/snapshot`, streamed: hands the checked cards to `receive` in batches of at most
    /// `batchSize` as they arrive, with the card count the header announced (for progress), and returns
    /// the header's sequence and card count once every card has arrived and their number matched the header.
    ///
    /// Memory stays bounded whatever the registry's size; a snapshot cut short or malformed anywhere
    /// throws ``SyncError`` `.malformed` (after some batches may have been handed over: the receiver
    /// must apply them atomically, as ``Replica/replaceAll(from:at:)`` does).
    func snapshot(
        batchSize: Int, _ receive: @Sendable (_ cards: [SyncedCard], _ announced: Int) async throws(SyncError) -> Void
    ) async throws(SyncError) -> (seq: Int64, cards: Int)
    /// `POST /v1/requests`: one result per item, keyed by idempotency key.
    func submit(_ items: [OutboxItem]) async throws(SyncError) -> [String: DeliveryResult]
    /// Releases connections.
    func shutdown() async
}

/// A checked page of the change feed.
public struct CentralFeedPage: Sendable {
    public var changes: [SyncedChange]
    public var statuses: [RequestStatusUpdate]
    /// The newest catalogue the page published (`catalogue` entries), if any.
    public var catalogue: Catalogue?
    public var nextAfter: Int64
    public var hasMore: Bool
    public var count: Int

    public init(
        changes: [SyncedChange], statuses: [RequestStatusUpdate], catalogue: Catalogue? = nil, nextAfter: Int64, hasMore: Bool, count: Int
    ) {
        self.changes = changes
        self.statuses = statuses
        self.catalogue = catalogue
        self.nextAfter = nextAfter
        self.hasMore = hasMore
        self.count = count
    }
}

/// The central over HTTP(S) with AsyncHTTPClient: bearer token, optional CA file, a time limit on every call.
public final class HTTPCentralClient: CentralConnection {
    /// Time limits for the calls.
    public struct Timeouts: Sendable {
        public var connect: Duration
        /// Feed pages, request batches, the catalogue.
        public var call: Duration
        /// The snapshot (the whole registry).
        public var snapshot: Duration
        public init(connect: Duration = .seconds(10), call: Duration = .seconds(30), snapshot: Duration = .seconds(300)) {
            self.connect = connect
            self.call = call
            self.snapshot = snapshot
        }
    }

    /// Largest JSON reply accepted (a feed page, a batch result).
    static let maxReplyBytes = 32 * 1024 * 1024
    /// Largest snapshot accepted by default, compressed and uncompressed (a 5 M-card registry is ~1 GiB of NDJSON).
    public static let defaultMaxSnapshotBytes = 4 * 1024 * 1024 * 1024
    /// The central accepts at most 256 KiB per body; stay well below.
    static let maxBatchBytes = 200 * 1024

    let base: String
    let token: String
    let timeouts: Timeouts
    /// Largest snapshot accepted, compressed and uncompressed: a bigger one is abandoned, not stored.
    let maxSnapshotBytes: Int
    let client: HTTPClient

    /// A client for the central at `url` (`http://` or `https://`).
    ///
    /// - Parameter caFile: a PEM file of CA certificates to trust instead of the system's.
    /// - Throws: ``SyncError`` `.configuration` for a bad URL or an unreadable CA file.
    public init(
        url: String, token: String, caFile: String?, timeouts: Timeouts = Timeouts(),
        maxSnapshotBytes: Int = HTTPCentralClient.defaultMaxSnapshotBytes
    ) throws(SyncError) {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme), parsed.host != nil else {
            throw SyncError(.configuration, "central.url must be an http:// or https:// URL")
        }
        guard !token.isEmpty else { throw SyncError(.configuration, "no kiosk token: set central.token, central.token_file or KIOSK_CENTRAL_TOKEN") }
        base = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.token = token
        self.timeouts = timeouts
        self.maxSnapshotBytes = maxSnapshotBytes
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(timeouts.connect.components.seconds), read: .seconds(timeouts.call.components.seconds))
        config.redirectConfiguration = .disallow
        if let caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw SyncError(.configuration, "the CA file \(caFile) (central.ca_file) cannot be read")
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw SyncError(.configuration, "the CA file \(caFile) (central.ca_file) is not PEM certificates")
            }
            config.tlsConfiguration = tls
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    // MARK: Calls

    public func catalogue() async throws(SyncError) -> Catalogue {
        let data = try await get("/v1/catalogue", authorised: true, timeout: timeouts.call, limit: 4 * 1024 * 1024)
        return try WireDecoding.decode(Catalogue.self, from: data, what: "the service catalogue")
    }

    public func holderRequests(_ query: HolderQuery, timeout: Duration) async throws(SyncError) -> [HolderRequest] {
        let body: Data
        do { body = try JSONEncoder().encode(query) } catch { throw SyncError(.local, "the holder query cannot be written as JSON") }
        var request = HTTPClientRequest(url: base + "/v1/holder/requests")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let (status, _, reply) = try await send(request, authorised: true, timeout: timeout, limit: 1024 * 1024)
        try Self.check(status, reply)
        return try WireDecoding.decode(HolderRequests.self, from: Data(reply.readableBytesView), what: "the holder's requests").requests
    }

    public func changes(after: Int64, limit: Int) async throws(SyncError) -> CentralFeedPage {
        let data = try await get("/v1/registry/changes?after=\(after)&limit=\(limit)", timeout: timeouts.call, limit: Self.maxReplyBytes)
        return try CentralFeedPage(try WireDecoding.changePage(data), after: after)
    }

    /// Longest NDJSON line accepted in a snapshot (one card).
    static let maxSnapshotLineBytes = 256 * 1024
    /// Most cards a snapshot header may announce.
    static let maxSnapshotCards = 100_000_000

    public func snapshot(
        batchSize: Int, _ receive: @Sendable (_ cards: [SyncedCard], _ announced: Int) async throws(SyncError) -> Void
    ) async throws(SyncError) -> (seq: Int64, cards: Int) {
        var request = HTTPClientRequest(url: base + "/v1/registry/snapshot")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/x-ndjson")
        request.headers.add(name: "User-Agent", value: "kioskd/\(KioskVersion.current)")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(max(1, timeouts.snapshot.components.seconds)))
        } catch {
            throw Self.classify(error)
        }
        if response.status != .ok {
            let body: ByteBuffer
            do { body = try await response.body.collect(upTo: 64 * 1024) } catch { throw Self.classify(error) }
            try Self.check(response.status, body)
        }
        let gzip = response.headers["Content-Encoding"].first?.lowercased() == "gzip"
        var reader = SnapshotReader(batchSize: batchSize, maxLine: Self.maxSnapshotLineBytes, maxCards: Self.maxSnapshotCards)
        let inflater = gzip ? try StreamingInflater() : nil
        defer { inflater?.close() }
        let limit = maxSnapshotBytes
        func tooLarge() -> SyncError {
            SyncError(.malformed, "the snapshot is larger than the \(limit) bytes this kiosk accepts; the replica was left as it was")
        }
        var received = 0
        var inflated = 0
        do {
            for try await var chunk in response.body {
                received += chunk.readableBytes
                guard received <= limit else { throw tooLarge() }
                if let inflater {
                    try inflater.inflate(&chunk) { (plain: inout ByteBuffer) throws(SyncError) in
                        inflated += plain.readableBytes
                        guard inflated <= limit else { throw tooLarge() }
                        try reader.consume(&plain)
                    }
                } else {
                    try reader.consume(&chunk)
                }
                while let batch = reader.takeBatch() { try await receive(batch, reader.announced) }
            }
        } catch let error as SyncError {
            throw error
        } catch {
            throw Self.classify(error)
        }
        let header = try reader.finish()
        while let batch = reader.takeBatch(all: true) { try await receive(batch, header.cards) }
        return header
    }

    public func submit(_ items: [OutboxItem]) async throws(SyncError) -> [String: DeliveryResult] {
        var entries: [RequestWireItem] = []
        for item in items {
            // The outbox only stores details that are a JSON object (checked at enqueue).
            let details = (try? JSONDecoder().decode(JSONValue.self, from: Data(item.detailsJSON.utf8))) ?? .object([:])
            entries.append(RequestWireItem(
                idempotencyKey: item.idempotencyKey, kioskSeq: item.kioskSeq, createdAt: item.createdAt,
                ticket: item.ticket.flatMap(Ticket.init(parsing:)), kind: item.kind, service: item.service,
                // A pending item always has its number (a call-back has none); quarantined ones are not sent.
                cardNumber: item.kind == .callback ? nil : item.cardNumber, details: details, identity: item.identity,
                phone: item.phone, catalogueVersion: item.catalogueVersion
            ))
        }
        let body: Data
        do { body = try JSONEncoder().encode(RequestBatch(requests: entries)) } catch {
            throw SyncError(.local, "a queued request cannot be written as JSON")
        }
        var request = HTTPClientRequest(url: base + "/v1/requests")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let (status, _, reply) = try await send(request, authorised: true, timeout: timeouts.call, limit: Self.maxReplyBytes)
        try Self.check(status, reply)
        let results = try WireDecoding.decode(RequestResults.self, from: Data(reply.readableBytesView), what: "the request results").results
        guard results.count == items.count else {
            throw SyncError(.malformed, "\(results.count) results for \(items.count) requests")
        }
        var out: [String: DeliveryResult] = [:]
        for (item, result) in zip(items, results) {
            // Results come in order; each must name the item it answers.
            guard result.idempotencyKey?.lowercased() == item.idempotencyKey else {
                throw SyncError(.malformed, "a result names another request than the one sent in its place")
            }
            // A request the central stored: its status there (`declined` with the reason when a rule refused it).
            let status = result.status?.rawValue
            let reason = result.status == .declined ? Self.checked(result.statusReason) : nil
            let ticket = result.ticket?.code
            switch (result.outcome, result.firstOutcome) {
            case (.accepted, _):
                out[item.idempotencyKey] = .delivered(.accepted, requestID: result.requestID, status: status, reason: reason, ticket: ticket)
            case (.duplicate, .rejected):
                out[item.idempotencyKey] = .rejected(reason: result.reason ?? "refused by the central earlier")
            case (.duplicate, _):
                out[item.idempotencyKey] = .delivered(.duplicate, requestID: result.requestID, status: status, reason: reason, ticket: ticket)
            case (.rejected, _):
                out[item.idempotencyKey] = .rejected(reason: String((result.reason ?? "refused by the central").prefix(500)))
            }
        }
        return out
    }

    /// A decline reason cut to size for the outbox; one without words gets the code as its words.
    static func checked(_ reason: StatusReason?) -> StatusReason? {
        guard let reason else { return nil }
        func cut(_ s: String) -> String { String(s.prefix(500)) }
        let code = String(reason.code.prefix(40))
        let text = reason.text
        return StatusReason(code: code, text: LocalizedText(
            pl: cut(text.pl.isEmpty ? code : text.pl), uk: cut(text.uk.isEmpty ? text.pl : text.uk), en: cut(text.en.isEmpty ? code : text.en)
        ))
    }

    /// Splits pending items into batches the central accepts (at most 100 items and ~200 KiB each).
    public static func batches(_ items: [OutboxItem], maxItems: Int = 100) -> [[OutboxItem]] {
        var out: [[OutboxItem]] = []
        var current: [OutboxItem] = []
        var bytes = 0
        for item in items {
            let size = 400 + item.detailsJSON.utf8.count + (item.service?.utf8.count ?? 0)
            if !current.isEmpty && (current.count >= maxItems || bytes + size > maxBatchBytes) {
                out.append(current)
                current = []
                bytes = 0
            }
            current.append(item)
            bytes += size
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    // MARK: HTTP

    private func get(_ path: String, authorised: Bool = true, timeout: Duration, limit: Int) async throws(SyncError) -> Data {
        let (status, _, body) = try await send(HTTPClientRequest(url: base + path), authorised: authorised, timeout: timeout, limit: limit)
        try Self.check(status, body)
        return Data(body.readableBytesView)
    }

    private func send(_ request: HTTPClientRequest, authorised: Bool, timeout: Duration, limit: Int) async throws(SyncError) -> (HTTPResponseStatus, HTTPHeaders, ByteBuffer) {
        var request = request
        if authorised { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "application/json, application/x-ndjson")
        request.headers.add(name: "User-Agent", value: "kioskd/\(KioskVersion.current)")
        let seconds = max(1, timeout.components.seconds)
        do {
            let response = try await client.execute(request, timeout: .seconds(seconds))
            let body = try await response.body.collect(upTo: limit)
            return (response.status, response.headers, body)
        } catch {
            throw Self.classify(error)
        }
    }

    static func check(_ status: HTTPResponseStatus, _ body: ByteBuffer) throws(SyncError) {
        guard status != .ok else { return }
        let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body.readableBytesView)))?.error
        switch status.code {
        case 401: throw SyncError(.tokenRefused, "401")
        case 403: throw SyncError(.forbidden, "403")
        case 410 where message?.code == "cursor_expired": throw SyncError(.cursorExpired, "410")
        default:
            // The central's own code is safe to show (it never echoes tokens); its message is cut short.
            throw SyncError(.httpStatus, "HTTP \(status.code)" + (message.map { " \($0.code)" } ?? ""))
        }
    }

    static func classify(_ error: any Error) -> SyncError {
        if let error = error as? SyncError { return error }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: return SyncError(.timeout, "\(error)")
            case .remoteConnectionClosed: return SyncError(.unreachable, "the connection was closed")
            default: return SyncError(.unreachable, "\(error)")
            }
        }
        if error is NIOSSLError { return SyncError(.tls, "\(error)") }
        if error is NIOTooManyBytesError { return SyncError(.malformed, "the reply is too large") }
        if error is CancellationError { return SyncError(.timeout, "cancelled") }
        return SyncError(.unreachable, String(describing: error).prefix(200).description)
    }
}
