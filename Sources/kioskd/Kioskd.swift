import ArgumentParser
import CardReader
import Foundation
import KioskConfig
import KioskDaemon
import Logging

/// `kioskd`: the card-check kiosk daemon.
@main
struct KioskdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kioskd",
        abstract: "The CUS Starachowice card-check kiosk daemon.",
        discussion: "Environment overrides: KIOSK_STATE_DIR, KIOSK_HTTP_ADDR, KIOSK_HTTP_TOKEN, KIOSK_NFC_DEVICE, KIOSK_CENTRAL_URL, KIOSK_CENTRAL_TOKEN, KIOSK_TRUSTED_KEYS, KIOSK_SESSION_SECONDS, KIOSK_LOG_LEVEL; LIBNFC_LOG_LEVEL turns libnfc's own log on (off by default); NOTIFY_SOCKET and WATCHDOG_USEC come from systemd."
    )

    @Option(name: .long, help: "TOML configuration file.")
    var config: String?

    func run() async throws {
        // First, before any thread reads the environment: libnfc's own stderr log off (see LibnfcLog).
        let libnfcLog = LibnfcLog.takeOver()
        let level = ProcessInfo.processInfo.environment["KIOSK_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kioskd")
        if case .keptRequested(let requested) = libnfcLog {
            logger.notice("libnfc's own log is on, as LIBNFC_LOG_LEVEL asks", metadata: ["LIBNFC_LOG_LEVEL": "\(requested)"])
        }
        let configuration: KioskConfiguration
        do {
            configuration = try KioskConfiguration.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("kioskd: bad configuration: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        do {
            try await KioskDaemon(configuration: configuration, logger: logger).run()
        } catch {
            FileHandle.standardError.write(Data("kioskd: cannot run: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
