import Foundation
import KioskTestSupport
import Testing

/// One bad registry row must never stop every kiosk: the central refuses what a kiosk would refuse.
@Suite("Registry rules between cus-central and kioskd", .serialized, .spawnsProcesses)
struct RegistryRulesSyncTests {
    @Test(arguments: CentralStoreKind.allCases)
    func aRowKiosksWouldRefuseIsRefusedAtImportAndKiosksKeepSyncing(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        let past = warsawDay(-400)
        let csv = registryCSV() + """

            LONG-0001;;senior60;;\(String(repeating: "Anna", count: 50));Kowalska;\(past);;active
            BELL-0001;;senior60;;Ewa\u{7};Lis;\(past);;active
            """
        let path = try dir.write("cards.csv", csv)
        let database = central.database
        // Child processes are waited for on a Dispatch thread: blocking one of the few cooperative
        // threads can starve in-process tests that hold the migration lock the child waits for.
        let imported = try await run(binary("cus-central"), ["registry", "import", path, "--database", database])
        #expect(imported.status == 1)
        #expect(imported.stderr.contains("\(path):7: refused: "), "\(imported.stderr)")
        #expect(imported.stderr.contains("\(path):8: refused: "), "\(imported.stderr)")
        let token = try await run(binary("cus-central"), ["kiosk", "add", "skalka-1", "--database", database])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await central.start()
        defer { central.stop() }

        let kiosk = try Kiosk(state: dir.file("kiosk"), central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK(timeout: .seconds(60))
        #expect(try await kiosk.cardCount() == 5)
        #expect(try await kiosk.check("SKS-0001")["verdict"] as? String == "valid")
    }
}
