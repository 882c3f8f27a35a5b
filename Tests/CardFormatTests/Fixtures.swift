import CardFormat
import CardModel
import Foundation

/// Shared fixtures: fixed keys so failures are reproducible.
enum Fixture {
    static let uid = chipUID("04A2241A7B5C80")
    static let otherUID = chipUID("04A2241A7B5C81")

    static func chipUID(_ hex: String) -> ChipUID {
        do { return try ChipUID(hex: hex) } catch { preconditionFailure("fixture UID \(hex): \(error)") }
    }

    static func number(_ text: String) -> CardNumber {
        do { return try CardNumber(normalising: text) } catch { preconditionFailure("fixture number \(text): \(error)") }
    }

    static func day(_ iso: String) -> CivilDate {
        do { return try CivilDate(iso: iso) } catch { preconditionFailure("fixture day \(iso): \(error)") }
    }

    static func key(_ id: UInt8, fill: UInt8) -> CardSigningKey {
        guard let key = CardSigningKey(keyID: id, seed: [UInt8](repeating: fill, count: 32)) else {
            preconditionFailure("fixture key \(id)")
        }
        return key
    }

    static let key1 = key(1, fill: 0x11)
    static let key2 = key(2, fill: 0x22)

    /// A large-family child who is also disabled, valid until 30 September 2031.
    static let content = CardRecordContent(
        number: number("KDR-2024-000123"),
        entitlements: [.largeFamily, .disability],
        role: .child,
        validUntil: day("2031-09-30")
    )

    static func image(_ content: CardRecordContent = content, uid: ChipUID = uid, key: CardSigningKey = key1, tag: TagType = .ntag213) throws -> [UInt8] {
        try CardRecordEncoder.userMemory(for: content, uid: uid, key: key, tag: tag)
    }

    static func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.utf8).filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
        var out: [UInt8] = []
        var i = 0
        while i + 1 < digits.count {
            guard let v = UInt8(String(decoding: digits[i...(i + 1)], as: UTF8.self), radix: 16) else {
                preconditionFailure("fixture hex \(text)")
            }
            out.append(v)
            i += 2
        }
        return out
    }

    /// Lower-case hex without separators.
    static func hexString(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// A fresh, empty temporary directory.
    static func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cardformat-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    static func write(_ text: String, to path: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
