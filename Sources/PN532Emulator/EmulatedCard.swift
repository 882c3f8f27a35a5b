import Foundation

/// A contactless card to place in the emulated reader's field, as written in a card JSON file.
///
/// Example: `{"kind": "ntag215", "uid": "04:A1:B2:C3:D4:E5:F6", "ndef": "D1010B5504..."}`.
public struct EmulatedCard: Codable, Sendable, Equatable {
    /// The chip the card emulates; decides memory size, GET_VERSION answer, ATQA and SAK.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// NXP NTAG213: 45 pages, 144 bytes of user memory.
        case ntag213
        /// NXP NTAG215: 135 pages, 504 bytes of user memory.
        case ntag215
        /// NXP NTAG216: 231 pages, 888 bytes of user memory.
        case ntag216
        /// NXP MIFARE Ultralight EV1 (MF0UL11): 20 pages, 48 bytes of user memory.
        case ultralight = "mifare_ultralight"
        /// A UID-only ISO/IEC 14443-A card (4-byte UID: MIFARE Classic-like ATQA 00 04, SAK 08); answers no memory command.
        case iso14443a
    }

    /// The chip the card emulates.
    public var kind: Kind
    /// The UID in hex, 4 or 7 bytes; colons, dashes and spaces are allowed (NTAG and Ultralight need 7 bytes).
    public var uid: String
    /// Optional hex of an NDEF message, placed in an NDEF TLV from page 4 of a freshly formatted tag.
    public var ndef: String?
    /// Optional full memory image, one 8-hex-digit string per 4-byte page from page 0 (overrides `ndef`).
    public var pages: [String]?
    /// Optional: when true the lock bits are set and WRITE to pages 3 and up is refused with a NAK.
    public var locked: Bool?

    /// Creates a card description.
    public init(kind: Kind, uid: String, ndef: String? = nil, pages: [String]? = nil, locked: Bool? = nil) {
        self.kind = kind
        self.uid = uid
        self.ndef = ndef
        self.pages = pages
        self.locked = locked
    }

    /// Reads and validates a card JSON file.
    ///
    /// - Throws: ``CardFileError`` naming the file and what is wrong with it.
    public static func load(fromFile path: String) throws(CardFileError) -> EmulatedCard {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CardFileError(path: path, problem: "cannot be read (does it exist, and is it readable?)")
        }
        let card: EmulatedCard
        do {
            card = try JSONDecoder().decode(EmulatedCard.self, from: data)
        } catch let error as DecodingError {
            throw CardFileError(path: path, problem: "is not a valid card description: \(error.shortDescription)")
        } catch {
            throw CardFileError(path: path, problem: "is not a valid card description: \(error)")
        }
        do {
            try card.validate()
        } catch {
            throw CardFileError(path: path, problem: error.description)
        }
        return card
    }

    /// Checks the UID, NDEF and page image against the kind, without placing the card.
    ///
    /// - Throws: ``CardDescriptionError`` saying which field is wrong and how to fix it.
    public func validate() throws(CardDescriptionError) {
        _ = try TagImage(card: self)
    }

    /// The UID bytes, parsed from ``uid``.
    ///
    /// - Throws: ``CardDescriptionError`` if it is not 4 or 7 bytes of hex.
    public func uidBytes() throws(CardDescriptionError) -> [UInt8] {
        guard let bytes = Hex.decode(uid) else {
            throw .invalidUID(uid, reason: "it is not hex (use e.g. \"04:A1:B2:C3:D4:E5:F6\")")
        }
        guard bytes.count == 4 || bytes.count == 7 else {
            throw .invalidUID(uid, reason: "it has \(bytes.count) bytes; use 4 or 7")
        }
        if kind != .iso14443a, bytes.count != 7 {
            throw .invalidUID(uid, reason: "a \(kind.rawValue) has a 7-byte UID")
        }
        if bytes[0] == 0x88 {
            throw .invalidUID(uid, reason: "the first byte may not be 88 (the ISO 14443 cascade tag)")
        }
        return bytes
    }
}

/// A card description that cannot be turned into an emulated card.
public enum CardDescriptionError: Error, Equatable, CustomStringConvertible {
    /// The UID is not usable; the reason says why.
    case invalidUID(String, reason: String)
    /// The NDEF hex is not hex.
    case invalidNDEF(reason: String)
    /// The NDEF message does not fit the card's user memory.
    case ndefTooLarge(bytes: Int, capacity: Int, kind: EmulatedCard.Kind)
    /// A page string is not exactly 8 hex digits.
    case invalidPage(index: Int, value: String)
    /// More pages than the card has.
    case tooManyPages(count: Int, pageCount: Int, kind: EmulatedCard.Kind)

    /// What is wrong and what to do about it.
    public var description: String {
        switch self {
        case .invalidUID(let uid, let reason):
            "uid \"\(uid)\" is invalid: \(reason)"
        case .invalidNDEF(let reason):
            "ndef is invalid: \(reason)"
        case .ndefTooLarge(let bytes, let capacity, let kind):
            "ndef is \(bytes) bytes with its TLV, but a \(kind.rawValue) holds \(capacity): use a larger kind or a shorter message"
        case .invalidPage(let index, let value):
            "pages[\(index)] \"\(value)\" is not 8 hex digits (one 4-byte page)"
        case .tooManyPages(let count, let pageCount, let kind):
            "pages has \(count) entries but a \(kind.rawValue) has \(pageCount) pages"
        }
    }
}

/// A card JSON file that cannot be used; names the file and the problem.
public struct CardFileError: Error, Equatable, CustomStringConvertible {
    /// The file that was read.
    public var path: String
    /// What is wrong with it.
    public var problem: String

    /// Creates the error.
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    /// "card file PATH: PROBLEM".
    public var description: String { "card file \(path): \(problem)" }
}

extension DecodingError {
    /// A one-line explanation naming the JSON key path.
    fileprivate var shortDescription: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at \(keys.joined(separator: "."))"
        }
        switch self {
        case .keyNotFound(let key, let context):
            return "missing key \"\(key.stringValue)\"\(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.debugDescription)\(path(context))"
        case .dataCorrupted(let context):
            return "\(context.debugDescription)\(path(context))"
        @unknown default:
            return "\(self)"
        }
    }
}

/// Hex helpers shared by the card format and the control channel.
enum Hex {
    /// Decodes hex, ignoring colons, dashes and whitespace; nil if anything else is there or the digit count is odd.
    static func decode(_ text: String) -> [UInt8]? {
        var digits: [UInt8] = []
        for scalar in text.unicodeScalars {
            switch scalar {
            case ":", "-", " ", "\t", "\n", "\r":
                continue
            case "0"..."9":
                digits.append(UInt8(scalar.value - 48))
            case "a"..."f":
                digits.append(UInt8(scalar.value - 87))
            case "A"..."F":
                digits.append(UInt8(scalar.value - 55))
            default:
                return nil
            }
        }
        guard digits.count % 2 == 0 else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// Upper-case hex without separators.
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let table = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(table[Int(byte >> 4)])
            out.append(table[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
