import ArgumentParser
import CommandLineProgress
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KioskConfig
import RegistryCSV
import Replica
import StateFiles

struct ReplicaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replica",
        abstract: "Seed and inspect the local card replica.",
        subcommands: [Import.self, Stats.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a registry CSV into the replica (no central server needed).",
            discussion: """
                Columns: card_number, uid, entitlement, role, first_name, last_name, valid_from, valid_until, status.
                Exit status: 0 every row imported; 1 some rows refused (listed with their line numbers); 65 the file cannot be used.
                """
        )
        @OptionGroup var options: KioskOptions
        @Argument(help: "The CSV file (UTF-8, ',' or ';' separated, with a header row).")
        var file: String

        func run() async throws {
            let config = try loadConfig(options)
            guard let data = FileManager.default.contents(atPath: file) else {
                fail("cannot read \(file)", code: 65)
            }
            // Reading the file, then writing the replica: each shows its progress on stderr (a bar on a
            // terminal, plain lines otherwise); stdout stays the summary.
            let reading = TerminalProgress.standardError(label: "read", unit: nil)
            let parsed: RegistryCSV.Result
            do { parsed = try RegistryCSV.parse(Array(data)) { lines, total in reading.update(lines, of: total) } } catch {
                fail("\(file): \(error)", code: 65)
            }
            reading.finish()
            let replica = try openReplica(config)
            let report: ImportReport
            let progress = TerminalProgress.standardError(label: "import", unit: "cards")
            do {
                report = try replica.importRegistry(parsed.rows) { done, total in progress.update(done, of: total) }
            } catch {
                progress.finish()
                fail("\(error)", code: 1)
            }
            progress.finish()
            let refused = (parsed.errors + report.refused).sorted { $0.line < $1.line }
            for error in refused {
                FileHandle.standardError.write(Data("\(file):\(error.line): refused: \(error.reason)\n".utf8))
            }
            print("imported \(report.cards) card(s) with \(report.entitlements) entitlement(s) into \(replica.path); \(refused.count) row(s) refused")
            if !refused.isEmpty { throw ExitCode(1) }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show what the replica holds.")
        @OptionGroup var options: KioskOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let config = try loadConfig(options)
            let replica = try openReplica(config)
            let stats: Replica.Stats
            do { stats = try replica.stats() } catch { fail("\(error)", code: 1) }
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.sortedKeys, .prettyPrinted]
                e.keyEncodingStrategy = .convertToSnakeCase
                e.dateEncodingStrategy = .iso8601
                print(String(decoding: try e.encode(stats), as: UTF8.self))
                return
            }
            print("replica:      \(replica.path)")
            print("cards:        \(stats.cards)  " + stats.cardsByStatus.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            print("holders:      \(stats.people)")
            print("entitlements: \(stats.entitlements)  " + stats.entitlementsByKind.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
            print("last sync:    \(stats.lastSyncAt.map { $0.formatted(.iso8601) } ?? "never")  cursor: \(stats.cursor.map(String.init) ?? "-")")
            print("last import:  \(stats.lastImportAt.map { $0.formatted(.iso8601) } ?? "never")")
        }
    }
}

func loadConfig(_ options: KioskOptions) throws -> KioskConfiguration {
    do { return try KioskConfiguration.load(file: options.config) } catch {
        fail("bad configuration: \(error)", code: 78)
    }
}

func openReplica(_ config: KioskConfiguration) throws -> Replica {
    do {
        try StateFiles.prepareDirectory(config.stateDirectory)
        return try Replica(path: config.replicaPath)
    } catch let error as ReplicaError {
        fail("\(error)", code: 1)
    } catch {
        fail("the state directory \(error)", code: 1)
    }
}

/// A request to the running kioskd's local API: at `address`, else the address it wrote to its state
/// directory, else the configured one; with its access token when the API is open beyond loopback.
func localAPIRequest(_ config: KioskConfiguration, address: String?, path: String) -> URLRequest {
    var target = address ?? config.httpAddress.description
    if address == nil, ProcessInfo.processInfo.environment["KIOSK_HTTP_ADDR"] == nil,
       let written = try? String(contentsOfFile: (config.stateDirectory as NSString).appendingPathComponent("http.addr"), encoding: .utf8) {
        target = written.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    guard let url = URL(string: "http://\(target)\(path)") else { fail("bad address \(target)", code: 1) }
    var request = URLRequest(url: url)
    if config.httpAllowRemote, let token = config.httpToken {
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    }
    return request
}

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("kioskctl: \(message)\n".utf8))
    exit(code)
}
