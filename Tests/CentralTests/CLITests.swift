@testable import CentralStore
import CentralWire
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The `cus-central` binary built beside this test bundle.
let centralBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cus-central")

/// What one run of `cus-central` printed and how it ended.
struct CLIResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `cus-central ARGS…` to completion on a Dispatch thread: waiting for a child blocks, and
/// blocking the few cooperative threads can starve an in-process store the child is waiting for.
func cusCentral(_ arguments: [String], environment: [String: String] = [:]) async throws -> CLIResult {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runBlocking(arguments, environment: environment) })
        }
    }
}

func runBlocking(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let process = Process()
    process.executableURL = centralBinary
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting, so a full pipe never blocks the child.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}

/// A database URL for the CLI on `backend` (a fresh SQLite file or PostgreSQL schema); removed afterwards.
func withDatabaseURL(_ backend: TestBackend, _ body: (String, URL) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("central-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    switch backend {
    case .sqlite:
        try await body("sqlite:\(dir.appendingPathComponent("central.db").path)", dir)
    case .postgres:
        guard let base = TestBackend.postgresURL, let baseURL = URL(string: base) else {
            throw CentralStoreError(.unavailable, "CUS_TEST_POSTGRES_URL is not set")
        }
        let schema = "c_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        func drop() async {
            if let admin = try? PostgresBackend(url: baseURL, logger: testLogger) {
                try? await admin.transaction(.write) { db in try await db.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
                await admin.close()
            }
        }
        do {
            try await body("\(base)?schema=\(schema)", dir)
            await drop()
        } catch {
            await drop()
            throw error
        }
    }
}

/// A `cus-central serve` process on a free loopback port.
final class ServeProcess: Sendable {
    let process: Process
    let port: Int

    init(database: String, dir: URL) async throws {
        let addressFile = dir.appendingPathComponent("address-\(UUID().uuidString)")
        let process = Process()
        process.executableURL = centralBinary
        process.arguments = ["serve", "--database", database, "--listen", "127.0.0.1:0", "--address-file", addressFile.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if let text = try? String(contentsOf: addressFile, encoding: .utf8),
               let colon = text.lastIndex(of: ":"),
               let port = Int(text[text.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)) {
                self.port = port
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw CentralStoreError(.unavailable, "cus-central serve did not write its address")
    }

    /// `GET uri` with `token`; the status code.
    func status(_ uri: String, token: String) async throws -> Int {
        let client = TestClient(host: "127.0.0.1", port: port)
        client.connect()
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        let response = try await client.get(uri, headers: headers)
        try await client.shutdown()
        return Int(response.status.code)
    }

    /// `GET uri` with `token`; the JSON body.
    func json(_ uri: String, token: String) async throws -> JSONValue {
        let client = TestClient(host: "127.0.0.1", port: port)
        client.connect()
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        let response = try await client.get(uri, headers: headers)
        try await client.shutdown()
        return try JSONDecoder().decode(JSONValue.self, from: Data((response.body ?? ByteBuffer()).readableBytesView))
    }

    /// Stops the server (SIGTERM) and waits for it on a Dispatch thread.
    func stop() async {
        let process = process
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.terminate()
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}

@Suite("cus-central command line")
struct CLITests {
    @Test("the binary is built beside the tests")
    func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: centralBinary.path), "build cus-central first: swift build --build-tests")
    }

    @Test("registry import reports FILE:LINE: refused: reason, exits 1, and re-imports idempotently", arguments: TestBackend.allCases)
    func registryImport(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, dir in
            let csv = dir.appendingPathComponent("cards.csv")
            try """
                card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status
                SEN-0001,04:A2:24:1A:7B:5C:80,senior60,,Anna,Kowalska,2024-01-01,,active
                SEN-0002,04:A2:24:1A:7B:5C:81,nonsense,,Jan,Nowak,2024-01-01,,active
                SEN-0003,04:A2:24:1A:7B:5C:80,senior60,,Ola,Nowak,2024-01-01,,active

                """.write(to: csv, atomically: true, encoding: .utf8)
            let first = try await cusCentral(["registry", "import", csv.path, "--database", db])
            #expect(first.status == 1)
            // Besides the progress lines ("read: 100 %", "import: 2/2 cards (100 %)").
            let lines = first.stderr.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("read: ") && !$0.hasPrefix("import: ") }
            #expect(lines.count == 2, "one line per refused row: \(first.stderr)")
            #expect(lines.first?.hasPrefix("\(csv.path):3: refused: ") == true, "\(lines)")
            #expect(lines.last?.hasPrefix("\(csv.path):4: refused: ") == true, "\(lines)")
            #expect(first.stdout.contains("imported 1 card numbers, 1 feed changes, 2 rows refused"), "\(first.stdout)")

            let again = try await cusCentral(["registry", "import", csv.path, "--database", db])
            #expect(again.status == 1)
            #expect(again.stderr == first.stderr)
            #expect(again.stdout.contains("imported 1 card numbers, 0 feed changes, 2 rows refused"), "\(again.stdout)")
        }
    }

    @Test("kiosk add prints a token that serve accepts; kiosk revoke makes it 401; card revoke reaches the feed", arguments: TestBackend.allCases)
    func tokensAndFeed(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, dir in
            let csv = dir.appendingPathComponent("cards.csv")
            try registryCSV.write(to: csv, atomically: true, encoding: .utf8)
            #expect(try await cusCentral(["registry", "import", csv.path, "--database", db]).status == 0)

            let added = try await cusCentral(["kiosk", "add", "skalka-1", "--database", db])
            #expect(added.status == 0)
            let token = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.hasPrefix("cusk_") && !token.contains("\n"), "exactly one token on stdout")
            #expect(!added.stderr.contains(token), "the token is printed once, on stdout only")
            #expect(try await cusCentral(["kiosk", "add", "skalka-1", "--database", db]).status != 0, "a second add does not print a new token")

            let server = try await ServeProcess(database: db, dir: dir)
            do {
                let page = try await server.json("/v1/registry/changes?after=0&limit=1000", token: token)
                let head = page["next_after"]?.int ?? -1
                #expect(head > 0)
                #expect(try await server.status("/v1/registry/changes", token: "cusk_wrong") == 401)

                let revokedCard = try await cusCentral(["card", "revoke", "sen 0001", "--database", db])
                #expect(revokedCard.status == 0, "\(revokedCard.stderr)")
                #expect(revokedCard.stdout.contains("…0001 is revoked"), "\(revokedCard.stdout)")
                #expect(!revokedCard.stdout.contains("SEN0001"), "the full number is never printed")
                let after = try await server.json("/v1/registry/changes?after=\(head)", token: token)
                let changes = after["changes"]?.array ?? []
                #expect(changes.contains { $0["card"]?["number"]?.string == "SEN0001" && $0["card"]?["status"]?.string == "revoked" })

                let revoked = try await cusCentral(["kiosk", "revoke", "skalka-1", "--database", db])
                #expect(revoked.status == 0)
                #expect(try await server.status("/v1/registry/changes", token: token) == 401)
                await server.stop()
            } catch {
                await server.stop()
                throw error
            }
            #expect(try await cusCentral(["kiosk", "revoke", "nobody", "--database", db]).status != 0)
        }
    }

    @Test("requests list --json prints the inbox", arguments: TestBackend.allCases)
    func requestsList(_ backend: TestBackend) async throws {
        try backend.skipUnlessAvailable()
        try await withDatabaseURL(backend) { db, _ in
            let empty = try await cusCentral(["requests", "list", "--json", "--database", db])
            #expect(empty.status == 0)
            let emptyJSON = try JSONDecoder().decode(JSONValue.self, from: Data(empty.stdout.utf8))
            #expect(emptyJSON["requests"]?.array.isEmpty == true)

            let store = try await openCentralStore(db, logger: testLogger)
            try await importSample(store)
            let kiosk = try await store.enrol(.kiosk, name: "skalka-1")
            guard let principal = try await store.authenticate(token: kiosk) else {
                await store.close()
                Issue.record("the kiosk token does not authenticate")
                return
            }
            let key = uuid7()
            _ = try await store.submitRequests([RequestItem.validate(.object([
                "idempotency_key": .string(key), "kiosk_seq": .number(1), "created_at": .string("2025-03-01T10:15:00Z"),
                "service": .string("senior_taxi"), "card_number": .string("SEN-0001"),
            ]))], from: principal)
            await store.close()

            let listed = try await cusCentral(["requests", "list", "--json", "--database", db])
            #expect(listed.status == 0, "\(listed.stderr)")
            let json = try JSONDecoder().decode(JSONValue.self, from: Data(listed.stdout.utf8))
            let first = json["requests"]?[0]
            #expect(first?["idempotency_key"]?.string == key)
            #expect(first?["kiosk"]?.string == "skalka-1")
            #expect(first?["status"]?.string == "received")
            #expect(try await cusCentral(["requests", "list", "--status", "nonsense", "--database", db]).status != 0)
        }
    }

    @Test("a bad --database URL is refused with a clear message", arguments: [
        // (An unreachable PostgreSQL is also refused with "cannot reach PostgreSQL at HOST:PORT", but only after
        // postgres-nio gives up retrying, about a minute: too slow for this suite.)
        "mysql://x@localhost/db", "sqlite:", "postgres://x@localhost/db?schema=Bad-Name", "postgres://localhost/db",
    ])
    func badDatabase(_ url: String) async throws {
        let result = try await cusCentral(["kiosk", "add", "skalka-1", "--database", url])
        #expect(result.status != 0)
        #expect(result.stderr.hasPrefix("cus-central: "), "\(result.stderr)")
        #expect(result.stderr.contains("Use sqlite:/path/central.db or postgres://user@host:port/db"), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "no token for a database that cannot be used")
    }
}
