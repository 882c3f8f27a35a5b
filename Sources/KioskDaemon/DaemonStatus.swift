import Foundation
import KioskCore
import Outbox
import Sync

/// Gathers the status of the parts the API does not own: the reader, the outbox and the central.
struct DaemonStatus: KioskStatusSource {
    /// What the kiosk knows about its central server.
    enum Central: Sendable {
        /// No `central.url`: a standalone kiosk.
        case notConfigured
        /// Syncing with `SyncEngine`.
        case syncing(SyncEngine)
        /// A central is configured but cannot be used (the reason says why).
        case unusable(url: String, reason: String)
    }

    let reader: ReaderService
    let outbox: Outbox
    let central: Central
    /// Configuration warnings (a plain http:// central with a token).
    let warnings: [String]

    func readerStatus() async -> StatusReport.ReaderInfo { reader.status }

    func outboxStatus() async -> StatusReport.OutboxInfo {
        do {
            let counts = try await outbox.counts()
            return .init(pending: counts.pending, quarantined: counts.quarantined)
        } catch {
            // Never "0 pending" when the truth is unknown: requests may be waiting.
            return .init(pending: nil, quarantined: nil, error: error.description)
        }
    }

    func centralStatus() async -> StatusReport.CentralInfo {
        var info: StatusReport.CentralInfo
        switch central {
        case .notConfigured: info = .init(state: "not_configured")
        case .syncing(let engine): info = engine.centralStatus
        case .unusable(let url, let reason): info = .init(state: "offline", url: url, lastError: reason)
        }
        info.warnings = warnings.isEmpty ? nil : warnings
        return info
    }

    func bootstrapStatus() async -> StatusReport.BootstrapInfo? {
        if case .syncing(let engine) = central { engine.bootstrapStatus } else { nil }
    }
}
