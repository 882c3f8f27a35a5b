public import Foundation
public import Replica

/// The body of `GET /api/v1/status`.
public struct StatusReport: Sendable, Codable, Equatable {
    public struct ReplicaInfo: Sendable, Codable, Equatable {
        public var cards: Int
        public var lastSync: Date?
        public var lastImport: Date?
        public var cursor: Int64?
        /// Seconds since the replica's data was last refreshed (sync or import); `nil` if never.
        public var ageSeconds: Int?
    }

    public struct ReaderInfo: Sendable, Codable, Equatable {
        /// `absent`, `opening`, `ready` or `error`.
        public var state: String
        public var device: String?
        public var lastError: String?
        public var since: Date?
        public init(state: String, device: String? = nil, lastError: String? = nil, since: Date? = nil) {
            self.state = state
            self.device = device
            self.lastError = lastError
            self.since = since
        }
    }

    public struct OutboxInfo: Sendable, Codable, Equatable {
        /// Requests waiting for the central; `nil` when the outbox cannot be read (see ``error``).
        public var pending: Int?
        public var quarantined: Int?
        /// Why the outbox could not be read.
        public var error: String?
        public init(pending: Int?, quarantined: Int?, error: String? = nil) {
            self.pending = pending
            self.quarantined = quarantined
            self.error = error
        }
    }

    public struct CentralInfo: Sendable, Codable, Equatable {
        /// `not_configured`, `online` or `offline`.
        public var state: String
        public var url: String?
        public var lastContact: Date?
        public var lastSuccessfulSync: Date?
        public var lastError: String?
        /// Configuration problems that weaken the link (a plain http:// URL with a token).
        public var warnings: [String]?
        public init(state: String, url: String? = nil, lastContact: Date? = nil, lastSuccessfulSync: Date? = nil, lastError: String? = nil) {
            self.state = state
            self.url = url
            self.lastContact = lastContact
            self.lastSuccessfulSync = lastSuccessfulSync
            self.lastError = lastError
        }
    }

    /// The clock against the replica's last refresh.
    public struct ClockInfo: Sendable, Codable, Equatable {
        /// False when the clock is behind the replica's last sync or import.
        public var ok: Bool
        /// `behind_last_sync` when not ok; dates are then judged from the last refresh's day.
        public var problem: String?
        /// The replica's last sync or import.
        public var lastSync: Date?

        public init(ok: Bool, problem: String? = nil, lastSync: Date? = nil) {
            self.ok = ok
            self.problem = problem
            self.lastSync = lastSync
        }
    }

    /// A snapshot download into the replica that is running: how far it got.
    public struct BootstrapInfo: Sendable, Codable, Equatable {
        /// Cards stored so far (counted per batch).
        public var cards: Int
        /// Cards the central's snapshot announced; `nil` until its header has arrived.
        public var total: Int?
        /// Whole percent of `total` stored; `nil` while `total` is unknown.
        public var percent: Int?
        /// Seconds left at the rate so far; `nil` until the first batch is stored.
        public var etaSeconds: Int?
        /// When the download began.
        public var started: Date

        /// A download's progress as the sync engine measured it.
        public init(cards: Int, total: Int?, percent: Int?, etaSeconds: Int?, started: Date) {
            self.cards = cards
            self.total = total
            self.percent = percent
            self.etaSeconds = etaSeconds
            self.started = started
        }
    }

    public var version: String
    public var kiosk: String
    public var now: Date
    public var replica: ReplicaInfo
    public var reader: ReaderInfo
    public var outbox: OutboxInfo
    public var central: CentralInfo
    public var clock: ClockInfo
    /// The snapshot download running now; absent when none runs.
    public var bootstrap: BootstrapInfo?
}

extension StatusReport {
    /// The kiosk's status now: the replica read here, the reader, outbox and central from `source`.
    /// - Throws: ``ReplicaError`` when the replica cannot be read.
    public static func assemble(kiosk: String, checkpoint: Checkpoint, source: any KioskStatusSource, now: Date = Date()) async throws(ReplicaError) -> StatusReport {
        let stats = try checkpoint.replica.stats(detailed: false)
        let refreshed = [stats.lastSyncAt, stats.lastImportAt].compactMap { $0 }.max()
        return StatusReport(
            version: KioskVersion.current,
            kiosk: kiosk,
            now: now,
            replica: .init(
                cards: stats.cards, lastSync: stats.lastSyncAt, lastImport: stats.lastImportAt, cursor: stats.cursor,
                ageSeconds: refreshed.map { Int(now.timeIntervalSince($0)) }
            ),
            reader: await source.readerStatus(),
            outbox: await source.outboxStatus(),
            central: await source.centralStatus(),
            clock: .init(await checkpoint.clockReport()),
            bootstrap: await source.bootstrapStatus()
        )
    }
}

extension StatusReport.ClockInfo {
    init(_ report: Checkpoint.ClockReport) {
        self.init(ok: report.ok, problem: report.ok ? nil : "behind_last_sync", lastSync: report.lastRefresh)
    }
}

/// Where the status page learns about the parts the API does not own (reader, outbox, central).
public protocol KioskStatusSource: Sendable {
    func readerStatus() async -> StatusReport.ReaderInfo
    func outboxStatus() async -> StatusReport.OutboxInfo
    func centralStatus() async -> StatusReport.CentralInfo
    /// The snapshot download running now, if any.
    func bootstrapStatus() async -> StatusReport.BootstrapInfo?
}

extension KioskStatusSource {
    /// No central, no bootstrap.
    public func bootstrapStatus() async -> StatusReport.BootstrapInfo? { nil }
}

/// A kiosk with no reader, no outbox and no central server: what `kioskd` reports before those start.
public struct StandaloneStatus: KioskStatusSource {
    public init() {}
    public func readerStatus() async -> StatusReport.ReaderInfo { .init(state: "absent") }
    public func outboxStatus() async -> StatusReport.OutboxInfo { .init(pending: 0, quarantined: 0) }
    public func centralStatus() async -> StatusReport.CentralInfo { .init(state: "not_configured") }
}

/// The version `kioskd` reports.
public enum KioskVersion {
    public static let current = "0.1.0"
}
