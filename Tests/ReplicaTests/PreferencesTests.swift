import CardModel
import Foundation
import Replica
import Testing

/// Screen preferences kept with a card in the replica: stored, replaced, forgotten, and gone with the card.
@Suite("Replica: screen preferences")
struct PreferencesTests {
    static let uk = ScreenPreferences(language: .uk, largeText: true, speech: true)

    static func card(_ number: String, uid: String) throws -> SyncedCard {
        SyncedCard(
            number: try CardNumber(normalising: number), uid: try ChipUID(hex: uid), technology: .ntag213, series: nil, status: .active,
            validFrom: nil, validUntil: nil, replacedByUID: nil, holderDisplayName: "Ewa N.", personRef: "p-\(number)",
            entitlements: [Entitlement(kind: .senior60, validFrom: try CivilDate(iso: "2020-01-01"), validUntil: nil)]
        )
    }

    @Test("stored, read back after reopening, replaced, and forgotten; a number the replica lacks stores nothing")
    func storeAndForget() async throws {
        let dir = TempDir()
        let path = dir.file("replica.sqlite")
        let number = try CardNumber(normalising: "SKS-0501")
        do {
            let replica = try Replica(path: path)
            try await replica.applyChanges([.upsert(try Self.card("SKS-0501", uid: "04A1102233440B"))], cursor: 1)
            #expect(try replica.preferences(number: number) == nil)
            #expect(try replica.setPreferences(Self.uk, number: number))
            let stranger = try CardNumber(normalising: "SKS-0999")
            #expect(try replica.setPreferences(Self.uk, number: stranger) == false)
            #expect(try replica.preferences(number: stranger) == nil)
        }
        let replica = try Replica(path: path)
        #expect(try replica.preferences(number: number) == Self.uk)
        let plain = ScreenPreferences(language: .pl, largeText: false, speech: true)
        #expect(try replica.setPreferences(plain, number: number))
        #expect(try replica.preferences(number: number) == plain)
        #expect(try replica.preferencesCount() == 1)
        #expect(try replica.forgetPreferences(number: number))
        #expect(try replica.preferences(number: number) == nil)
        #expect(try replica.forgetPreferences(number: number) == false)
    }

    @Test("they stay while the card changes, and go when the registry removes it or a snapshot no longer has it")
    func goneWithTheCard() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        let a = try Self.card("SKS-0501", uid: "04A1102233440B")
        let b = try Self.card("SKS-0502", uid: "04A1102233440C")
        try await replica.applyChanges([.upsert(a), .upsert(b)], cursor: 1)
        try replica.setPreferences(Self.uk, number: a.number)
        try replica.setPreferences(Self.uk, number: b.number)

        var suspended = a
        suspended.status = .suspended
        try await replica.applyChanges([.upsert(suspended)], cursor: 2)
        #expect(try replica.preferences(number: a.number) == Self.uk)

        try await replica.applyChanges([.remove(a)], cursor: 3)
        #expect(try replica.preferences(number: a.number) == nil)
        #expect(try replica.preferences(number: b.number) == Self.uk)

        // A snapshot without b: the registry no longer has the card, nor the kiosk its preferences.
        try replica.replaceAll(with: [try Self.card("SKS-0503", uid: "04A1102233440D")], cursor: 10)
        #expect(try replica.preferences(number: b.number) == nil)
        #expect(try replica.preferencesCount() == 0)
    }
}
