import AsyncHTTPClient
import Foundation
import KioskCore
import KioskConfig
import NIOCore
import NIOHTTP1

/// The running kioskd, asked through its local API (`GET /api/v1/status`): while it runs it holds
/// the reader, so its own account of the reader and the central is the one to trust.
enum LocalKiosk {
    struct Result {
        var finding: Finding
        var report: StatusReport?
    }

    /// The address kioskctl's other verbs use: the one given, else the one kioskd wrote to its state
    /// directory (unless `KIOSK_HTTP_ADDR` says otherwise), else the configured one.
    static func address(_ config: KioskConfiguration, given: String?, variables: [String: String]) -> String {
        if let given { return given }
        if variables["KIOSK_HTTP_ADDR"] == nil,
           let written = try? String(contentsOfFile: (config.stateDirectory as NSString).appendingPathComponent("http.addr"), encoding: .utf8) {
            let trimmed = written.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { return trimmed }
        }
        return config.httpAddress.description
    }

    static func examine(_ config: KioskConfiguration?, address given: String?, timeout: Duration, variables: [String: String]) async -> Result {
        guard let config else {
            return Result(finding: Finding(
                "kioskd.running", .skipped,
                text("Nie sprawdzono, czy kioskd działa: najpierw trzeba naprawić konfigurację.", "Whether kioskd runs was not checked: the configuration must be fixed first.")
            ))
        }
        let address = address(config, given: given, variables: variables)
        var request = HTTPClientRequest(url: "http://\(address)/api/v1/status")
        request.headers.add(name: "User-Agent", value: "kioskctl-doctor")
        if config.httpAllowRemote, let token = config.httpToken {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        let notRunning = Finding(
            "kioskd.running", .warning,
            text("kioskd nie działa (nic nie odpowiada pod \(address)). Kiosk nie obsługuje kart, dopóki go nie uruchomisz; czytnik sprawdzono bezpośrednio.",
                 "kioskd is not running (nothing answers at \(address)). The kiosk serves no cards until it is started; the reader was probed directly."),
            fix: text("Uruchom go: sudo systemctl start kioskd; dlaczego stanął: journalctl -u kioskd -n 50.",
                      "Start it: sudo systemctl start kioskd; why it stopped: journalctl -u kioskd -n 50."),
            detail: ["address": address]
        )
        // Nothing listening is told at once (the HTTP client would retry a refused connection until its deadline).
        guard let target = try? HostPort(parsing: address),
              case .resolved(let addresses) = await Network.resolve(target.host, port: target.port, timeout: timeout),
              let first = addresses.first, await Network.connect(first, timeout: timeout) == .connected
        else { return Result(finding: notRunning) }
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds))
            let body = try await response.body.collect(upTo: 1024 * 1024)
            guard response.status == .ok else {
                return Result(finding: Finding(
                    "kioskd.running", .warning,
                    text("kioskd odpowiada pod \(address), ale odmawia podania stanu (HTTP \(response.status.code)).",
                         "kioskd answers at \(address) but will not give its status (HTTP \(response.status.code))."),
                    fix: text("Sprawdź http.token w konfiguracji (lokalne API otwarte poza pętlę zwrotną wymaga tokenu) i dziennik: journalctl -u kioskd.",
                              "Check http.token in the configuration (a local API open beyond loopback needs the token) and the log: journalctl -u kioskd."),
                    detail: ["address": address, "http_status": "\(response.status.code)"]
                ))
            }
            let report = try JSONDecoder.kioskAPI.decode(StatusReport.self, from: Data(body.readableBytesView))
            return Result(finding: Finding(
                "kioskd.running", .ok,
                text("kioskd działa i odpowiada pod \(address) (wersja \(report.version)).", "kioskd is running and answers at \(address) (version \(report.version))."),
                detail: ["address": address, "version": report.version, "kiosk": report.kiosk]
            ), report: report)
        } catch is DecodingError {
            return Result(finding: Finding(
                "kioskd.running", .warning,
                text("Pod \(address) odpowiada coś, co nie jest kioskd tej wersji.", "Something that is not this version of kioskd answers at \(address)."),
                fix: text("Sprawdź http.addr w konfiguracji i czy nie działa tam inny program (ss -ltnp).",
                          "Check http.addr in the configuration and whether another program listens there (ss -ltnp)."),
                detail: ["address": address]
            ))
        } catch {
            return Result(finding: notRunning)
        }
    }
}
