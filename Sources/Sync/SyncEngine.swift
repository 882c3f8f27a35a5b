public import CardModel
public import CentralWire
import Foundation
public import KioskCore
public import KioskMetrics
public import Logging
public import Outbox
public import Replica
import Synchronization

/// One sync with the central: pull the change feed into the replica, push the outbox.
///
/// Syncs never overlap: a sync asked for while one runs waits for it and gets its outcome.
/// Whatever the central answers (garbage, 5xx, nothing), the replica and the outbox change only
/// by complete, checked pages and per-item answers, and the check path keeps reading the replica.
public actor SyncEngine: SyncTrigger {
    public nonisolated let replica: Replica
    public nonisolated let outbox: Outbox
    public nonisolated let catalog: ServiceCatalog
    let central: any CentralConnection
    let logger: Logger
    let pageSize: Int
    /// Cards per batch handed from the snapshot download to the replica's writer.
    let snapshotBatchSize = 2000
    private let tracker: StatusTracker
    private let metrics: KioskMetrics
    private let bootstrapTracker = BootstrapTracker()
    private var running: Task<SyncOutcome, Never>?

    public init(
        replica: Replica, outbox: Outbox, catalog: ServiceCatalog, central: any CentralConnection, url: String, pageSize: Int = 500,
        metrics: KioskMetrics = .disabled, logger: Logger
    ) {
        self.replica = replica
        self.metrics = metrics
        self.outbox = outbox
        self.catalog = catalog
        self.central = central
        self.logger = logger
        self.pageSize = pageSize
        tracker = StatusTracker(url: url)
    }

    /// The central's state for `/api/v1/status`; readable while a sync runs.
    public nonisolated var centralStatus: StatusReport.CentralInfo { tracker.info }

    /// The snapshot download running now, for `/api/v1/status`; `nil` when none runs.
    public nonisolated var bootstrapStatus: StatusReport.BootstrapInfo? { bootstrapTracker.info }

    /// Syncs now, or waits for the sync already running.
    ///
    /// Cancelling the caller cancels the sync (every step is idempotent and simply runs again next
    /// time), so a graceful shutdown never waits for a slow central.
    public func syncNow() async -> SyncOutcome {
        if let running { return await Self.value(of: running) }
        let task = Task { await self.performSync() }
        running = task
        let outcome = await Self.value(of: task)
        running = nil
        return outcome
    }

    private static func value(of task: Task<SyncOutcome, Never>) async -> SyncOutcome {
        await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }

    private func performSync() async -> SyncOutcome {
        var outcome = SyncOutcome(ok: false, central: "offline")
        do {
            try await pull(&outcome)
            try await push(&outcome)
            // Catalogue entries in the feed keep it current; a bootstrap skipped the feed's past, and a kiosk
            // that never had the central's catalogue asks for it whole.
            if outcome.bootstrapped || !catalog.hasCentralCatalogue {
                try adopt(try await central.catalogue(), from: "GET /v1/catalogue")
            }
            outcome.ok = true
            outcome.central = "online"
            tracker.succeeded()
            metrics.syncSucceeded(unixTime: Date().timeIntervalSince1970)
        } catch {
            metrics.syncFailed(kind: error.code.rawValue)
            outcome.error = error.description
            if error.code == .local {
                logger.error("sync could not store data", metadata: ["error": "\(error.description)"])
            } else {
                logger.warning("sync failed", metadata: ["error": "\(error.description)"])
            }
            tracker.failed(error)
        }
        // Feed pages leave their WAL to grow (see Replica.applyChanges); it goes into the file now, after the cursor.
        if outcome.changesApplied > 0 { await replica.foldWAL() }
        outcome.cursor = try? replica.syncCursor()
        outcome.requestsPending = (try? await outbox.counts().pending) ?? 0
        outcome.catalogueVersion = catalog.catalogue.version
        // Numbers erased at delivery leave the WAL now if a reader held it back then.
        _ = await outbox.truncateWALIfOwed()
        return outcome
    }

    /// Puts a catalogue from the central in use if it is newer and sound; one that breaks the rules is logged and ignored.
    private func adopt(_ candidate: Catalogue, from source: String) throws(SyncError) {
        let result: ServiceCatalog.Replacement
        do { result = try catalog.replace(with: candidate) } catch { throw SyncError(.local, "the catalogue \(error)") }
        switch result {
        case .replaced:
            logger.notice("service catalogue replaced", metadata: ["version": "\(candidate.version)", "source": "\(source)"])
        case .notNewer:
            break
        case .refused(let problems):
            logger.warning("the central's service catalogue breaks the rules; keeping the current one", metadata: [
                "version": "\(candidate.version)", "problems": "\(problems.prefix(5).joined(separator: "; "))",
            ])
        }
    }

    // MARK: Pull

    private func pull(_ outcome: inout SyncOutcome) async throws(SyncError) {
        guard let cursor = try local({ () throws(ReplicaError) in try replica.syncCursor() }) else {
            try await bootstrap(&outcome)
            return
        }
        do {
            try await follow(from: cursor, &outcome)
        } catch where error.code == .cursorExpired {
            tracker.contacted()
            logger.notice("the change feed no longer has this kiosk's cursor; bootstrapping again", metadata: ["cursor": "\(cursor)"])
            try await bootstrap(&outcome)
        }
    }

    /// Follows the change feed from `start` to its head, one checked page per replica transaction.
    ///
    /// The next page is already being fetched while the current one is written (the download and the
    /// replica's fsync overlap); pages are still applied strictly in order, and a page fetched ahead of a
    /// failure is dropped unapplied, so the replica's cursor only ever moves by complete pages.
    private func follow(from start: Int64, _ outcome: inout SyncOutcome) async throws(SyncError) {
        let central = self.central
        let pageSize = self.pageSize
        func fetch(after: Int64) -> Task<Result<CentralFeedPage, SyncError>, Never> {
            Task {
                do throws(SyncError) { return .success(try await central.changes(after: after, limit: pageSize)) } catch { return .failure(error) }
            }
        }
        var next = fetch(after: start)
        defer { next.cancel() }
        // A bound on pages per sync, so a central that always says "more" cannot keep us here forever.
        for _ in 0..<100_000 {
            let page = try await withTaskCancellationHandler {
                await next.value
            } onCancel: { [next] in
                next.cancel()
            }.get()
            tracker.contacted()
            if page.hasMore { next = fetch(after: page.nextAfter) }
            // Request statuses and the catalogue first: if we stop before the replica commit, the page comes again
            // and is applied again (both are idempotent).
            _ = try await localAsync({ () async throws(OutboxError) in try await outbox.apply(page.statuses) })
            if let published = page.catalogue { try adopt(published, from: "feed") }
            try await localAsync({ () async throws(ReplicaError) in try await replica.applyChanges(page.changes, cursor: page.nextAfter) })
            outcome.changesApplied += page.count
            if !page.hasMore { return }
        }
    }

    private func bootstrap(_ outcome: inout SyncOutcome) async throws(SyncError) {
        let summary = try await streamSnapshot()
        outcome.bootstrapped = true
        logger.notice("replica bootstrapped from the central's snapshot", metadata: ["cards": "\(summary.cards)", "seq": "\(summary.seq)"])
        // Continue from the snapshot's sequence so that nothing written meanwhile is missed.
        guard let cursor = try local({ () throws(ReplicaError) in try replica.syncCursor() }) else { return }
        try await follow(from: cursor, &outcome)
    }

    /// Streams the central's snapshot into the replica: the download and parsing run here, the writes on the
    /// replica's writer, one bounded ``SnapshotFeed`` between them, one transaction for the whole registry.
    private func streamSnapshot() async throws(SyncError) -> Replica.SnapshotSummary {
        let feed = SnapshotFeed(capacity: 2)
        let replica = self.replica
        let tracker = self.tracker
        let progress = bootstrapTracker
        progress.begin()
        defer { progress.end() }
        let writer = Task { try await replica.replaceAll(from: feed, stored: { progress.stored($0) }) }
        let header: (seq: Int64, cards: Int)
        do {
            header = try await central.snapshot(batchSize: snapshotBatchSize) { @Sendable (cards: [SyncedCard], announced: Int) throws(SyncError) in
                tracker.contacted()
                progress.announce(total: announced)
                guard await feed.send(cards) else { throw SyncError(.local, "the replica stopped taking the snapshot") }
            }
        } catch {
            feed.fail()
            // The replica's own failure says more than "it stopped taking the snapshot".
            if case .failure(let stored) = await writer.result, error.code == .local {
                throw SyncError(.local, "\(stored)")
            }
            throw error
        }
        tracker.contacted()
        feed.finish(seq: header.seq, cards: header.cards)
        switch await writer.result {
        case .success(let summary): return summary
        case .failure(let error): throw SyncError(.local, "\(error)")
        }
    }

    // MARK: Push

    private func push(_ outcome: inout SyncOutcome) async throws(SyncError) {
        var seen: Set<String> = []
        while true {
            let pending = try await localAsync({ () async throws(OutboxError) in try await outbox.pending(limit: 500) })
                .filter { !seen.contains($0.idempotencyKey) }
            guard !pending.isEmpty else { return }
            for batch in HTTPCentralClient.batches(pending) {
                seen.formUnion(batch.map(\.idempotencyKey))
                let results: [String: DeliveryResult]
                do {
                    results = try await central.submit(batch)
                    tracker.contacted()
                } catch {
                    // No per-item answer: every item stays pending, with the attempt counted.
                    let failed = Dictionary(uniqueKeysWithValues: batch.map { ($0.idempotencyKey, DeliveryResult.failed(error: error.description)) })
                    try? await outbox.record(failed)
                    throw error
                }
                try await localAsync({ () async throws(OutboxError) in try await outbox.record(results) })
                for result in results.values {
                    switch result {
                    case .delivered: outcome.requestsDelivered += 1
                    case .rejected: outcome.requestsQuarantined += 1
                    case .failed: break
                    }
                }
                let quarantined = results.values.filter { if case .rejected = $0 { true } else { false } }.count
                if quarantined > 0 {
                    logger.warning("the central could not read requests; quarantined for staff (kioskctl outbox list)", metadata: ["count": "\(quarantined)"])
                }
                let declined = results.values.filter { if case .delivered(_, _, .some("declined"), _, _) = $0 { true } else { false } }.count
                if declined > 0 { logger.info("the central declined requests; residents see why at their next tap", metadata: ["count": "\(declined)"]) }
            }
        }
    }

    /// Runs a local async write, turning its error into ``SyncError`` `.local`.
    private func localAsync<T, E: Error>(_ body: () async throws(E) -> T) async throws(SyncError) -> T {
        do { return try await body() } catch { throw SyncError(.local, "\(error)") }
    }

    /// Runs a local write, turning its error into ``SyncError`` `.local`.
    private func local<T, E: Error>(_ body: () throws(E) -> T) throws(SyncError) -> T {
        do { return try body() } catch { throw SyncError(.local, "\(error)") }
    }
}

extension SyncEngine: HolderRequestsSource {
    /// How long a resident at the screen waits for the central's list before the kiosk shows what it knows.
    public static let holderLookupTimeout: Duration = .seconds(2)

    /// `POST /v1/holder/requests` with the card number and the chip just presented, within ``holderLookupTimeout``.
    public nonisolated func holderRequests(cardNumber: CardNumber, chip: ChipUID) async throws(HolderLookupError) -> [HolderRequest] {
        do {
            let list = try await central.holderRequests(HolderQuery(cardNumber: cardNumber.value, uid: chip.hex), timeout: Self.holderLookupTimeout)
            tracker.contacted()
            return list
        } catch {
            logger.debug("holder's requests not available from the central", metadata: ["error": "\(error.code.rawValue)"])
            throw HolderLookupError(error.code.rawValue)
        }
    }
}

/// The central's state as `/api/v1/status` shows it; shared between the sync task and status readers.
final class StatusTracker: Sendable {
    private let state: Mutex<StatusReport.CentralInfo>

    init(url: String) {
        state = Mutex(.init(state: "offline", url: Self.redact(url), lastError: Self.neverSynced))
    }

    var info: StatusReport.CentralInfo { state.withLock { $0 } }

    /// What `last_error` says before the first sync has ended either way.
    static let neverSynced = "not synced yet"

    /// The central answered: it is online from now on, even in the middle of a long bootstrap, until a sync fails.
    func contacted() {
        state.withLock {
            $0.state = "online"
            $0.lastContact = Date()
            if $0.lastError == Self.neverSynced { $0.lastError = nil }
        }
    }

    func succeeded() {
        state.withLock {
            let now = Date()
            $0.state = "online"
            $0.lastContact = now
            $0.lastSuccessfulSync = now
            $0.lastError = nil
        }
    }

    func failed(_ error: SyncError) {
        state.withLock {
            $0.state = "offline"
            $0.lastError = error.description
        }
    }

    /// The URL without any user:password part.
    static func redact(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "(invalid URL)" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        return parts.string ?? "(invalid URL)"
    }
}
