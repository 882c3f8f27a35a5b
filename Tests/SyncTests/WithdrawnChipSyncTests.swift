import CardModel
import Foundation
import KioskCore
import KioskTestSupport
import Logging
import Replica
import Testing

/// Every way the central can take a chip away from a card number, carried to a kiosk by the real
/// sync: the old chip, with the record the CUS once signed for it, is refused at the next tap.
@Suite("Withdrawn chips after a real sync", .serialized, .spawnsProcesses)
struct WithdrawnChipSyncTests {
    @Test(arguments: CentralStoreKind.allCases) func everyWayTheCentralReplacesOrDropsAChip(store: CentralStoreKind) async throws {
        try store.skipUnlessAvailable()
        let dir = TempDir()
        let central = CentralProcess(dir: dir, store: store)
        let past = warsawDay(-400)
        let header = "card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status\n"
        let numbers = ["WDR-0001", "WDR-0002", "WDR-0003", "WDR-0004"]
        let oldChips = ["04A1102233E001", "04A1102233E002", "04A1102233E003", "04A1102233E004"]
        try await central.importRegistry(header + zip(numbers, oldChips).map { "\($0);\($1);senior60;;Ewa;Nowak;\(past);;active" }.joined(separator: "\n") + "\n")
        let token = try await central.enrolKiosk("skalka-1")
        let staff = try await central.admin(["staff", "add", "kipus-anna"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try await central.start()
        defer { central.stop() }

        let state = dir.file("kiosk")
        let kiosk = try Kiosk(state: state, central: central.url, token: token)
        defer { kiosk.terminate() }
        try await kiosk.waitUntilListening()
        _ = try await kiosk.syncUntilOK()
        for (number, chip) in zip(numbers, oldChips) {
            #expect(try await Self.tap(state: state, uid: chip, signedNumber: number).verdict == .valid, "\(number) before")
        }

        // 1. A new chip in place of the old one (PUT of the card).
        let card = try #require(try await http("GET", central.url + "/v1/staff/cards/WDR-0001", bearer: staff).json)
        let person = try #require(card["person_id"] as? String)
        let put = try await http("PUT", central.url + "/v1/staff/cards/WDR-0001", body: """
            {"uid":"04A1102233F001","technology":"ntag213","series":null,"status":"active","valid_from":null,"valid_until":null,"person_id":"\(person)"}
            """, bearer: staff)
        #expect(put.status == 200, "\(String(decoding: put.body, as: UTF8.self))")
        // 2. A replacement chip (the old one revoked and linked to it).
        let replaced = try await http("POST", central.url + "/v1/staff/cards/WDR-0002/replace", body: #"{"uid":"04A1102233F002","technology":"ntag213"}"#, bearer: staff)
        #expect(replaced.status == 200, "\(String(decoding: replaced.body, as: UTF8.self))")
        // 3. A registry re-import that names a new UID.
        try await central.importRegistry(header + "WDR-0003;04A1102233F003;senior60;;Ewa;Nowak;\(past);;active\n")
        // 4. The chip taken away: the card is printed only from now on.
        let printed = try await http("PUT", central.url + "/v1/staff/cards/WDR-0004", body: """
            {"uid":null,"technology":"printed","series":null,"status":"active","valid_from":null,"valid_until":null,"person_id":"\(person)"}
            """, bearer: staff)
        #expect(printed.status == 200, "\(String(decoding: printed.body, as: UTF8.self))")

        _ = try await kiosk.syncUntilOK()
        for (number, chip) in zip(numbers, oldChips) {
            let event = try await Self.tap(state: state, uid: chip, signedNumber: number)
            #expect(event.verdict == .revoked, "\(number): \(event.verdict)")
            #expect(event.reasonCode == "replaced", "\(number): \(event.reasonCode)")
            #expect(event.holder == nil && event.session == nil)
        }
        // The new chip is honoured.
        #expect(try await Self.tap(state: state, uid: "04A1102233F001", signedNumber: "WDR-0001").verdict == .valid)
    }

    /// Taps `uid` carrying a verified record for `signedNumber`, checked against the kiosk's replica file.
    static func tap(state: String, uid: String, signedNumber: String) async throws -> CheckEvent {
        let replica = try Replica(path: state + "/replica.sqlite")
        let checkpoint = Checkpoint(replica: replica, logger: Logger(label: "test"))
        let signed = VerifiedCardRecord(number: try CardNumber(normalising: signedNumber), entitlements: [.senior60], role: nil, validUntil: nil, keyID: 1)
        return await checkpoint.check(.chip(uid: try ChipUID(hex: uid), technology: .ntag213, record: signed), source: .tap)
    }
}
