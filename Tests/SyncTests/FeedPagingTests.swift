import CardModel
import CentralWire
import Foundation
import KioskCore
import KioskTestSupport
import Logging
import Outbox
import Replica
import ServiceRules
import Synchronization
import Sync
import Testing

/// Following the change feed page by page while the next page is fetched ahead: pages still land in order,
/// and a page that fails leaves the replica at the last complete page.
@Suite("Change feed paging")
struct FeedPagingTests {
    /// A central in this process: a feed of `pages` pages of two cards each; `failing` makes one page's fetch fail.
    final class PagedCentral: CentralConnection {
        let pages: Int
        private let state = Mutex<(failing: Int64?, asked: [Int64])>((nil, []))

        init(pages: Int, failing: Int64?) {
            self.pages = pages
            state.withLock { $0.failing = failing }
        }

        var asked: [Int64] { state.withLock { $0.asked } }
        func heal() { state.withLock { $0.failing = nil } }

        func changes(after: Int64, limit: Int) async throws(SyncError) -> CentralFeedPage {
            let failing = state.withLock { s -> Int64? in
                s.asked.append(after)
                return s.failing
            }
            // Every page takes a moment to arrive, as over a network.
            try? await Task.sleep(for: .milliseconds(5))
            if after == failing { throw SyncError(.malformed, "page after \(after) is garbage") }
            let head = Int64(pages * 2)
            let end = min(after + 2, head)
            let cards = (after..<end).map { (try? FeedPagingTests.card(Int($0) + 1)).map(SyncedChange.upsert) }
            return CentralFeedPage(changes: cards.compactMap { $0 }, statuses: [], nextAfter: end, hasMore: end < head, count: Int(end - after))
        }

        func catalogue() async throws(SyncError) -> Catalogue { StandardCatalogue.catalogue }
        func holderRequests(_ query: HolderQuery, timeout: Duration) async throws(SyncError) -> [HolderRequest] { [] }
        func snapshot(
            batchSize: Int, _ receive: @Sendable ([SyncedCard], Int) async throws(SyncError) -> Void
        ) async throws(SyncError) -> (seq: Int64, cards: Int) {
            throw SyncError(.malformed, "no snapshot in this test")
        }
        func submit(_ items: [OutboxItem]) async throws(SyncError) -> [String: DeliveryResult] { [:] }
        func shutdown() async {}
    }

    static func card(_ i: Int) throws -> SyncedCard {
        SyncedCard(
            number: try CardNumber(normalising: "PAG-\(String(format: "%05d", i))"),
            uid: try ChipUID(bytes: [0x04, 0x50, 0x60, 0x70, 0x01, UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)]),
            technology: .ntag215, series: nil, status: .active, validFrom: nil, validUntil: nil, replacedByUID: nil,
            holderDisplayName: "Jan P.", personRef: "pag-\(i)",
            entitlements: [Entitlement(kind: .senior60, role: nil, validFrom: try CivilDate(iso: "2022-01-01"), validUntil: nil)]
        )
    }

    static func stored(_ replica: Replica, _ i: Int) throws -> Bool {
        try replica.card(number: CardNumber(normalising: "PAG-\(String(format: "%05d", i))")) != nil
    }

    @Test func aFailedPageLeavesTheReplicaAtTheLastCompletePageAndTheNextSyncGoesOn() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try replica.replaceAll(with: [], cursor: 0)
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        let central = PagedCentral(pages: 5, failing: 6)
        let engine = SyncEngine(
            replica: replica, outbox: outbox, catalog: ServiceCatalog(), central: central, url: "http://central.test", pageSize: 2,
            logger: Logger(label: "test")
        )

        let broken = await engine.syncNow()
        #expect(!broken.ok)
        #expect(broken.changesApplied == 6)
        #expect(try replica.syncCursor() == 6)
        #expect(try (1...6).allSatisfy { try Self.stored(replica, $0) })
        #expect(try !Self.stored(replica, 7))
        #expect(central.asked == [0, 2, 4, 6])

        central.heal()
        let healed = await engine.syncNow()
        #expect(healed.ok)
        #expect(healed.changesApplied == 4)
        #expect(try replica.syncCursor() == 10)
        #expect(try (1...10).allSatisfy { try Self.stored(replica, $0) })
        #expect(try replica.consistencyProblems().isEmpty)
        // Each page asked for once per sync, in order; nothing past the head.
        #expect(central.asked == [0, 2, 4, 6, 6, 8])
    }
}
