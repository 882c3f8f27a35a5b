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

/// One result row, by column name.
struct SQLRow: Sendable {
    var values: [String: SQLValue]

    /// The integer in `column`.
    func int(_ column: String) throws(CentralStoreError) -> Int64 {
        guard let v = values[column]?.int else { throw .corrupt("column \(column) is not an integer") }
        return v
    }

    /// The integer in `column`, or `nil` for NULL.
    func optionalInt(_ column: String) -> Int64? { values[column]?.int }

    /// The text in `column`.
    func text(_ column: String) throws(CentralStoreError) -> String {
        guard let v = values[column]?.text else { throw .corrupt("column \(column) is not text") }
        return v
    }

    /// The text in `column`, or `nil` for NULL.
    func optionalText(_ column: String) -> String? { values[column]?.text }
}

/// What a transaction may do; decides locking and isolation.
enum SQLTransactionKind: Sendable {
    /// Reads at one consistent point in time.
    case read
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
}

extension SQLConnection {
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

/// A FIFO async lock over a fixed set of resources (connections), with no busy waiting.
final class ResourcePool<Resource: Sendable>: Sendable {
    private struct State {
        var free: [Resource]
        var waiters: [CheckedContinuation<Resource, Never>] = []
    }
    private let state: Mutex<State>

    init(_ resources: [Resource]) {
        state = Mutex(State(free: resources))
    }

    /// Waits for a free resource.
    func acquire() async -> Resource {
        await withCheckedContinuation { (continuation: CheckedContinuation<Resource, Never>) in
            let ready: Resource? = state.withLock { state in
                if let r = state.free.popLast() { return r }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Hands `resource` to the longest waiter, or back to the free list.
    func release(_ resource: Resource) {
        let waiter: CheckedContinuation<Resource, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.free.append(resource)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: resource)
    }

    /// Runs `body` with a resource held.
    func with<T>(_ body: (Resource) async throws -> T) async throws -> T {
        let resource = await acquire()
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
