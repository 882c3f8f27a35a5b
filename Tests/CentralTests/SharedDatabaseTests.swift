@testable import CentralStore
import CentralWire
import Foundation
import Testing

/// What one central process keeps in memory must not hide what another wrote to the same database.
@Suite("two stores on one database")
struct SharedDatabaseTests {
    @Test("a catalogue another process published is the one the next request is judged by (a kept catalogue is kept per version)")
    func catalogueFromAnotherProcess() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("central-shared-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = "sqlite:\(dir.appendingPathComponent("central.db").path)"
        let intake = try await openCentralStore(url, logger: testLogger)
        let admin = try await openCentralStore(url, logger: testLogger)
        defer { Task { await intake.close(); await admin.close() } }
        _ = try await importSample(intake)
        let token = try await intake.enrol(.kiosk, name: "skalka-1")
        let kiosk = try #require(try await intake.authenticate(token: token))

        func theatre(_ seq: Int) async throws -> RequestResult {
            let results = try await intake.submitRequests([RequestItem.validate(item("theatre_trips", card: "SEN-0001", seq: seq))], from: kiosk)
            return try #require(results.first)
        }
        let before = try await theatre(1)
        #expect(before.outcome == .accepted && before.status == .received, "theatre trips are offered: \(before)")

        // The other process withdraws the service.
        var catalogue = try await admin.catalogue()
        let index = try #require(catalogue.services.firstIndex { $0.id == "theatre_trips" })
        catalogue.services[index].offered = false
        _ = try await admin.publishCatalogue(catalogue, by: "test")

        let after = try await theatre(2)
        #expect(after.status == .declined && after.statusReason?.code == "service_withdrawn", "judged by the catalogue just published: \(after)")
    }

    @Test("a single-statement read refuses a second statement, which would not see the same point in time")
    func singleStatementReadRefusesASecond() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("central-statement-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let backend = try SQLiteBackend(path: dir.appendingPathComponent("central.db").path)
        let one = try await backend.transaction(.statement) { db in try await db.query("SELECT 1 AS n", []) }
        #expect(one.first?.optionalInt("n") == 1)
        await #expect(throws: CentralStoreError.self) {
            try await backend.transaction(.statement) { db in
                _ = try await db.query("SELECT 1 AS n", [])
                _ = try await db.query("SELECT 2 AS n", [])
            }
        }
    }
}
