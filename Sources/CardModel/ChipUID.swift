/// The UID of an ISO 14443A chip: 4, 7 or 10 bytes.
public struct ChipUID: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The raw UID bytes, in the order the reader reports them.
    public let bytes: [UInt8]

    /// Wraps raw bytes from a reader.
    /// - Throws: ``ChipUIDError/badLength`` unless there are 4, 7 or 10 bytes.
    public init(bytes: [UInt8]) throws(ChipUIDError) {
        guard [4, 7, 10].contains(bytes.count) else { throw .badLength(bytes.count) }
        self.bytes = bytes
    }

    /// Parses hex such as `04A2241A7B5C80` or `04:a2:24:1a:7b:5c:80` (colons, spaces and dashes allowed).
    public init(hex: String) throws(ChipUIDError) {
        var nibbles: [UInt8] = []
        for scalar in hex.unicodeScalars {
            switch scalar {
            case ":", " ", "-": continue
            case "0"..."9": nibbles.append(UInt8(scalar.value - 48))
            case "a"..."f": nibbles.append(UInt8(scalar.value - 87))
            case "A"..."F": nibbles.append(UInt8(scalar.value - 55))
            default: throw .notHex
            }
        }
        guard nibbles.count % 2 == 0 else { throw .notHex }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nibbles.count / 2)
        var i = 0
        while i < nibbles.count {
            bytes.append(nibbles[i] << 4 | nibbles[i + 1])
            i += 2
        }
        try self.init(bytes: bytes)
    }

    /// Upper-case hex without separators, e.g. `04A2241A7B5C80`.
    public var hex: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Only the last two bytes, e.g. `…5C80`: safe to log.
    public var masked: String { "…" + hex.suffix(4) }

    public var description: String { masked }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try ChipUID(hex: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

/// Why bytes or text are not a chip UID.
public enum ChipUIDError: Error, Sendable, Equatable, CustomStringConvertible {
    case badLength(Int)
    case notHex

    public var description: String {
        switch self {
        case .badLength(let n): "a UID has 4, 7 or 10 bytes, not \(n)"
        case .notHex: "a UID is written in hexadecimal (0-9, A-F), colons allowed"
        }
    }
}
