import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KioskConfig

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask the running kioskd for its status (GET /api/v1/status).",
        discussion: "Exit status: 0 kioskd answered, 1 it did not."
    )
    @OptionGroup var options: KioskOptions
    @Option(help: "kioskd's address, host:port (default: the config's http.addr, or the address kioskd wrote to its state dir).")
    var address: String?

    func run() async throws {
        let config = try loadConfig(options)
        var request = localAPIRequest(config, address: address, path: "/api/v1/status")
        request.timeoutInterval = 5
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
                fail("kioskd at \(request.url?.host ?? "?"):\(request.url?.port ?? 0) answered with an error", code: 1)
            }
            let object = try JSONSerialization.jsonObject(with: data)
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: pretty, as: UTF8.self))
        } catch {
            fail("kioskd is not answering at \(request.url?.host ?? "?"):\(request.url?.port ?? 0) (\(error.localizedDescription)); is it running? (systemctl status kioskd)", code: 1)
        }
    }
}
