import CardModel
import Foundation
import StaffAccess
import Testing

@Suite("Staff PINs")
struct StaffPINsTests {
    static func pins(maxFailures: Int = 5, lockout: Duration = .seconds(900)) throws -> (StaffPINs, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pins-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (StaffPINs(path: dir + "/staff-pins.json", maxFailures: maxFailures, lockout: lockout), dir)
    }

    static let card = try! CardNumber(normalising: "PRC-0007")

    @Test("a PIN is checked, kept only as a salted hash, in a 0600 file")
    func setAndCheck() throws {
        let (pins, _) = try Self.pins()
        try pins.set(pin: "4821", for: Self.card)
        #expect(try pins.check(pin: "4821", for: Self.card) == .accepted)
        #expect(try pins.check(pin: "4822", for: Self.card) == .wrong(triesLeft: 4))
        #expect(try pins.check(pin: "4821", for: Self.card) == .accepted)
        let text = try String(contentsOfFile: pins.path, encoding: .utf8)
        #expect(!text.contains("4821"))
        let mode = try FileManager.default.attributesOfItem(atPath: pins.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try pins.check(pin: "4821", for: try CardNumber(normalising: "PRC-0008")) == .noPIN)
    }

    @Test("5 wrong PINs lock the card for 15 minutes, even for the right PIN, across a restart")
    func lockout() throws {
        let (pins, _) = try Self.pins()
        try pins.set(pin: "4821", for: Self.card)
        let start = Date()
        for left in [4, 3, 2, 1] { #expect(try pins.check(pin: "0001", for: Self.card, now: start) == .wrong(triesLeft: left)) }
        #expect(try pins.check(pin: "0001", for: Self.card, now: start) == .locked(seconds: 900))
        // A new reader of the same file (kioskd restarted) sees the lock.
        let again = StaffPINs(path: pins.path)
        #expect(try again.check(pin: "4821", for: Self.card, now: start.addingTimeInterval(60)) == .locked(seconds: 840))
        #expect(try again.check(pin: "4821", for: Self.card, now: start.addingTimeInterval(901)) == .accepted)
    }

    @Test("PINs that are not 4 to 6 digits, or too easy, are refused; removal works")
    func rules() throws {
        let (pins, _) = try Self.pins()
        for bad in ["123", "1234567", "12a4", "１２３４", "1234", "0000"] {
            #expect(throws: StaffPINError.self) { try pins.set(pin: bad, for: Self.card) }
        }
        try pins.set(pin: "736150", for: Self.card)
        #expect(try pins.cards().map(\.masked) == [Self.card.masked])
        #expect(try pins.remove(for: Self.card))
        #expect(try pins.check(pin: "736150", for: Self.card) == .noPIN)
    }

    @Test("a damaged file is reported, not silently replaced")
    func damaged() throws {
        let (pins, _) = try Self.pins()
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: pins.path))
        #expect(throws: StaffPINError.self) { try pins.check(pin: "4821", for: Self.card) }
        #expect(try String(contentsOfFile: pins.path, encoding: .utf8) == "{not json")
    }
}
