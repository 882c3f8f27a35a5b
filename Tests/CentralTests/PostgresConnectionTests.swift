@testable import CentralStore
import CentralWire
import Foundation
import NIOSSL
import Testing

/// `--database postgres://…`: sslmode, and a password kept out of the URL.
@Suite("cus-central PostgreSQL connection settings")
struct PostgresConnectionTests {
    @Test("sslmode disable, prefer, require, verify-ca and verify-full map to postgres-nio's TLS; prefer is the default")
    func sslModes() throws {
        let base = "postgres://cus@db.example:5433/cus"
        #expect(try PostgresSettings(url: base, password: nil).sslMode == .prefer)
        #expect(try PostgresSettings(url: base + "?sslmode=disable", password: nil).tlsConfiguration == nil)
        for (mode, verification) in [("prefer", CertificateVerification.none), ("require", .none),
                                     ("verify-ca", .noHostnameVerification), ("verify-full", .fullVerification)] {
            let settings = try PostgresSettings(url: base + "?sslmode=\(mode)&schema=s1", password: "pw")
            #expect(settings.sslMode.rawValue == mode)
            #expect(settings.tlsConfiguration?.certificateVerification == verification, "\(mode)")
            #expect(settings.schema == "s1")
            #expect(settings.password == "pw")
            #expect(settings.port == 5433)
        }
        let full = try PostgresSettings(url: base + "?sslmode=verify-full&sslrootcert=/etc/cus/ca.pem", password: nil)
        #expect(full.sslRootCert == "/etc/cus/ca.pem" && full.host == "db.example")
    }

    @Test("an unknown sslmode, a stray parameter, sslrootcert without verification or a password given twice is refused clearly", arguments: [
        ("postgres://cus@h/db?sslmode=verify", "sslmode=verify is not supported; use one of disable, prefer, require, verify-ca, verify-full"),
        ("postgres://cus@h/db?sslmode=allow", "sslmode=allow is not supported"),
        ("postgres://cus@h/db?sslmod=require", "the URL parameter sslmod is not supported; use schema, sslmode, sslrootcert"),
        ("postgres://cus@h/db?sslmode=require&sslrootcert=/ca.pem", "sslrootcert is used only with sslmode=verify-ca or verify-full"),
        ("postgres://cus:secret@h/db", "the password is given twice"),
    ])
    func badSettings(_ url: String, _ expected: String) {
        do {
            _ = try PostgresSettings(url: url, password: "from-file")
            Issue.record("\(url) was accepted")
        } catch {
            #expect(error.code == .badDatabaseURL)
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("the CLI refuses an unknown sslmode before connecting")
    func cliUnknownSSLMode() async throws {
        let result = try await cusCentral(["kiosk", "add", "k1", "--database", "postgres://cus@127.0.0.1:1/db?sslmode=on"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("sslmode=on is not supported"), "\(result.stderr)")
    }

    @Test("a password file that group or others can read or write is refused; 0600 and 0400 are read")
    func passwordFileMode() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("password").path
        try "s3cret\n".write(toFile: file, atomically: true, encoding: .utf8)
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
            do {
                _ = try DatabasePassword.read(file: file)
                Issue.record("mode \(String(mode, radix: 8)) was accepted")
            } catch {
                #expect(error.message.contains("chmod 600"), "\(error.message)")
            }
        }
        for mode in [0o600, 0o400] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
            #expect(try DatabasePassword.read(file: file) == "s3cret")
        }
        let env = ["CUS_CENTRAL_DB_PASSWORD": "from-env", "PGPASSWORD": "from-pg"]
        #expect(try DatabasePassword.resolve(url: "postgres://u@h/db", file: file, environment: env) == "s3cret")
        #expect(try DatabasePassword.resolve(url: "postgres://u@h/db", file: nil, environment: env) == "from-env")
        #expect(try DatabasePassword.resolve(url: "postgres://u@h/db", file: nil, environment: ["PGPASSWORD": "from-pg"]) == "from-pg")
        #expect(try DatabasePassword.resolve(url: "postgres://u:p@h/db", file: nil, environment: ["PGPASSWORD": "from-pg"]) == nil)
        #expect(throws: CentralStoreError.self) { try DatabasePassword.resolve(url: "postgres://u:p@h/db", file: file, environment: [:]) }
    }

    @Test(
        "PostgreSQL: the password comes from a 0600 file or CUS_CENTRAL_DB_PASSWORD, a world-readable file is refused, sslmode is honoured",
        .enabled(if: TestBackend.postgresURL != nil, "skipped: CUS_TEST_POSTGRES_URL unset (run .ci/postgres)")
    )
    func postgresPasswordAndTLS() async throws {
        let schema = "pw_" + UUID().uuidString.prefix(8).lowercased()
        do {
            try await passwordAndTLS(schema: schema)
            try await dropSchema(schema)
        } catch {
            try? await dropSchema(schema)
            throw error
        }
    }

    func dropSchema(_ schema: String) async throws {
        let admin = try PostgresBackend(url: try #require(TestBackend.postgresURL.flatMap(URL.init(string:))), logger: testLogger)
        try? await admin.transaction(.write) { db in try await db.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        await admin.close()
    }

    func passwordAndTLS(schema: String) async throws {
        var components = try #require(TestBackend.postgresURL.flatMap(URLComponents.init(string:)))
        let password = try #require(components.password)
        components.password = nil
        let bare = try #require(components.url?.absoluteString)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("password").path
        try (password + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let clean = ["CUS_CENTRAL_DB_PASSWORD": "", "PGPASSWORD": ""]
        // No password anywhere: refused at once, saying where to put it.
        let none = try await cusCentral(["kiosk", "add", "k0", "--database", "\(bare)?schema=\(schema)"], environment: clean)
        #expect(none.status != 0)
        #expect(none.stderr.contains("password"), "\(none.stderr)")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        let open = try await cusCentral(["kiosk", "add", "k1", "--database", "\(bare)?schema=\(schema)", "--database-password-file", file], environment: clean)
        #expect(open.status != 0)
        #expect(open.stderr.contains("can be read or written by group or others (mode 644); run chmod 600"), "\(open.stderr)")

        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        let fromFile = try await cusCentral(["kiosk", "add", "k1", "--database", "\(bare)?schema=\(schema)&sslmode=disable", "--database-password-file", file], environment: clean)
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        #expect(fromFile.stdout.hasPrefix("cusk_"))

        let fromEnv = try await cusCentral(["kiosk", "add", "k2", "--database", "\(bare)?schema=\(schema)&sslmode=prefer"],
                                           environment: ["CUS_CENTRAL_DB_PASSWORD": password, "PGPASSWORD": ""])
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")

        // sslmode=require never falls back to plain text: against a server without TLS it is refused.
        let serverTLS = try await sslIsOn()
        let required = try await cusCentral(["kiosk", "add", "k3", "--database", "\(bare)?schema=\(schema)&sslmode=require", "--database-password-file", file], environment: clean)
        if serverTLS {
            #expect(required.status == 0, "\(required.stderr)")
        } else {
            #expect(required.status != 0)
            #expect(required.stderr.contains("does not offer TLS"), "\(required.stderr)")
        }
    }

    /// Whether the test server has `ssl = on`.
    func sslIsOn() async throws -> Bool {
        let admin = try PostgresBackend(url: try #require(TestBackend.postgresURL.flatMap(URL.init(string:))), logger: testLogger)
        let value = try await admin.transaction(.read) { db in try await db.one("SHOW ssl")?.optionalText("ssl") }
        await admin.close()
        return value == "on"
    }
}
