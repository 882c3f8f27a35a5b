import CardFormat
import CardModel
import CardReader
import Foundation
import KioskCore
import KioskConfig
import KioskMetrics
import Logging
import ServiceLifecycle
import StateFiles
import Synchronization

/// Runs the NFC reader loop and hands every tap to the checkpoint.
///
/// With no reader configured (`KIOSK_NFC_DEVICE=none`, `nfc.enabled = false`) it only reports
/// `absent`, and the kiosk keeps serving typed numbers.
final class ReaderService: Service, Sendable {
    let configuration: KioskConfiguration
    let checkpoint: Checkpoint
    let logger: Logger
    let metrics: KioskMetrics
    private let state = Mutex(StatusReport.ReaderInfo(state: "absent"))
    /// The reader while its loop runs, for its heartbeat.
    private let running = Mutex<NFCReader?>(nil)

    init(configuration: KioskConfiguration, checkpoint: Checkpoint, metrics: KioskMetrics, logger: Logger) {
        self.configuration = configuration
        self.checkpoint = checkpoint
        self.metrics = metrics
        self.logger = logger
        metrics.readerState("absent")
    }

    var status: StatusReport.ReaderInfo { state.withLock { $0 } }

    /// Whether a reader loop is configured at all (`nfc.enabled`, `KIOSK_NFC_DEVICE=none`).
    var isEnabled: Bool { configuration.nfcEnabled }

    /// When the reader loop last made progress (``NFCReader/lastProgress``); nil before it runs
    /// and after it stops.
    var lastProgress: ContinuousClock.Instant? { running.withLock { $0?.lastProgress } }

    func run() async throws {
        guard configuration.nfcEnabled else {
            try? await gracefulShutdown()
            return
        }
        let keys = try loadTrustedKeys()
        let reader = NFCReader(
            configuration: ReaderConfiguration(connstring: configuration.nfcDevice, lockDirectory: configuration.stateDirectory),
            interpreter: SignedCardInterpreter(verifier: CardRecordVerifier(trustedKeys: keys)),
            logger: logger
        )
        let checkpoint = self.checkpoint
        running.withLock { $0 = reader }
        defer { running.withLock { $0 = nil } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await health in reader.healthChanges() {
                    self.metrics.readerState(health.state.rawValue)
                    self.state.withLock {
                        $0 = StatusReport.ReaderInfo(state: health.state.rawValue, device: health.device, lastError: health.lastError, since: health.since)
                    }
                }
            }
            defer { group.cancelAll() }
            do {
                try await cancelWhenGracefulShutdown {
                    try await reader.run(
                        onTimedTap: { presentation, detectedAt in await checkpoint.check(presentation, source: .tap, detectedAt: detectedAt) },
                        onLeave: { uid in await checkpoint.cardRemoved(uid: uid) }
                    )
                }
            } catch let error as ReaderError {
                throw ReaderStartError(description: "NFC reader \(error.device ?? "(first found)"): \(error.message)")
            }
        }
    }

    /// The card-signing public keys this kiosk trusts (`nfc.trusted_keys`).
    private func loadTrustedKeys() throws -> TrustedKeys {
        let path = configuration.trustedKeysFile ?? "/etc/cus-kiosk/trusted-keys"
        guard FileManager.default.fileExists(atPath: path) else {
            if configuration.trustedKeysFile != nil {
                throw ReaderStartError(description: "the trusted keys file \(path) (nfc.trusted_keys) does not exist")
            }
            logger.warning("no trusted card keys: signed cards will be refused as counterfeit", metadata: ["expected": "\(path)"])
            return TrustedKeys()
        }
        do { try StateFiles.checkOnlyOwnerCanWrite(path, what: "the trusted keys file (nfc.trusted_keys)") } catch {
            throw ReaderStartError(description: "refusing \(error.description): whoever can change it decides which cards are genuine")
        }
        do {
            let keys = try TrustedKeys.load(from: path)
            logger.info("trusted card keys loaded", metadata: ["key_ids": "\(keys.keyIDs.sorted())"])
            return keys
        } catch {
            throw ReaderStartError(description: "cannot load the trusted keys \(path): \(error)")
        }
    }
}

/// The reader could not start; the message says what to do.
struct ReaderStartError: Error, CustomStringConvertible {
    var description: String
}

/// Interprets a tapped tag's memory with the CUS signed-record format.
struct SignedCardInterpreter: CardInterpreter {
    let verifier: CardRecordVerifier
    func interpret(uid: ChipUID, technology: CardTechnology, userMemory: [UInt8]) -> Presentation {
        verifier.presentation(userMemory: userMemory, uid: uid, technology: technology)
    }
}
