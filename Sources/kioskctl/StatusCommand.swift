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
        var target = address ?? config.httpAddress.description
        if address == nil, ProcessInfo.processInfo.environment["KIOSK_HTTP_ADDR"] == nil,
           let written = try? String(contentsOfFile: (config.stateDirectory as NSString).appendingPathComponent("http.addr"), encoding: .utf8) {
            target = written.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let url = URL(string: "http://\(target)/api/v1/status") else { fail("bad address \(target)", code: 1) }
        var request = URLRequest(url: url)
        request.timeoutInterval = 5
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            guard let http = response as? HTTPURLResponse, http.statusCode == 200 else {
                fail("kioskd at \(target) answered with an error", code: 1)
            }
            let object = try JSONSerialization.jsonObject(with: data)
            let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: pretty, as: UTF8.self))
        } catch {
            fail("kioskd is not answering at \(target) (\(error.localizedDescription)); is it running? (systemctl status kioskd)", code: 1)
        }
    }
}
