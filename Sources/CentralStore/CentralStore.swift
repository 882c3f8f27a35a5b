public import CardModel
public import CentralWire
public import Foundation
public import Logging
public import RegistryCSV

extension CentralStore {
    /// Upserts every card number in `rows` as a whole (chips, holder, entitlements); idempotent.
    public func importRegistry(_ rows: [RegistryRow]) async throws(CentralStoreError) -> RegistryImportReport {
        try await importRegistry(rows, progress: nil)
    }
}

extension CentralStore {
    /// The feed entries after `after` that `kioskID` may see, decoded.
    public func changes(after: Int64, limit: Int, kioskID: Int64) async throws(CentralStoreError) -> ChangePage {
        try await storedChanges(after: after, limit: limit, kioskID: kioskID).decoded()
    }

    /// Changes the status of request `id` (see ``setRequestStatus(_:_:)``).
    public func setRequestStatus(id: Int64, _ change: RequestStatusChange) async throws(CentralStoreError) -> StoredRequest {
        try await setRequestStatus(.id(id), change)
    }
}

/// A part of a registry snapshot, delivered in order: one header, then pages of cards.
public enum SnapshotPart: Sendable {
    /// The sequence the snapshot is consistent at, and how many cards follow.
    case header(seq: Int64, cards: Int)
    /// The next page of cards, in id order.
    case cards([CardView])
}

/// Where the change feed stands.
public struct FeedPosition: Sendable, Equatable {
    /// The last sequence number written.
    public var head: Int64
    /// Changes up to this sequence number were pruned.
    public var prunedThrough: Int64

    public init(head: Int64, prunedThrough: Int64) {
        self.head = head
        self.prunedThrough = prunedThrough
    }
}

/// The central's storage: registry, change feed, principals and request inbox.
///
/// One protocol over SQLite and PostgreSQL (see ``openCentralStore(_:logger:)``); both run the
/// same SQL and migrations, so the HTTP layer and the CLI never know which one they use.
public protocol CentralStore: Sendable {
    /// Upserts every card number in `rows` as a whole (chips, holder, entitlements); idempotent.
    ///
    /// `progress` is told the card numbers written so far and their total as the import goes on.
    func importRegistry(
        _ rows: [RegistryRow], progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?
    ) async throws(CentralStoreError) -> RegistryImportReport
    /// Creates or renames a person (`displayName` is first name and initial, e.g. "Anna K.").
    func upsertPerson(id: String, displayName: String) async throws(CentralStoreError)
    /// Replaces a person's entitlements.
    func setEntitlements(personID: String, _ entitlements: [EntitlementView]) async throws(CentralStoreError)
    /// The current chip of a card number.
    func card(number: CardNumber) async throws(CentralStoreError) -> CardView?
    /// Creates the card number, or updates its current chip in place.
    func upsertCard(number: CardNumber, _ input: CardInput) async throws(CentralStoreError) -> CardView
    /// Suspends, revokes, reports lost or reactivates the current chip of a card number.
    func setCardStatus(number: CardNumber, to status: CardStatus) async throws(CentralStoreError) -> CardView
    /// Issues a new chip under the same number; the old one is revoked (or stays lost) and points to it.
    func replaceCard(number: CardNumber, with replacement: ReplacementInput) async throws(CentralStoreError) -> CardView
    /// The feed entries after `after` that `kioskID` may see, as stored (served without decoding them).
    func storedChanges(after: Int64, limit: Int, kioskID: Int64) async throws(CentralStoreError) -> StoredFeedPage
    /// Hands the whole registry, at one consistent sequence, to `consume` page by page.
    func snapshot(pageSize: Int, _ consume: (SnapshotPart) async throws -> Void) async throws
    /// The change feed's head and how far it was pruned: a snapshot taken at `seq` can still be followed to the
    /// head while `seq >= prunedThrough`.
    func feedPosition() async throws(CentralStoreError) -> FeedPosition
    /// Deletes feed entries written before `date`; kiosks behind them must bootstrap again. Returns how many.
    func pruneChanges(olderThan date: Date) async throws(CentralStoreError) -> Int
    /// Enrols a kiosk or member of staff and returns its token; only the token's SHA-256 is stored.
    func enrol(_ kind: Principal.Kind, name: String) async throws(CentralStoreError) -> String
    /// Revokes a kiosk's or staff member's token.
    func revoke(_ kind: Principal.Kind, name: String) async throws(CentralStoreError)
    /// The principal holding `token`, unless unknown or revoked.
    func authenticate(token: String) async throws(CentralStoreError) -> Principal?
    /// Stores a kiosk's batch; one result per item, in order.
    func submitRequests(_ items: [RequestItem], from kiosk: Principal) async throws(CentralStoreError) -> [RequestResult]
    /// Requests in id order, after `afterID`, optionally of one status; at most `limit` (1 to 1000).
    func requests(status: RequestStatus?, afterID: Int64, limit: Int) async throws(CentralStoreError) -> [StoredRequest]
    /// One request, by ticket or id.
    func request(_ ref: RequestRef) async throws(CentralStoreError) -> StoredRequest
    /// Changes a request's status; the kiosk that took it sees the change in its feed (op `request_status`).
    ///
    /// `scheduled` needs `scheduled_for` or `scheduled_at`; `declined` needs the coordinator's words,
    /// stored as the reason `coordinator`. `done` and `declined` are final (``CentralStoreError/Code/conflict`` after).
    func setRequestStatus(_ ref: RequestRef, _ change: RequestStatusChange) async throws(CentralStoreError) -> StoredRequest
    /// Schedules a request for `date`, at `time` (`HH:MM`, Warsaw) when given.
    func scheduleRequest(_ ref: RequestRef, date: CivilDate, time: String?) async throws(CentralStoreError) -> StoredRequest
    /// Declines a request with a coordinator's words (1 to 500 characters), shown to the resident as written.
    func declineRequest(_ ref: RequestRef, reason: String) async throws(CentralStoreError) -> StoredRequest
    /// A card holder's open requests and those closed in the last 90 days, newest first, at most 50 —
    /// only when `query.uid` is the current chip of `query.cardNumber` (else ``CentralStoreError/Code/notFound``).
    func holderRequests(_ query: HolderQuery) async throws(CentralStoreError) -> HolderRequests
    /// The newest version of the service catalogue.
    func catalogue() async throws(CentralStoreError) -> Catalogue
    /// Publishes `draft` as the next version (whatever version it says) and puts it in every kiosk's feed.
    ///
    /// Refused with ``CentralStoreError/Code/invalid`` listing every problem ``ServiceRules/CatalogueCheck`` finds; nothing changes then.
    /// - Parameter by: who published it (a staff token's name), kept with the version.
    func publishCatalogue(_ draft: Catalogue, by: String) async throws(CentralStoreError) -> Catalogue
    /// Closes the database connections.
    func close() async
}

/// Opens (and migrates) the store named by `url`: `sqlite:/path/central.db` or `postgres://user@host:port/db`.
///
/// A PostgreSQL URL may add `?schema=NAME` to use (and create) a schema other than `public`,
/// `sslmode=disable|prefer|require|verify-ca|verify-full` (default `prefer`) and, for the verify
/// modes, `sslrootcert=PATH` (PEM CA certificates; default the system's roots). `password` is the
/// database password from elsewhere than the URL (see ``DatabasePassword/resolve(url:file:environment:)``);
/// giving it in both places is refused.
public func openCentralStore(_ url: String, password: String? = nil, logger: Logger) async throws(CentralStoreError) -> any CentralStore {
    let backend: any SQLBackend
    if url.hasPrefix("sqlite:") {
        var path = String(url.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        guard !path.isEmpty else { throw .badDatabaseURL("the sqlite: URL names no file") }
        backend = try SQLiteBackend(path: path)
    } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
        let settings = try PostgresSettings(url: url, password: password)
        // One direct connection first: a wrong password, a server without TLS or an untrusted
        // certificate is told now, and a server that does not commit durably is refused.
        try await settings.probe(logger: logger)
        if let schema = settings.schema {
            // The schema must exist before connections use it as their search_path.
            var plain = settings
            plain.schema = nil
            let admin = PostgresBackend(settings: plain, logger: logger)
            do {
                try await admin.transaction(.write) { db in
                    try await db.execute("CREATE SCHEMA IF NOT EXISTS \(schema)")
                }
            } catch {
                await admin.close()
                throw .unavailable("cannot create the schema \(schema) on PostgreSQL at \(settings.address): \(PostgresSettings.explain(error))")
            }
            await admin.close()
        }
        backend = PostgresBackend(settings: settings, logger: logger)
    } else {
        throw .badDatabaseURL("unknown database URL scheme")
    }
    do {
        try await CentralSchema.migrate(backend)
    } catch {
        await backend.close()
        if let error = error as? CentralStoreError { throw error }
        if backend.dialect == .postgres, let parsed = URL(string: url) {
            throw .unavailable("cannot reach or migrate PostgreSQL at \(parsed.host ?? "?"):\(parsed.port ?? 5432); check that it runs and the URL's user, password and database (\(String(describing: error)))")
        }
        throw .unavailable("cannot migrate the database: \(String(reflecting: error))")
    }
    return RelationalCentralStore(backend: backend, logger: logger)
}
