import Foundation
import Logging
import NIOCore
import PostgresNIO

/// PostgreSQL through postgres-nio's `PostgresClient` (a connection pool run by a background task).
///
/// Two pools: one for every call, one for snapshots (long reads streamed to slow kiosks), so that
/// token checks, feed pages and writes never wait behind a snapshot. A ``ResourcePool`` of permits in
/// front of each bounds the wait for a connection; past it, callers get
/// ``CentralStoreError/Code/busy`` (HTTP 503 with `Retry-After`) rather than hanging.
final class PostgresBackend: SQLBackend {
    let dialect = SQLDialect.postgres
    private let client: PostgresClient
    private let snapshotClient: PostgresClient
    private let permits: ResourcePool<Int>
    private let snapshotPermits: ResourcePool<Int>
    /// Writers that may hold a connection at once. Every write first locks the one feed row, so writers run
    /// one at a time anyway; without this gate a burst of writers would take every connection only to wait
    /// for that lock, and token checks and feed pages would wait behind them (a 1,000-kiosk fleet's polls
    /// had a p99 of 614 ms during request bursts).
    private let writerPermits: ResourcePool<Int>
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Connections for ordinary calls.
    static let maxConnections = 8
    /// Connections for snapshots.
    static let maxSnapshotConnections = 4
    /// Of the ``maxConnections``, how many writers may hold at once (one writing, one ready to go next).
    static let maxWriters = 2

    /// Connects lazily to the server named by `url` (`postgres://user[:pass]@host:port/db[?schema=NAME&sslmode=…]`).
    convenience init(url: URL, logger: Logger, maxWait: Duration = .seconds(5)) throws(CentralStoreError) {
        try self.init(settings: PostgresSettings(url: url.absoluteString, password: nil), logger: logger, maxWait: maxWait)
    }

    /// Connects lazily (a pool started by a background task) with `settings`.
    init(settings: PostgresSettings, logger: Logger, maxWait: Duration = .seconds(5)) {
        var config = settings.clientConfiguration()
        config.options.maximumConnections = Self.maxConnections
        var snapshotConfig = config
        snapshotConfig.options.maximumConnections = Self.maxSnapshotConnections
        snapshotConfig.options.minimumConnections = 0
        // The pool's own chatter (e.g. a lease racing the pool's start, which it then serves) is not
        // for the people running the CLI; failures still reach them as errors from each call.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: config, backgroundLogger: background)
        let snapshotClient = PostgresClient(configuration: snapshotConfig, backgroundLogger: background)
        self.client = client
        self.snapshotClient = snapshotClient
        permits = ResourcePool(Array(0..<Self.maxConnections), label: "database connections", maxWait: maxWait)
        snapshotPermits = ResourcePool(Array(0..<Self.maxSnapshotConnections), label: "snapshot connections", maxWait: maxWait)
        writerPermits = ResourcePool(Array(0..<Self.maxWriters), label: "database writers", maxWait: maxWait)
        self.logger = logger
        runner = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await client.run() }
                group.addTask { await snapshotClient.run() }
            }
        }
    }

    /// Whether `name` is safe to splice into SQL as a schema name.
    static func isValidSchema(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 48
            && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
    }

    func transaction<T>(_ kind: SQLTransactionKind, _ body: (any SQLConnection) async throws -> T) async throws -> T {
        if kind == .write {
            return try await writerPermits.with { _ in try await connected(kind, body) }
        }
        return try await connected(kind, body)
    }

    /// `body` in a transaction of `kind` on a connection of the pool for that kind.
    private func connected<T>(_ kind: SQLTransactionKind, _ body: (any SQLConnection) async throws -> T) async throws -> T {
        let (pool, gate) = kind == .snapshot ? (snapshotClient, snapshotPermits) : (client, permits)
        return try await gate.with { _ in
            try await pool.withConnection { connection in
                let wrapped = PostgresSQLConnection(connection: connection, logger: logger)
                // One statement sees one snapshot by itself (READ COMMITTED takes one per statement).
                if kind == .statement { return try await body(StatementConnection(wrapped)) }
                try await wrapped.execute(kind == .write ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                do {
                    let result = try await body(wrapped)
                    try await wrapped.execute("COMMIT")
                    return result
                } catch {
                    try? await wrapped.execute("ROLLBACK")
                    throw error
                }
            }
        }
    }

    func close() async {
        runner.cancel()
        await runner.value
    }
}

/// One PostgreSQL connection inside a transaction held by ``PostgresBackend``.
struct PostgresSQLConnection: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .null: bindings.appendNull()
            case .int(let v): bindings.append(v)
            case .real(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            }
        }
        let rows = try await connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: bindings), logger: logger)
        var out: [SQLRow] = []
        var columns: SQLColumns?
        for try await row in rows {
            let names = columns ?? SQLColumns(row.map(\.columnName))
            columns = names
            var cells: [SQLValue] = []
            cells.reserveCapacity(names.names.count)
            for cell in row {
                guard cell.bytes != nil else {
                    cells.append(.null)
                    continue
                }
                switch cell.dataType {
                case .int2, .int4, .int8: cells.append(.int(try cell.decode(Int64.self)))
                case .float4, .float8: cells.append(.real(try cell.decode(Double.self)))
                case .bool: cells.append(.int(try cell.decode(Bool.self) ? 1 : 0))
                default: cells.append(.text(try cell.decode(String.self)))
                }
            }
            out.append(SQLRow(columns: names, cells: cells))
        }
        return out
    }

    /// `COPY … FROM STDIN` in text format: one round trip for any number of rows.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) async throws {
        guard !rows.isEmpty else { return }
        try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
            var buffer = ByteBuffer()
            for row in rows {
                for (i, value) in row.enumerated() {
                    if i > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                    Self.writeCopyText(value, into: &buffer)
                }
                buffer.writeInteger(UInt8(ascii: "\n"))
                if buffer.readableBytes >= 1 << 16 {
                    try await writer.write(buffer)
                    buffer.clear()
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
    }

    /// One value in `COPY`'s text format: `\N` for NULL; backslash, tab, newline and carriage return escaped.
    static func writeCopyText(_ value: SQLValue, into buffer: inout ByteBuffer) {
        switch value {
        case .null: buffer.writeStaticString("\\N")
        case .int(let v): buffer.writeString(String(v))
        case .real(let v): buffer.writeString(String(v))
        case .text(let v):
            for byte in v.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
                case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
                case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
                case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
                default: buffer.writeInteger(byte)
                }
            }
        }
    }

    /// Turns `?` placeholders into `$1`, `$2`, … (the store's SQL has no `?` inside literals).
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 8)
        var n = 0
        for c in sql {
            if c == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(c)
            }
        }
        return out
    }
}
