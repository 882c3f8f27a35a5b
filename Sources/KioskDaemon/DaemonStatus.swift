import Foundation
import KioskAPI
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

    func readerStatus() async -> StatusReport.ReaderInfo { reader.status }

    func outboxStatus() async -> StatusReport.OutboxInfo {
        guard let counts = try? outbox.counts() else { return .init(pending: 0, quarantined: 0) }
        return .init(pending: counts.pending, quarantined: counts.quarantined)
    }

    func centralStatus() async -> StatusReport.CentralInfo {
        switch central {
        case .notConfigured: .init(state: "not_configured")
        case .syncing(let engine): engine.centralStatus
        case .unusable(let url, let reason): .init(state: "offline", url: url, lastError: reason)
        }
    }
}
