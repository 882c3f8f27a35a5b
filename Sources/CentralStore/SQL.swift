import DequeModule
import Synchronization

/// One value bound to, or read from, an SQL statement; the common ground of SQLite and PostgreSQL.
enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case real(Double)
    case text(String)

    var int: Int64? { if case .int(let v) = self { v } else { nil } }
    var text: String? { if case .text(let v) = self { v } else { nil } }
}

/// The column names of one statement's result, shared by all its rows.
final class SQLColumns: Sendable {
    let names: [String]

    init(_ names: [String]) { self.names = names }

    /// The position of `name` (a result has a handful of columns: a scan beats hashing).
    func index(of name: String) -> Int? { names.firstIndex(of: name) }
}

/// One result row, by column name.
struct SQLRow: Sendable {
    let columns: SQLColumns
    let cells: [SQLValue]

    /// The value in `column`, or `nil` when the result has no such column.
    subscript(_ column: String) -> SQLValue? {
        columns.index(of: column).map { cells[$0] }
    }

    /// The integer in `column`.
    func int(_ column: String) throws(CentralStoreError) -> Int64 {
        guard let v = self[column]?.int else { throw .corrupt("column \(column) is not an integer") }
        return v
    }

    /// The integer in `column`, or `nil` for NULL.
    func optionalInt(_ column: String) -> Int64? { self[column]?.int }

    /// The text in `column`.
    func text(_ column: String) throws(CentralStoreError) -> String {
        guard let v = self[column]?.text else { throw .corrupt("column \(column) is not text") }
        return v
    }

    /// The text in `column`, or `nil` for NULL.
    func optionalText(_ column: String) -> String? { self[column]?.text }
}

/// What a transaction may do; decides locking, isolation and which connections it uses.
enum SQLTransactionKind: Sendable {
    /// Reads at one consistent point in time.
    case read
    /// One read statement, consistent by itself: runs without a transaction of its own (one round trip
    /// on PostgreSQL instead of three, one hop to an SQLite connection instead of three). The body must
    /// run exactly one statement; a second is refused (``StatementConnection``).
    case statement
    /// A long read at one consistent point in time (a registry snapshot streamed to a slow kiosk):
    /// runs on connections of its own, so that token checks, feed pages and writes never queue behind it.
    case snapshot
    /// Writes; all writers are serialised (this is what keeps the change feed gapless).
    case write
}

/// The dialect differences the schema and queries have to bridge.
enum SQLDialect: Sendable {
    case sqlite, postgres
}

/// A connection inside an open transaction. SQL is written with `?` placeholders.
protocol SQLConnection {
    /// Runs one statement and returns its rows (none for statements without results).
    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow]

    /// Appends `rows` (values in the order of `columns`) to `table`: many rows a statement, or PostgreSQL's `COPY`.
    ///
    /// `table` and `columns` are the store's own names, never input.
    func insert(into table: String, columns: [String], rows: [[SQLValue]]) async throws
}

/// The connection a ``SQLTransactionKind/statement`` body gets: it runs one statement, and refuses a second,
/// which would not see the same point in time as the first.
final class StatementConnection: SQLConnection {
    private let connection: any SQLConnection
    private var used = false

    init(_ connection: any SQLConnection) { self.connection = connection }

    func query(_ sql: String, _ binds: [SQLValue]) async throws -> [SQLRow] {
        guard !used else { throw CentralStoreError.corrupt("a second statement in a single-statement read (a bug: use a read transaction)") }
        used = true
        return try await connection.query(sql, binds)
    }
}

extension SQLConnection {
    /// Rows a multi-row `INSERT` carries: well under SQLite's 32,766 and PostgreSQL's 65,535 bound values.
    static var rowsPerInsert: Int { 256 }

    func insert(into table: String, columns: [String], rows: [[SQLValue]]) async throws {
        let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        var start = rows.startIndex
        while start < rows.endIndex {
            let chunk = rows[start..<min(start + Self.rowsPerInsert, rows.endIndex)]
            // Full chunks share one statement text, so SQLite prepares it once.
            try await execute(head + Array(repeating: row, count: chunk.count).joined(separator: ","), Array(chunk.joined()))
            start = chunk.endIndex
        }
    }

    /// Runs one statement, ignoring any rows.
    func execute(_ sql: String, _ binds: [SQLValue] = []) async throws {
        _ = try await query(sql, binds)
    }

    /// The first row of a query, if any.
    func one(_ sql: String, _ binds: [SQLValue] = []) async throws -> SQLRow? {
        try await query(sql, binds).first
    }
}

/// The database seam under ``RelationalCentralStore``: SQLite (GRDB) or PostgreSQL (postgres-nio).
protocol SQLBackend: Sendable {
    var dialect: SQLDialect { get }
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ kind: SQLTransactionKind, _ body: (any SQLConnection) async throws -> T) async throws -> T
    /// Closes the connections; the backend is unusable afterwards.
    func close() async
}

/// A FIFO async lock over a fixed set of resources (connections), with no busy waiting and a
/// bounded wait: a caller that waits longer than the pool's limit gets ``CentralStoreError/Code/busy``
/// (HTTP 503 with `Retry-After`) instead of hanging while every connection is held.
public final class ResourcePool<Resource: Sendable>: Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Resource?, Never>
    }
    // Every step is O(1) but an expiry: a fleet re-syncing at once puts a thousand callers in the queue,
    // and a linear search per caller took a quarter of the central's CPU.
    private struct State {
        var free: [Resource]
        var waiters: Deque<Waiter> = []
        /// The ids in `waiters`.
        var waiting: Set<UInt64> = []
        /// The bounded-wait timers of the waiters, by id.
        var timers: [UInt64: Task<Void, Never>] = [:]
        var nextID: UInt64 = 0
    }
    private let state: Mutex<State>
    /// What the resources are, for the busy message ("database connections").
    public let label: String
    /// Longest wait for a free resource.
    public let maxWait: Duration

    /// A pool of `resources`, named `label` in messages, where a caller waits at most `maxWait`.
    public init(_ resources: [Resource], label: String = "database connections", maxWait: Duration = .seconds(5)) {
        state = Mutex(State(free: resources))
        self.label = label
        self.maxWait = maxWait
    }

    /// Waits at most ``maxWait`` for a free resource; `nil` when none came free in time.
    public func acquire() async -> Resource? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Resource?, Never>) in
            let (ready, id): (Resource?, UInt64?) = state.withLock { state in
                if let r = state.free.popLast() { return (r, nil) }
                state.nextID += 1
                state.waiters.append(Waiter(id: state.nextID, continuation: continuation))
                state.waiting.insert(state.nextID)
                return (nil, state.nextID)
            }
            if let ready {
                continuation.resume(returning: ready)
                return
            }
            guard let id else { return }
            let maxWait = maxWait
            let timer = Task { [weak self] in
                try? await Task.sleep(for: maxWait)
                guard !Task.isCancelled else { return }
                self?.expire(id)
            }
            let served = state.withLock { state -> Bool in
                guard state.waiting.contains(id) else { return true }
                state.timers[id] = timer
                return false
            }
            if served { timer.cancel() }
        }
    }

    /// Gives up waiter `id`, if it still waits.
    private func expire(_ id: UInt64) {
        let waiter: Waiter? = state.withLock { state in
            state.timers[id] = nil
            guard state.waiting.remove(id) != nil, let i = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: i)
        }
        waiter?.continuation.resume(returning: nil)
    }

    /// Hands `resource` to the longest waiter, or back to the free list.
    public func release(_ resource: Resource) {
        let (waiter, timer): (Waiter?, Task<Void, Never>?) = state.withLock { state in
            guard let first = state.waiters.popFirst() else {
                state.free.append(resource)
                return (nil, nil)
            }
            state.waiting.remove(first.id)
            return (first, state.timers.removeValue(forKey: first.id))
        }
        timer?.cancel()
        waiter?.continuation.resume(returning: resource)
    }

    /// Runs `body` with a resource held; throws ``CentralStoreError/Code/busy`` when none is free within ``maxWait``.
    func with<T>(_ body: (Resource) async throws -> T) async throws -> T {
        guard let resource = await acquire() else {
            throw CentralStoreError.busy("all \(label) stayed in use for \(maxWait.components.seconds) s; retry in a few seconds")
        }
        do {
            let result = try await body(resource)
            release(resource)
            return result
        } catch {
            release(resource)
            throw error
        }
    }
}
