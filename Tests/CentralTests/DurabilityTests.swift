@testable import CentralStore
import CentralWire
import Foundation
import Testing

@Suite("cus-central durability")
struct DurabilityTests {
    @Test("the SQLite writer connection itself runs PRAGMA synchronous = FULL in WAL mode")
    func sqliteWriterIsSynchronousFull() async throws {
        try await withStore(.sqlite) { store in
            let backend = try #require((store as? RelationalCentralStore)?.backend as? SQLiteBackend)
            #expect(try await backend.writerPragma("journal_mode") == "wal")
            // 2 is FULL: the WAL is fsync'ed at every commit, before the central answers `accepted`.
            #expect(try await backend.writerPragma("synchronous") == String(SQLiteBackend.synchronousFull))
        }
    }

    @Test(
        "PostgreSQL: a role with synchronous_commit = off is refused, the test role commits durably",
        .enabled(if: TestBackend.postgresURL != nil, "skipped: CUS_TEST_POSTGRES_URL unset (run .ci/postgres)")
    )
    func postgresRefusesAsynchronousCommit() async throws {
        try await withStore(.postgres) { store in
            let backend = try #require((store as? RelationalCentralStore)?.backend)
            let value = try await backend.transaction(.read) { db in try await db.one("SHOW synchronous_commit")?.optionalText("synchronous_commit") }
            #expect(value != "off")
        }
        let base = try #require(TestBackend.postgresURL.flatMap(URLComponents.init(string:)))
        let role = "cus_async_" + UUID().uuidString.prefix(8).lowercased()
        let admin = try PostgresBackend(url: try #require(base.url), logger: testLogger)
        try await admin.transaction(.write) { db in
            try await db.execute("CREATE ROLE \(role) LOGIN PASSWORD 'cus' SUPERUSER")
            try await db.execute("ALTER ROLE \(role) SET synchronous_commit = off")
        }
        var url = base
        url.user = role
        url.password = "cus"
        let schema = "a_" + UUID().uuidString.prefix(8).lowercased()
        let asyncURL = try #require(url.url)
        do {
            let store = try await openCentralStore("\(asyncURL)?schema=\(schema)", logger: testLogger)
            await store.close()
            Issue.record("a store whose commits are not durable was opened")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("synchronous_commit"), "\(error.message)")
        }
        try await admin.transaction(.write) { db in
            try await db.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            try await db.execute("DROP ROLE \(role)")
        }
        await admin.close()
    }
}
