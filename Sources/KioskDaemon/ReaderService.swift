import Foundation
import KioskAPI
import KioskConfig
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the NFC reader loop and hands every tap to the checkpoint.
final class ReaderService: Service, Sendable {
    let configuration: KioskConfiguration
    let checkpoint: Checkpoint
    let logger: Logger
    private let state = Mutex(StatusReport.ReaderInfo(state: "absent"))

    init(configuration: KioskConfiguration, checkpoint: Checkpoint, logger: Logger) {
        self.configuration = configuration
        self.checkpoint = checkpoint
        self.logger = logger
    }

    var status: StatusReport.ReaderInfo { state.withLock { $0 } }

    func run() async throws {
        // No reader configured: the kiosk still serves typed numbers.
        try? await gracefulShutdown()
    }
}
