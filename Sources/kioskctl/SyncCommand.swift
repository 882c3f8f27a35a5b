import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KioskConfig

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Ask the running kioskd to sync with the central now (POST /api/v1/sync).",
        discussion: "Pulls registry changes, sends queued requests, and prints the outcome. Exit status: 0 the sync succeeded, 1 it did not (or kioskd did not answer), 2 no central is configured."
    )
    @OptionGroup var options: KioskOptions
    @Option(help: "kioskd's address, host:port (default: the config's http.addr, or the address kioskd wrote to its state dir).")
    var address: String?
    @Option(help: "Seconds to wait for the sync to finish.")
    var timeout: Double = 600

    func run() async throws {
        let config = try loadConfig(options)
        var request = localAPIRequest(config, address: address, path: "/api/v1/sync")
        request.httpMethod = "POST"
        request.timeoutInterval = timeout
        let data: Data
        let status: Int
        do {
            let (body, response) = try await URLSession.shared.data(for: request)
            data = body
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
        } catch {
            fail("kioskd is not answering at \(request.url?.host ?? "?"):\(request.url?.port ?? 0) (\(error.localizedDescription)); is it running? (systemctl status kioskd)", code: 1)
        }
        let object = try? JSONSerialization.jsonObject(with: data)
        if let object, let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            print(String(decoding: pretty, as: UTF8.self))
        }
        switch status {
        case 200: return
        case 409: fail("no central server is configured for this kiosk (central.url)", code: 2)
        default: throw ExitCode(1)
        }
    }
}
