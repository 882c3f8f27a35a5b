import CardModel
import CentralWire
import Foundation
import KioskTestSupport
import Testing

/// The snapshot's own line writer and reader against Foundation's coders, which they stand in for.
@Suite("Snapshot lines")
struct SnapshotLineTests {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func day(_ iso: String) throws -> CivilDate { try CivilDate(iso: iso) }

    /// Cards of every shape: printed and chip, every optional present and absent, 0 to 3 entitlements.
    static func cards(count: Int, names: [String], rng: inout SplitMix64) throws -> [CardView] {
        try (0..<count).map { i in
            let entitlements = try (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                let kind = EntitlementKind.allCases.randomElement(using: &rng) ?? .senior60
                return EntitlementView(
                    kind: kind, role: kind == .largeFamily ? FamilyRole.allCases.randomElement(using: &rng) : nil,
                    validFrom: try day("2024-0\(Int.random(in: 1...9, using: &rng))-1\(Int.random(in: 0...9, using: &rng))"),
                    validUntil: Bool.random(using: &rng) ? try day("2030-12-31") : nil
                )
            }
            let chip = Bool.random(using: &rng)
            return CardView(
                number: names.randomElement(using: &rng).map { _ in "SKS-\(1000 + i)" } ?? "SKS-1",
                uid: chip ? String(format: "04%012X", i) : nil,
                technology: chip ? .ntag215 : .printed,
                series: Bool.random(using: &rng) ? names.randomElement(using: &rng) : nil,
                status: CardStatus.allCases.randomElement(using: &rng) ?? .active,
                validFrom: Bool.random(using: &rng) ? try day("2023-05-06") : nil,
                validUntil: Bool.random(using: &rng) ? try day("2029-02-28") : nil,
                replacedByUID: Bool.random(using: &rng) ? "04AABBCCDDEEFF" : nil,
                holderDisplayName: names.randomElement(using: &rng) ?? "",
                personID: UUID().uuidString.lowercased(),
                entitlements: entitlements
            )
        }
    }

    /// Names a display name or series may hold: Polish letters, emoji, and everything JSON must escape.
    static let names = [
        "Anna K.", "Łucja Ż.", "Ørjan Ś.", "Zoë 👵🏻.", "O'Brien \"Bob\" B.", #"back\slash"#, "a/b", "tab\there",
        "line\nbreak", "bell\u{07}", "nul\u{00}x", "\u{1F}", "€", "",
    ]

    @Test("the writer writes byte for byte what JSONEncoder writes, for every shape and every character")
    func writerMatchesJSONEncoder() throws {
        var rng = SplitMix64(seed: 7)
        for card in try Self.cards(count: 500, names: Self.names, rng: &rng) {
            var line: [UInt8] = []
            SnapshotLine.write(card, into: &line)
            let expected = [UInt8](try Self.encoder.encode(card))
            #expect(line == expected, "\(String(decoding: line, as: UTF8.self)) vs \(String(decoding: expected, as: UTF8.self))")
            #expect(try JSONDecoder().decode(CardView.self, from: Data(line)) == card)
        }
    }

    @Test("the reader reads back every line without escapes, and leaves a line with escapes to JSONDecoder")
    func readerRoundTrips() throws {
        var rng = SplitMix64(seed: 11)
        var fast = 0
        for card in try Self.cards(count: 500, names: Self.names, rng: &rng) {
            var line: [UInt8] = []
            SnapshotLine.write(card, into: &line)
            let parsed = line.withUnsafeBufferPointer(SnapshotLine.parse)
            if line.contains(UInt8(ascii: "\\")) {
                #expect(parsed == nil)
            } else {
                #expect(parsed == card)
                fast += 1
            }
        }
        #expect(fast > 100, "most generated cards have no escapes: \(fast)")
    }

    @Test("whatever a damaged or reshaped line holds, the reader gives what JSONDecoder gives, or leaves it to it")
    func readerNeverDisagreesWithJSONDecoder() throws {
        var rng = SplitMix64(seed: 23)
        let plain = ["Anna K.", "Łucja Ż.", "Zoë 👵🏻.", "Jan N."]
        var accepted = 0, refused = 0
        for card in try Self.cards(count: 300, names: plain, rng: &rng) {
            var line: [UInt8] = []
            SnapshotLine.write(card, into: &line)
            for _ in 0..<20 {
                var damaged = line
                let at = Int.random(in: 0..<damaged.count, using: &rng)
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: damaged[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: damaged.remove(at: at)
                case 2: damaged.insert(UInt8(ascii: " "), at: at)
                case 3: damaged[at] = Array(#""{}[],:n0\"#.utf8).randomElement(using: &rng) ?? 0
                default: damaged.append(contentsOf: Array(#"\r,"x":1}"#.utf8).prefix(Int.random(in: 1...8, using: &rng)))
                }
                let fast = damaged.withUnsafeBufferPointer(SnapshotLine.parse)
                let slow = try? JSONDecoder().decode(CardView.self, from: Data(damaged))
                if let fast {
                    #expect(fast == slow, "the reader accepted \(String(decoding: damaged, as: UTF8.self))")
                    accepted += 1
                } else {
                    refused += 1
                }
            }
        }
        // Some damage still leaves a valid line of the same shape (a letter changed inside a name).
        #expect(accepted > 50 && refused > 1000, "accepted \(accepted), refused \(refused)")
    }
}
