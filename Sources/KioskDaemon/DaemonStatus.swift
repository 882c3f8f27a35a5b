import Foundation
import KioskAPI

/// Gathers the status of the parts the API does not own.
struct DaemonStatus: KioskStatusSource {
    let reader: ReaderService
    let centralURL: String?

    func readerStatus() async -> StatusReport.ReaderInfo { reader.status }
    func outboxStatus() async -> StatusReport.OutboxInfo { .init(pending: 0, quarantined: 0) }
    func centralStatus() async -> StatusReport.CentralInfo {
        centralURL == nil ? .init(state: "not_configured") : .init(state: "offline", url: centralURL, lastError: "sync not started")
    }
}
