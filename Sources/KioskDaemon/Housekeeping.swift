import Foundation
import Logging
import Outbox
import ServiceLifecycle

/// Deletes what the kiosk no longer needs, at start and then every hour: settled outbox items older
/// than `outbox.keep_days` or beyond the newest `outbox.keep_settled`. Pending requests are never touched.
///
/// Recent verdicts are kept in memory only (bounded by `taps.keep` and `taps.keep_minutes`), so there is
/// no tap log on disk to prune.
struct Housekeeping: Service {
    let outbox: Outbox
    let keepDays: Int
    let keepSettled: Int
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await pruneOnce()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    func pruneOnce(now: Date = Date()) async {
        do {
            let cutoff = now.addingTimeInterval(-Double(keepDays) * 86_400)
            let deleted = try await outbox.prune(settledBefore: cutoff, keepSettled: keepSettled)
            if deleted > 0 {
                logger.info("outbox pruned", metadata: ["deleted": "\(deleted)", "keep_days": "\(keepDays)", "keep_settled": "\(keepSettled)"])
            }
            // Erased numbers whose WAL truncation a reader held back leave the files now.
            _ = await outbox.truncateWALIfOwed()
        } catch {
            logger.error("outbox could not be pruned", metadata: ["error": "\(error.description)"])
        }
    }
}
