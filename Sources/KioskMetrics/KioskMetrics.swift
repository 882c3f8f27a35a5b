public import CoreMetrics
import Synchronization

/// The kiosk's metrics, named in one place and recorded through swift-metrics.
///
/// Modules record through this type and never choose a backend: `kioskd` hands it a factory
/// (Prometheus, served at `/metrics`); tests and tools that do not care use ``disabled``.
/// Nothing here is global: two daemons in one process (as in tests) keep separate figures.
/// No label ever carries a card number, a name or a UID: only fixed vocabularies.
public final class KioskMetrics: Sendable {
    /// Metric names, as they appear in the Prometheus exposition.
    public enum Name {
        public static let checks = "kiosk_checks_total"
        public static let tapToVerdict = "kiosk_tap_to_verdict_seconds"
        public static let readerState = "kiosk_reader_state"
        public static let readerReopens = "kiosk_reader_reopens_total"
        public static let outboxDepth = "kiosk_outbox_depth"
        public static let outboxOldestAge = "kiosk_outbox_oldest_age_seconds"
        public static let replicaAge = "kiosk_replica_age_seconds"
        public static let replicaCards = "kiosk_replica_cards"
        public static let syncErrors = "kiosk_sync_errors_total"
        public static let syncLastSuccess = "kiosk_sync_last_success_timestamp_seconds"
    }

    /// Where a check came from, as the `source` label says it.
    public enum Source: String, Sendable, CaseIterable {
        /// A card tapped on the reader.
        case tap
        /// A number typed on the screen.
        case typed
    }

    /// The reader states the `state` label takes (the reader's own health states).
    public static let readerStates = ["absent", "opening", "ready", "error"]

    /// The buckets of the tap→verdict histogram: a good tap is 30–150 ms; seconds mean trouble.
    public static let tapToVerdictBuckets: [Duration] = [
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(150), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    ]

    private let factory: any MetricsFactory
    private let tapTimer: Timer
    private let reopens: Counter
    private let lastReaderState: Mutex<String?>

    /// Metrics recorded into `factory`.
    public init(factory: any MetricsFactory) {
        self.factory = factory
        self.tapTimer = Timer(label: Name.tapToVerdict, dimensions: [], factory: factory)
        self.reopens = Counter(label: Name.readerReopens, dimensions: [], factory: factory)
        self.lastReaderState = Mutex(nil)
    }

    /// Metrics that go nowhere, for tools and tests that do not read them.
    public static var disabled: KioskMetrics { KioskMetrics(factory: NOOPMetricsHandler.instance) }

    /// Creates every labelled series at zero, so dashboards and alerts see them before the first event.
    public func declareSeries(verdicts: [String], syncErrorKinds: [String]) {
        for source in Source.allCases {
            for verdict in verdicts {
                Counter(label: Name.checks, dimensions: [("source", source.rawValue), ("verdict", verdict)], factory: factory).increment(by: 0)
            }
        }
        for kind in syncErrorKinds {
            Counter(label: Name.syncErrors, dimensions: [("kind", kind)], factory: factory).increment(by: 0)
        }
        for state in ["pending", "quarantined"] {
            Gauge(label: Name.outboxDepth, dimensions: [("state", state)], factory: factory).record(0)
        }
        Gauge(label: Name.outboxOldestAge, dimensions: [], factory: factory).record(0)
    }

    /// One verdict given.
    public func checked(source: Source, verdict: String) {
        Counter(label: Name.checks, dimensions: [("source", source.rawValue), ("verdict", verdict)], factory: factory).increment()
    }

    /// The time from the reader seeing a card to its verdict being announced.
    public func tapToVerdict(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        tapTimer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// The reader's health state now; a move back to `opening` after the first counts as a reopen.
    public func readerState(_ state: String) {
        let previous = lastReaderState.withLock { last -> String? in
            defer { last = state }
            return last
        }
        guard previous != state else { return }
        for known in Self.readerStates {
            Gauge(label: Name.readerState, dimensions: [("state", known)], factory: factory).record(known == state ? 1 : 0)
        }
        if state == "opening", previous != nil { reopens.increment() }
    }

    /// The outbox's depth by state, and how long the oldest pending request has waited (0 when none).
    public func outbox(pending: Int, quarantined: Int, oldestPendingAge: Double?) {
        Gauge(label: Name.outboxDepth, dimensions: [("state", "pending")], factory: factory).record(pending)
        Gauge(label: Name.outboxDepth, dimensions: [("state", "quarantined")], factory: factory).record(quarantined)
        Gauge(label: Name.outboxOldestAge, dimensions: [], factory: factory).record(max(0, oldestPendingAge ?? 0))
    }

    /// The replica's size, and the seconds since its last refresh (a sync or an import); `nil` when never refreshed.
    public func replica(cards: Int, ageSeconds: Double?) {
        Gauge(label: Name.replicaCards, dimensions: [], factory: factory).record(cards)
        // A replica never refreshed is reported as -1: "infinitely old" without breaking a `>` alert's arithmetic.
        Gauge(label: Name.replicaAge, dimensions: [], factory: factory).record(ageSeconds.map { max(0, $0) } ?? -1)
    }

    /// A sync attempt failed; `kind` is the error's code (`unreachable`, `timeout`, `tls`, …).
    public func syncFailed(kind: String) {
        Counter(label: Name.syncErrors, dimensions: [("kind", kind)], factory: factory).increment()
    }

    /// A sync completed, at `unixTime` seconds.
    public func syncSucceeded(unixTime: Double) {
        Gauge(label: Name.syncLastSuccess, dimensions: [], factory: factory).record(unixTime)
    }
}
