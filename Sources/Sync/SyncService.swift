import KioskCore
public import Logging
public import ServiceLifecycle

/// Runs ``SyncEngine`` every `interval`, and sooner with exponential backoff and jitter after a failure.
///
/// Stops at graceful shutdown; a sync interrupted by it is simply repeated at the next start
/// (every step is idempotent).
public struct SyncService: Service {
    public let engine: SyncEngine
    public let interval: Duration
    let central: any CentralConnection
    let logger: Logger

    public init(engine: SyncEngine, central: any CentralConnection, interval: Duration, logger: Logger) {
        self.engine = engine
        self.central = central
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let outcome = await cancelWhenGracefulShutdown { await engine.syncNow() }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            failures = outcome.ok ? 0 : failures + 1
            let wait = Self.delay(afterFailures: failures, interval: interval)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
        await central.shutdown()
    }

    /// `interval` after a success; after `n` failures in a row, 1 s · 2ⁿ⁻¹ capped at 5 minutes (and at
    /// `interval` if that is longer), times a random factor in 0.5…1 so that kiosks do not retry in step.
    public static func delay(afterFailures n: Int, interval: Duration) -> Duration {
        guard n > 0 else { return interval }
        let cap = max(interval, .seconds(300))
        let base = Duration.seconds(1) * (1 << min(n - 1, 12))
        let capped = min(base, cap)
        return capped * Double.random(in: 0.5...1.0)
    }
}
