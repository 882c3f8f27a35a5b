import Foundation
import KioskTestSupport
import Replica
import Sync
import Synchronization
import Testing

/// `maxSnapshotBytes` is applied: a snapshot larger than the kiosk accepts is abandoned part-way.
@Suite("Snapshot size limit", .serialized, .spawnsProcesses)
struct SnapshotLimitTests {
    @Test func aSnapshotOverTheLimitIsAbandonedAndOneUnderItIsRead() async throws {
        let dir = TempDir()
        let central = CentralProcess(dir: dir)
        try await central.importRegistry(bigRegistryCSV(count: 3000))
        let token = try await central.enrolKiosk("skalka-1")
        try await central.start()
        defer { central.stop() }

        let small = try HTTPCentralClient(url: central.url, token: token, caFile: nil, maxSnapshotBytes: 16 * 1024)
        let received = ReceivedCount()
        do {
            _ = try await small.snapshot(batchSize: 100) { batch, _ in received.add(batch.count) }
            Issue.record("a snapshot over 16 KiB was read whole")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.description.contains("16384 bytes"))
        }
        #expect(received.value < 3000)
        await small.shutdown()

        let ample = try HTTPCentralClient(url: central.url, token: token, caFile: nil)
        let all = ReceivedCount()
        let header = try await ample.snapshot(batchSize: 500) { batch, _ in all.add(batch.count) }
        #expect(header.cards == 3000 && all.value == 3000)
        await ample.shutdown()
    }
}

/// Counts cards handed over by a snapshot, from the client's tasks.
final class ReceivedCount: Sendable {
    private let count = Mutex(0)
    func add(_ n: Int) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}
