public import CardCheck
import CardModel
import Foundation
import Hummingbird
import KioskAPI
import KioskCore
public import KioskConfig
import KioskMetrics
public import Logging
import NIOCore
import Outbox
import Prometheus
import Replica
import ServiceLifecycle
import StateFiles
import Speech
import StaffAccess
import Sync
import SystemdNotify
import TicketPrinter
import UnixSignals

/// `kioskd` itself: opens the replica and the outbox, starts the local API, the reader and sync, and
/// runs them as one service group that stops cleanly on SIGTERM.
public struct KioskDaemon: Sendable {
    public let configuration: KioskConfiguration
    public let logger: Logger
    private let clock: any KioskClock

    public init(configuration: KioskConfiguration, logger: Logger, clock: any KioskClock = SystemClock()) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
    }

    /// Why the daemon could not start.
    public struct StartupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs until SIGTERM/SIGINT (or cancellation), then shuts down gracefully.
    public func run() async throws {
        let config = configuration
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        do { try notifier.status("Starting: opening the replica and the outbox") } catch {
            logger.warning("\(error.description)")
        }
        // Every validity decision is a day in Warsaw: without the zone's rules (DST included) the
        // kiosk would judge expiry around midnight wrongly, and the screen's browser and the logs
        // (which read the system's zone files) would disagree with it, so it refuses to start.
        let zoneDirectory = ProcessInfo.processInfo.environment["TZDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/share/zoneinfo"
        guard TimeZone(identifier: "Europe/Warsaw") != nil,
              FileManager.default.fileExists(atPath: zoneDirectory + "/Europe/Warsaw")
        else {
            throw StartupError(description: "The time zone Europe/Warsaw is missing from this system's time zone data (\(zoneDirectory)): install it (apt-get install tzdata) and start kioskd again.")
        }
        do {
            try StateFiles.prepareDirectory(config.stateDirectory)
        } catch {
            throw StartupError(description: "The state directory \(error.description). Set KIOSK_STATE_DIR or state_dir to a folder kioskd can own.")
        }
        // One kioskd per state directory (and no `kioskctl restore` under it); the kernel drops the lock if we die.
        let stateLock: StateLock
        do { stateLock = try StateLock(directory: config.stateDirectory, holder: "starting kioskd") } catch {
            throw StartupError(description: "The state directory's lock \(error.description).")
        }
        defer { withExtendedLifetime(stateLock) {} }
        for warning in config.warnings { logger.warning("\(warning)") }
        // Lookups are answered while the replica's integrity check runs; writes wait for it, and a damaged
        // file stops kioskd (ReplicaIntegrityWatch below). A file that needs a migration is checked first.
        let replica = try Replica(path: config.replicaPath, integrity: .inBackground)
        let stats = try replica.stats(detailed: false)
        logger.info("replica open", metadata: ["cards": "\(stats.cards)", "path": "\(config.replicaPath)"])
        try? notifier.watchdog()

        let (metrics, registry) = Self.makeMetrics()
        let hub = EventHub()
        let checkpoint = Checkpoint(
            replica: replica, clock: clock,
            retention: .init(maxCount: config.tapsKeep, maxAge: .seconds(config.tapsKeepMinutes * 60), sessionLifetime: .seconds(config.sessionSeconds)),
            events: hub, metrics: metrics, partnerMode: config.mode == .partner, logger: logger
        )
        let outboxPath = (config.stateDirectory as NSString).appendingPathComponent("outbox.sqlite")
        let outbox: Outbox
        do { outbox = try Outbox(path: outboxPath) } catch { throw StartupError(description: error.description) }
        do {
            let counts = try await outbox.counts()
            logger.info("outbox open", metadata: ["pending": "\(counts.pending)", "quarantined": "\(counts.quarantined)"])
        } catch {
            logger.error("outbox cannot be read", metadata: ["error": "\(error.description)"])
        }
        // The latest catalogue the central sent, kept across restarts (offline too); the standard one before that.
        let catalog = ServiceCatalog(path: (config.stateDirectory as NSString).appendingPathComponent("catalogue.json"))
        if let problem = catalog.loadProblem { logger.warning("\(problem)") }
        logger.info("service catalogue", metadata: ["version": "\(catalog.version)", "from_central": "\(catalog.hasCentralCatalogue)"])
        let reader = ReaderService(configuration: config, checkpoint: checkpoint, metrics: metrics, logger: logger)
        let supervision = SystemdSupervision(notifier: notifier, reader: reader, logger: logger)
        let housekeeping = Housekeeping(
            outbox: outbox, keepDays: config.outboxKeepDays, keepSettled: config.outboxKeepSettled, logger: logger
        )

        // Sync runs only with a central; without one requests still queue (outreach kiosks offline for days).
        var central = DaemonStatus.Central.notConfigured
        var syncServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        var engine: SyncEngine?
        if let url = config.centralURL {
            do {
                let client = try HTTPCentralClient(url: url, token: config.centralToken ?? "", caFile: config.centralCAFile)
                let syncEngine = SyncEngine(
                    replica: replica, outbox: outbox, catalog: catalog, central: client, url: url, metrics: metrics, logger: logger
                )
                engine = syncEngine
                central = .syncing(syncEngine)
                syncServices.append(.init(service: SyncService(
                    engine: syncEngine, central: client, interval: .seconds(config.syncIntervalSeconds), logger: logger
                )))
            } catch {
                // Checks never depend on the central: report the problem and keep serving.
                logger.error("sync disabled", metadata: ["error": "\(error.description)"])
                central = .unusable(url: url, reason: error.description)
            }
        }
        let status = DaemonStatus(reader: reader, outbox: outbox, central: central, warnings: config.warnings)
        let entryGuard = NumberEntryGuard(path: (config.stateDirectory as NSString).appendingPathComponent("number-entry.json"))
        let callbackGuard = CallbackGuard(path: (config.stateDirectory as NSString).appendingPathComponent("callback-entry.json"))
        // Tickets carry the number the central gave this kiosk at enrolment (in its token).
        let ticketKiosk = KioskTicketNumber.number(centralToken: config.centralURL == nil ? nil : config.centralToken, kioskName: config.kioskName)
        let api = KioskAPI(
            checkpoint: checkpoint, status: status, kioskName: config.kioskName, uiDirectory: config.uiDirectory ?? Self.defaultUIDirectory(),
            outbox: outbox, catalog: catalog, sync: engine, holders: engine, ticketKiosk: ticketKiosk, entryGuard: entryGuard,
            callbackGuard: callbackGuard,
            accessToken: config.httpAllowRemote ? config.httpToken : nil,
            metrics: { await Self.exposition(metrics: metrics, registry: registry, replica: replica, outbox: outbox) },
            screen: screenServices(checkpoint: checkpoint)
        )
        let addressFile = (config.stateDirectory as NSString).appendingPathComponent("http.addr")
        try? FileManager.default.removeItem(atPath: addressFile)
        let logger = self.logger
        let app = Application(
            router: api.router(),
            configuration: .init(address: .hostname(config.httpAddress.host, port: config.httpAddress.port), serverName: "kioskd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.httpAddress.port
                let bound = HostPort(host: config.httpAddress.host, port: port)
                logger.notice("local API listening", metadata: ["address": "http://\(bound)"])
                // Tests and tools started with port 0 learn the real port here.
                try? Data("\(bound)\n".utf8).write(to: URL(fileURLWithPath: addressFile), options: .atomic)
                try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: addressFile)
                supervision.apiListening(at: "\(bound)")
            },
            logger: logger
        )
        var groupConfiguration = ServiceGroupConfiguration(
            // Shut down in reverse: open event streams end first, so the server's graceful
            // shutdown does not wait for screens that would never disconnect.
            services: [.init(service: ReplicaIntegrityWatch(replica: replica, logger: logger)), .init(service: housekeeping), .init(service: reader)]
                + syncServices + [
                .init(service: app),
                .init(service: EventStreamCloser(hub: hub)),
                // Last: told first at shutdown, so systemd hears STOPPING=1 at once.
                .init(service: supervision),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // Below the unit's TimeoutStopSec (15 s): a sync or a screen that does not let go is
        // cancelled rather than waited for, and systemd never has to SIGKILL a kiosk mid-write.
        groupConfiguration.maximumGracefulShutdownDuration = Self.gracefulShutdownLimit
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
        // A stopped kioskd listens nowhere: tools must not find its old address.
        try? FileManager.default.removeItem(atPath: addressFile)
        logger.notice("kioskd stopped")
    }

    /// The daemon's metrics, recorded into a Prometheus registry of its own (no global bootstrap).
    static func makeMetrics() -> (KioskMetrics, PrometheusCollectorRegistry) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[KioskMetrics.Name.tapToVerdict] = KioskMetrics.tapToVerdictBuckets
        let metrics = KioskMetrics(factory: factory)
        metrics.declareSeries(verdicts: Verdict.allCases.map(\.rawValue), syncErrorKinds: SyncError.Code.allCases.map(\.rawValue))
        return (metrics, registry)
    }

    /// `GET /metrics`: refreshes the figures read from disk (outbox, replica), then renders the registry.
    static func exposition(metrics: KioskMetrics, registry: PrometheusCollectorRegistry, replica: Replica, outbox: Outbox) async -> String {
        let now = Date()
        if let counts = try? await outbox.counts() {
            metrics.outbox(
                pending: counts.pending, quarantined: counts.quarantined,
                oldestPendingAge: (try? await outbox.oldestPending())?.map { now.timeIntervalSince($0) }
            )
        }
        if let stats = try? replica.stats(detailed: false) {
            let refreshed = [stats.lastSyncAt, stats.lastImportAt].compactMap { $0 }.max()
            metrics.replica(cards: stats.cards, ageSeconds: refreshed.map { now.timeIntervalSince($0) })
        }
        return registry.emitToString()
    }

    /// How long a graceful shutdown may take before the remaining services are cancelled.
    public static let gracefulShutdownLimit: Duration = .seconds(10)

    /// `Kiosk/` beside the package when run from a checkout, or `/usr/share/cus-kiosk/ui` when installed.
    static func defaultUIDirectory() -> String? {
        let candidates: [String?] = [
            ProcessInfo.processInfo.environment["KIOSK_UI_DIR"],
            // .build/<triple>/<config>/kioskd in a checkout: the Kiosk folder is three levels up.
            URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent("../../../Kiosk").standardized.path,
            FileManager.default.currentDirectoryPath + "/Kiosk",
            "/usr/share/cus-kiosk/ui",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }
}

/// Stops kioskd when the replica's integrity check, run while lookups are served, finds the file damaged.
struct ReplicaIntegrityWatch: Service {
    let replica: Replica
    let logger: Logger
    func run() async throws {
        do {
            try await replica.integrityVerified()
        } catch {
            logger.critical("the replica failed its integrity check; stopping", metadata: ["error": "\(error.description)"])
            throw error
        }
        logger.info("replica integrity check passed")
        try? await gracefulShutdown()
    }
}

/// Ends open event streams when shutdown starts, so screens do not hold the server open.
struct EventStreamCloser: Service {
    let hub: EventHub
    func run() async throws {
        try? await gracefulShutdown()
        hub.close()
    }
}

extension KioskDaemon {
    /// The screen's settings, voice, printer and verification mode, from the configuration.
    func screenServices(checkpoint: Checkpoint) -> ScreenServices {
        let config = configuration
        var speaker: Speaker?
        if config.speechEnabled {
            let candidate = Speaker(output: config.speechWavDirectory.map { .wavDirectory($0) } ?? .soundCard)
            if candidate.isAvailable {
                speaker = candidate
            } else {
                logger.notice("espeak-ng is not installed: the screen cannot read aloud (apt-get install espeak-ng)")
            }
        }
        let printer = config.printerDevice.map { TicketPrinterDevice(path: $0, baud: config.printerBaud) }
        // Verification mode is for the CUS's own kiosks; a partner's desk never shows names.
        let staff = config.mode == .partner ? nil : StaffDesk(
            pins: StaffPINs(path: (config.stateDirectory as NSString).appendingPathComponent("staff-pins.json")), checkpoint: checkpoint
        )
        let settings = ScreenSettings(
            mode: config.mode.rawValue,
            panel: .init(width: config.panel.width, height: config.panel.height, diagonalInches: config.panel.diagonalInches),
            speech: speaker != nil, printer: printer != nil, inactivitySeconds: config.inactivitySeconds,
            answerSeconds: config.answerSeconds, kioskPhone: config.printerContactPhone
        )
        return ScreenServices(settings: settings, speaker: speaker, printer: printer, staff: staff, logger: logger)
    }
}
