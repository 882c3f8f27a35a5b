import Foundation
import GRDB

/// SQLite through GRDB: one writer connection, a few readers, and a few more readers for snapshots; WAL mode.
///
/// GRDB runs a transaction inside one synchronous closure, but the store's transactions are
/// async (they must also run on PostgreSQL), so each connection is a `DatabaseQueue` with
/// `allowsUnsafeTransactions` and the transaction is opened and closed by hand while the
/// connection is held from a ``ResourcePool``: nothing else can use it in between. Statements run
/// on each connection's own dispatch queue (GRDB's async access), never on Swift's cooperative
/// threads, so a slow query cannot stall the HTTP server's other tasks.
final class SQLiteBackend: SQLBackend {
    let dialect = SQLDialect.sqlite
    let path: String
    private let writer: ResourcePool<SQLiteConnection>
    private let readers: ResourcePool<SQLiteConnection>
    /// Long snapshot reads get connections of their own: they never hold a reader the token checks need.
    private let snapshotReaders: ResourcePool<SQLiteConnection>

    /// Opens (creating if needed) the database at `path`.
    init(path: String, readerCount: Int = 4, snapshotReaderCount: Int = 4, maxWait: Duration = .seconds(5)) throws(CentralStoreError) {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw .unavailable("\(path) is a directory; pass the path of a database file, e.g. sqlite:/var/lib/cus-central/central.db")
        }
        func configuration(readonly: Bool) -> Configuration {
            var config = Configuration()
            config.label = readonly ? "central-reader" : "central-writer"
            config.readonly = readonly
            config.busyMode = .timeout(10)
            config.allowsUnsafeTransactions = true
            return config
        }
        do {
            let w = try DatabaseQueue(path: path, configuration: configuration(readonly: false))
            try w.inDatabase { db in
                let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                if mode?.lowercased() != "wal" { throw CentralStoreError.unavailable("\(path): cannot switch SQLite to WAL mode") }
                // A kiosk deletes its copy of a request once the central says `accepted`, so every
                // commit must reach the disk before the answer. SQLite's default for WAL mode is a
                // compile-time choice (Debian: FULL; Apple's SQLite and GRDB's DatabasePool: NORMAL,
                // which can lose the last commits on power loss): set it here, on the writer itself,
                // after the switch to WAL, and check that it held.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                try db.execute(sql: "PRAGMA fullfsync = ON")
                // The one writer's page cache (taken as used): a large import's transaction stays in memory instead
                // of spilling into the WAL and reading its own pages back (a 200,000-row import: 2 MiB spilled 0.8 s).
                try db.execute(sql: "PRAGMA cache_size = -\(Self.writerCacheKiB)")
                guard try Int.fetchOne(db, sql: "PRAGMA synchronous") == Self.synchronousFull else {
                    throw CentralStoreError.unavailable("\(path): SQLite refused PRAGMA synchronous = FULL; the central cannot promise durable commits")
                }
            }
            writer = ResourcePool([SQLiteConnection(queue: w)], label: "database writers", maxWait: maxWait)
            var rs: [SQLiteConnection] = []
            for _ in 0..<max(1, readerCount) {
                rs.append(SQLiteConnection(queue: try DatabaseQueue(path: path, configuration: configuration(readonly: true))))
            }
            readers = ResourcePool(rs, label: "database readers", maxWait: maxWait)
            var ss: [SQLiteConnection] = []
            var snapshotConfiguration = configuration(readonly: true)
            snapshotConfiguration.prepareDatabase { db in
                // A snapshot reads the whole registry: through the OS's page cache mapped in, not a read() per page
                // (those copies were a quarter of the central's time serving a 1 M-card snapshot).
                try db.execute(sql: "PRAGMA mmap_size = \(Self.snapshotMapBytes)")
            }
            for _ in 0..<max(1, snapshotReaderCount) {
                ss.append(SQLiteConnection(queue: try DatabaseQueue(path: path, configuration: snapshotConfiguration)))
            }
            snapshotReaders = ResourcePool(ss, label: "snapshot connections", maxWait: maxWait)
        } catch let error as CentralStoreError {
            throw error
        } catch {
            throw .unavailable("cannot open the SQLite database \(path): \(error). Check that the folder exists and is writable.")
        }
    }

    /// The writer's page cache, in KiB.
    static let writerCacheKiB = 65_536

    /// How much of the database file a snapshot connection maps into memory (address space, not memory used).
    static let snapshotMapBytes = 8 << 30

    /// `PRAGMA synchronous` value of FULL: every commit is fsync'ed before it returns.
    static let synchronousFull = 2

    /// Reads `PRAGMA name` on the writer connection itself (for tests: readers are other connections).
    func writerPragma(_ name: String) async throws -> String? {
        try await writer.with { connection in
            try connection.queue.inDatabase { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
        }
    }

    func transaction<T>(_ kind: SQLTransactionKind, _ body: (any SQLConnection) async throws -> T) async throws -> T {
        let pool = switch kind {
        case .write: writer
        case .read, .statement: readers
        case .snapshot: snapshotReaders
        }
        return try await pool.with { connection in
            // The whole transaction runs on the connection's own thread: its statements are plain calls there,
            // not a hop to SQLite's thread and back to Swift's pool for each (those hops were half of a
            // registry import's time), and the cooperative pool never waits on SQLite.
            try await withTaskExecutorPreference(connection.executor) {
                // A single statement is atomic by itself in SQLite's autocommit mode.
                if kind == .statement { return try await body(StatementConnection(connection)) }
                try await connection.execute(kind == .write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
                do {
                    let result = try await body(connection)
                    try await connection.execute("COMMIT")
                    return result
                } catch {
                    // Synchronously, so that a cancelled task still closes the transaction before the
                    // connection goes back to the pool.
                    try? connection.queue.inDatabase { db in
                        if db.isInsideTransaction { try db.execute(sql: "ROLLBACK") }
                    }
                    throw error
                }
            }
        }
    }

    func close() async {
        // DatabaseQueue closes its connection when released.
    }
}

/// One SQLite connection of ``SQLiteBackend``, with the thread its transactions run on.
struct SQLiteConnection: SQLConnection {
    let queue: DatabaseQueue
    /// Where a transaction's code runs (see ``SQLiteBackend/transaction(_:_:)``).
    let executor: ConnectionExecutor

    init(queue: DatabaseQueue) {
        self.queue = queue
        executor = ConnectionExecutor(label: queue.configuration.label ?? "central-sqlite")
    }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        // On the connection's own thread when called from its transaction (the task prefers its executor); a
        // caller elsewhere gets there through GRDB's queue. Never on Swift's cooperative thread pool.
        guard executor.isCurrent else {
            return try await queue.writeWithoutTransaction { db in try Self.run(sql, binds, db) }
        }
        return try queue.inDatabase { db in try Self.run(sql, binds, db) }
    }

    private static func run(_ sql: String, _ binds: [SQLValue], _ db: Database) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let arguments = StatementArguments(binds.map { value -> DatabaseValue in
            switch value {
            case .null: .null
            case .int(let v): v.databaseValue
            case .real(let v): v.databaseValue
            case .text(let v): v.databaseValue
            }
        })
        let columns = SQLColumns(statement.columnNames)
        var rows: [SQLRow] = []
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try cursor.next() {
            var cells: [SQLValue] = []
            cells.reserveCapacity(columns.names.count)
            for index in 0..<columns.names.count {
                switch (row[index] as DatabaseValue).storage {
                case .null: cells.append(.null)
                case .int64(let v): cells.append(.int(v))
                case .double(let v): cells.append(.real(v))
                case .string(let v): cells.append(.text(v))
                case .blob(let d): cells.append(.text(String(decoding: d, as: UTF8.self)))
                }
            }
            rows.append(SQLRow(columns: columns, cells: cells))
        }
        return rows
    }
}

/// A serial executor over one dispatch queue: the thread a connection's transactions run on, where a blocking
/// SQLite call holds up nothing but that connection.
final class ConnectionExecutor: TaskExecutor {
    private let queue: DispatchQueue
    private let key = DispatchSpecificKey<ObjectIdentifier>()

    init(label: String) {
        queue = DispatchQueue(label: label + "-transactions")
        queue.setSpecific(key: key, value: ObjectIdentifier(self))
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }

    /// Whether the caller runs on this executor's queue.
    var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == ObjectIdentifier(self) }
}
