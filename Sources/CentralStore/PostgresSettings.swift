import Foundation
import Logging
import NIOSSL
import PostgresNIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How to reach PostgreSQL: a `postgres://user@host:port/db?sslmode=…&schema=…` URL and a password
/// that need not be in the URL.
struct PostgresSettings: Sendable {
    /// `sslmode` as libpq spells it (`allow` is not offered: it tries plain text first).
    enum SSLMode: String, Sendable, CaseIterable {
        /// Plain text only.
        case disable
        /// TLS when the server offers it (certificate not checked), else plain text. The default, as libpq.
        case prefer
        /// TLS or no connection; the certificate is not checked (protects against eavesdropping only).
        case require
        /// TLS with a certificate signed by a trusted CA (`sslrootcert`, else the system's roots); any host name.
        case verifyCA = "verify-ca"
        /// TLS with a trusted certificate for the URL's host name: the only mode that stops an impostor.
        case verifyFull = "verify-full"
    }

    /// The query parameters a URL may carry.
    static let parameters = ["schema", "sslmode", "sslrootcert"]

    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String
    var schema: String?
    var sslMode: SSLMode
    var sslRootCert: String?

    /// Reads `url`; `password` (from a file or the environment) is used when the URL has none.
    ///
    /// - Throws: `badDatabaseURL` for anything that cannot be used, saying what to write instead.
    init(url text: String, password explicit: String?) throws(CentralStoreError) {
        guard let components = URLComponents(string: text) else { throw .badDatabaseURL("cannot read the PostgreSQL URL") }
        guard let host = components.host, !host.isEmpty else { throw .badDatabaseURL("the PostgreSQL URL has no host") }
        guard let user = components.user?.removingPercentEncoding, !user.isEmpty else { throw .badDatabaseURL("the PostgreSQL URL has no user") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard let database = path.removingPercentEncoding, !database.isEmpty else {
            throw .badDatabaseURL("the PostgreSQL URL names no database, e.g. postgres://cus@127.0.0.1:5432/cus")
        }
        let inURL = components.password?.removingPercentEncoding
        if inURL != nil, explicit != nil {
            throw .badDatabaseURL("the password is given twice, in the URL and in a file or the environment; keep it out of the URL")
        }
        var schema: String?
        var sslMode = SSLMode.prefer
        var rootCert: String?
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "schema":
                guard PostgresBackend.isValidSchema(value) else { throw .badDatabaseURL("schema must be lower-case letters, digits and _") }
                schema = value
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw .badDatabaseURL("sslmode=\(InputRules.echo(value)) is not supported; use one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert":
                guard !value.isEmpty else { throw .badDatabaseURL("sslrootcert needs the path of a PEM file of CA certificates") }
                rootCert = value
            default:
                throw .badDatabaseURL("the URL parameter \(InputRules.echo(item.name)) is not supported; use \(Self.parameters.joined(separator: ", "))")
            }
        }
        if rootCert != nil, sslMode != .verifyCA, sslMode != .verifyFull {
            throw .badDatabaseURL("sslrootcert is used only with sslmode=verify-ca or verify-full")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = user
        self.password = inURL ?? explicit
        self.database = database
        self.schema = schema
        self.sslMode = sslMode
        self.sslRootCert = rootCert
    }

    /// `host:port`, for messages.
    var address: String { "\(host):\(port)" }

    /// NIOSSL's client configuration for ``sslMode``, or `nil` for `disable`.
    var tlsConfiguration: TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return nil
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let sslRootCert { tls.trustRoots = .file(sslRootCert) }
        return tls
    }

    /// The pool's TLS setting.
    var clientTLS: PostgresClient.Configuration.TLS {
        guard let tls = tlsConfiguration else { return .disable }
        return sslMode == .prefer ? .prefer(tls) : .require(tls)
    }

    /// The settings of the pool for this URL.
    func clientConfiguration() -> PostgresClient.Configuration {
        var config = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: clientTLS)
        if sslMode == .verifyFull { config.options.tlsServerName = host }
        if let schema { config.options.additionalStartupParameters = [("search_path", schema)] }
        return config
    }

    /// Connects once, straight (not through a pool, which would retry for a minute), so that a wrong
    /// password, a server without TLS or an untrusted certificate is told at once; and checks that
    /// commits are durable (`synchronous_commit` is not `off`).
    func probe(logger: Logger) async throws(CentralStoreError) {
        let tls: PostgresConnection.Configuration.TLS
        do {
            if let configuration = tlsConfiguration {
                let context = try NIOSSLContext(configuration: configuration)
                tls = sslMode == .prefer ? .prefer(context) : .require(context)
            } else {
                tls = .disable
            }
        } catch {
            throw .badDatabaseURL("cannot set up TLS for PostgreSQL (sslrootcert \(sslRootCert ?? "-")): \(error)")
        }
        var config = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        config.options.connectTimeout = .seconds(10)
        if sslMode == .verifyFull { config.options.tlsServerName = host }
        let commit: String?
        do {
            let connection = try await PostgresConnection.connect(configuration: config, id: 0, logger: logger)
            do {
                var value: String?
                for try await row in try await connection.query("SHOW synchronous_commit", logger: logger) {
                    value = try row.decode(String.self)
                }
                commit = value
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            throw .unavailable("cannot connect to PostgreSQL at \(address) as \(user) (sslmode=\(sslMode.rawValue)): \(Self.explain(error))")
        }
        if commit == "off" {
            throw .unavailable(
                "PostgreSQL runs with synchronous_commit = off for this role or database, so a commit can be lost after the central answered; "
                    + "set it back (e.g. ALTER ROLE \(user) SET synchronous_commit = on) and start again"
            )
        }
    }

    /// What went wrong connecting, in words that say what to check.
    static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return String(describing: error) }
        if error.code == .sslUnsupported {
            return "the server does not offer TLS; enable ssl in postgresql.conf, or use sslmode=prefer/disable on a trusted network"
        }
        if error.code == .authMechanismRequiresPassword {
            return "the server asks for a password and none was given; put it in a file (mode 0600) named by --database-password-file, or in CUS_CENTRAL_DB_PASSWORD"
        }
        if let message = error.serverInfo?[.message] {
            return message + (message.contains("password") ? " (give the password with --database-password-file or CUS_CENTRAL_DB_PASSWORD)" : "")
        }
        if let underlying = error.underlying { return String(describing: underlying) }
        return "\(error.code); check that the server runs and accepts this user"
    }
}

/// Where `cus-central` takes the database password from, so that it need not be in the URL (and so
/// in `ps` output, shell history and systemd unit files).
public enum DatabasePassword {
    /// The environment variable read first.
    public static let environmentVariable = "CUS_CENTRAL_DB_PASSWORD"
    /// The environment variable read last, as libpq does.
    public static let libpqEnvironmentVariable = "PGPASSWORD"

    /// The password for `url`: from `file` (mode 0600 or 0400) when given, else `CUS_CENTRAL_DB_PASSWORD`,
    /// else none (the URL's own, if any), else `PGPASSWORD` when the URL has none.
    ///
    /// - Throws: `badDatabaseURL` when the file cannot be used, or the URL also holds a password.
    public static func resolve(url: String, file: String?, environment: [String: String]) throws(CentralStoreError) -> String? {
        let urlHasPassword = URLComponents(string: url)?.password != nil
        if let file {
            if urlHasPassword { throw .badDatabaseURL("the password is given twice, in the URL and in --database-password-file; keep it out of the URL") }
            return try read(file: file)
        }
        if let value = environment[environmentVariable], !value.isEmpty {
            if urlHasPassword { throw .badDatabaseURL("the password is given twice, in the URL and in \(environmentVariable); keep it out of the URL") }
            return value
        }
        if !urlHasPassword, let value = environment[libpqEnvironmentVariable], !value.isEmpty { return value }
        return nil
    }

    /// The password in `file`: its first line. Refuses a file that group or others may read or write.
    public static func read(file: String) throws(CentralStoreError) -> String {
        var info = stat()
        guard stat(file, &info) == 0 else {
            throw CentralStoreError(.badDatabaseURL, "cannot read the password file \(file); give the path of a file holding only the password")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CentralStoreError(.badDatabaseURL, "the password file \(file) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CentralStoreError(
                .badDatabaseURL,
                "the password file \(file) can be read or written by group or others (mode \(String(mode, radix: 8))); run chmod 600 \(file)"
            )
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CentralStoreError(.badDatabaseURL, "cannot read the password file \(file); check that this user owns it")
        }
        let text = String(decoding: data, as: UTF8.self)
        let line = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).first.map(String.init) ?? ""
        guard !line.isEmpty else { throw CentralStoreError(.badDatabaseURL, "the password file \(file) is empty") }
        return line
    }
}
