import Foundation
import GRDB
import Replica
import Testing

/// Removing a chip or a holder must not read the whole registry. SQLite answers a removal with the statements
/// below (the `ON DELETE SET NULL` of `replaced_by`, the `ON DELETE CASCADE` of a holder's chips, and the
/// orphan check of a feed page); their plans, read from a real replica file, must use an index, never `SCAN card`.
@Suite("Replica removal plans")
struct RemovalPlanTests {
    @Test(arguments: [
        "UPDATE card SET replaced_by = NULL WHERE replaced_by = 1",
        "DELETE FROM card WHERE person_id = 1",
        "DELETE FROM person WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM card WHERE person_id = 1)",
        "DELETE FROM entitlement WHERE person_id = 1",
    ])
    func aRemovalFindsItsRowsThroughAnIndex(statement: String) throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        let queue = try DatabaseQueue(path: replica.path)
        defer { try? queue.close() }
        let details = try queue.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement).map { $0["detail"] as String } }
        #expect(!details.isEmpty)
        #expect(!details.contains { $0.hasPrefix("SCAN card") || $0.hasPrefix("SCAN entitlement") }, "\(details)")
    }
}
