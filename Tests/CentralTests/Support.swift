import CardModel
import CentralAPI
@testable import CentralStore
import CentralWire
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import RegistryCSV
import Testing

/// The databases the tests run on: SQLite always, PostgreSQL when CUS_TEST_POSTGRES_URL is set.
///
/// Tests take `TestBackend.allCases` and call ``skipUnlessAvailable()`` first, so that without the URL
/// the PostgreSQL case shows as skipped ("skipped: CUS_TEST_POSTGRES_URL unset") instead of vanishing.
enum TestBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static var postgresURL: String? {
        guard let url = ProcessInfo.processInfo.environment["CUS_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// Skips (cancels) the current test case when this backend is not available, saying why.
    func skipUnlessAvailable() throws {
        if self == .postgres, Self.postgresURL == nil {
            // Swift Testing 6.3 lists a cancelled test case as passed, so say it in the output too.
            let name = Test.current?.displayName ?? Test.current?.name ?? "a test"
            print("⊘ skipped: CUS_TEST_POSTGRES_URL unset: \(name) [postgres]")
            try Test.cancel("skipped: CUS_TEST_POSTGRES_URL unset; run `source .ci/postgres` to test the central on PostgreSQL too")
        }
    }

    var testDescription: String { rawValue }
}

/// A fresh store (its own SQLite file or PostgreSQL schema), two kiosks and one member of staff.
struct Harness: Sendable {
    let store: any CentralStore
    let kioskA: String
    let kioskB: String
    let staff: String
}

let testLogger: Logger = {
    var l = Logger(label: "central-tests")
    l.logLevel = .critical
    return l
}()

/// Runs `body` against a fresh store on `backend`, removing the store afterwards.
func withStore<T>(_ backend: TestBackend, _ body: (any CentralStore) async throws -> T) async throws -> T {
    switch backend {
    case .sqlite:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("central-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await openCentralStore("sqlite:\(dir.appendingPathComponent("central.db").path)", logger: testLogger)
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    case .postgres:
        guard let base = TestBackend.postgresURL, let baseURL = URL(string: base) else {
            throw CentralStoreError(.unavailable, "CUS_TEST_POSTGRES_URL is not set")
        }
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let store = try await openCentralStore("\(base)?schema=\(schema)", logger: testLogger)
        func dropSchema() async {
            await store.close()
            if let admin = try? PostgresBackend(url: baseURL, logger: testLogger) {
                try? await admin.transaction(.write) { db in try await db.execute("DROP SCHEMA \(schema) CASCADE") }
                await admin.close()
            }
        }
        do {
            let result = try await body(store)
            await dropSchema()
            return result
        } catch {
            await dropSchema()
            throw error
        }
    }
}

/// Runs `body` against a live server on a free port over a fresh store.
func withServer(_ backend: TestBackend, _ body: @escaping @Sendable (Harness, any TestClientProtocol) async throws -> Void) async throws {
    try await withStore(backend) { store in
        let harness = Harness(
            store: store,
            kioskA: try await store.enrol(.kiosk, name: "skalka-1"),
            kioskB: try await store.enrol(.kiosk, name: "lazy-mobile"),
            staff: try await store.enrol(.staff, name: "kipus-anna")
        )
        let app = CentralAPI.application(
            store: store, configuration: .init(address: .hostname("127.0.0.1", port: 0)), retention: nil, logger: testLogger
        )
        try await app.test(.live) { client in try await body(harness, client) }
    }
}

/// A response's status and JSON body.
struct Reply: Sendable {
    var status: Int
    var json: JSONValue
    var body: ByteBuffer
}

extension TestClientProtocol {
    /// Sends `body` (JSON text) with `token`, and reads the JSON answer.
    func call(_ methodName: String, _ uri: String, token: String? = nil, body: String? = nil) async throws -> Reply {
        guard let method = HTTPRequest.Method(methodName) else { throw CentralStoreError(.invalid, "bad method") }
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))) ?? .null
        return Reply(status: Int(response.status.code), json: json, body: response.body)
    }
}

extension JSONValue {
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var number: Double? { if case .number(let n) = self { n } else { nil } }
    var int: Int64? { number.map { Int64($0) } }
    var array: [JSONValue] { if case .array(let a) = self { a } else { [] } }
    var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    subscript(index: Int) -> JSONValue? { array.indices.contains(index) ? array[index] : nil }
}

/// A small registry: three people, four card numbers, one replaced chip.
let registryCSV = """
    card_number,uid,entitlement,role,first_name,last_name,valid_from,valid_until,status
    SEN-0001,04:A2:24:1A:7B:5C:80,senior60,,Anna,Kowalska,2024-01-01,,active
    SEN-0001,04:A2:24:1A:7B:5C:80,disability,,Anna,Kowalska,2024-01-01,2027-12-31,active
    KDR-1001,,large_family,parent,Jan,Nowak,2023-05-01,,active
    KDR-1002,04:11:22:33:44:55:66,large_family,child,Ola,Nowak,2023-05-01,2030-06-30,active
    KDR-1002,04:11:22:33:44:55:01,large_family,child,Ola,Nowak,2023-05-01,2030-06-30,lost

    """

/// A UUIDv7-shaped key for tests.
func uuid7() -> String {
    var s = UUID().uuidString.lowercased()
    let i14 = s.index(s.startIndex, offsetBy: 14)
    s.replaceSubrange(i14...i14, with: "7")
    let i19 = s.index(s.startIndex, offsetBy: 19)
    s.replaceSubrange(i19...i19, with: "8")
    return s
}

/// Imports `registryCSV` and returns the parser's result.
@discardableResult
func importSample(_ store: any CentralStore) async throws -> RegistryImportReport {
    let parsed = try RegistryCSV.parse(Array(registryCSV.utf8))
    #expect(parsed.errors.isEmpty)
    return try await store.importRegistry(parsed.rows)
}
