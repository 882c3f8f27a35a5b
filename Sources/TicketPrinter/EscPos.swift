/// The ESC/POS code pages the slip uses: Polish letters from PC852, Ukrainian from PC866.
///
/// Epson's numbering (`ESC t n`), which most thermal printers follow: 17 is PC866 (Cyrillic #2),
/// 18 is PC852 (Latin 2). Each character goes out in the page that has it; the encoder switches
/// pages only where the text does.
public enum CodePage: UInt8, Sendable, CaseIterable {
    /// PC866: ASCII and Cyrillic (Ukrainian Є, Ї; І and Ґ are printed as I and Г, which PC866 lacks).
    case pc866 = 17
    /// PC852: ASCII and the Polish letters.
    case pc852 = 18

    /// The page's byte for `character`, or `nil` when it has none (ASCII is in both).
    public func byte(for character: Character) -> UInt8? {
        guard let scalar = character.unicodeScalars.first, character.unicodeScalars.count == 1 else { return nil }
        if scalar.value >= 0x20 && scalar.value < 0x7F { return UInt8(scalar.value) }
        return table[character]
    }

    /// The character a byte stands for in this page, for decoding.
    public func character(for byte: UInt8) -> Character? {
        if byte >= 0x20 && byte < 0x7F { return Character(UnicodeScalar(byte)) }
        return reverse[byte]
    }

    var table: [Character: UInt8] {
        switch self {
        case .pc852: Self.pc852Table
        case .pc866: Self.pc866Table
        }
    }

    var reverse: [UInt8: Character] {
        switch self {
        case .pc852: Self.pc852Reverse
        case .pc866: Self.pc866Reverse
        }
    }

    static let pc852Table: [Character: UInt8] = [
        "Ą": 0xA4, "ą": 0xA5, "Ć": 0x8F, "ć": 0x86, "Ę": 0xA8, "ę": 0xA9, "Ł": 0x9D, "ł": 0x88, "Ń": 0xE3, "ń": 0xE4,
        "Ó": 0xE0, "ó": 0xA2, "Ś": 0x97, "ś": 0x98, "Ź": 0x8D, "ź": 0xAB, "Ż": 0xBD, "ż": 0xBE,
    ]

    static let pc866Table: [Character: UInt8] = {
        var t: [Character: UInt8] = [:]
        // А–П 0x80–0x8F, Р–Я 0x90–0x9F, а–п 0xA0–0xAF, р–я 0xE0–0xEF.
        for (i, v) in (0x410...0x42F).enumerated() { t[Character(UnicodeScalar(v)!)] = UInt8(0x80 + i) }
        for (i, v) in (0x430...0x43F).enumerated() { t[Character(UnicodeScalar(v)!)] = UInt8(0xA0 + i) }
        for (i, v) in (0x440...0x44F).enumerated() { t[Character(UnicodeScalar(v)!)] = UInt8(0xE0 + i) }
        t["Ё"] = 0xF0; t["ё"] = 0xF1; t["Є"] = 0xF2; t["є"] = 0xF3; t["Ї"] = 0xF4; t["ї"] = 0xF5
        return t
    }()

    static let pc852Reverse = Dictionary(uniqueKeysWithValues: pc852Table.map { ($1, $0) })
    static let pc866Reverse = Dictionary(uniqueKeysWithValues: pc866Table.map { ($1, $0) })
}

/// Builds an ESC/POS byte stream: the few commands a ticket slip needs, text in the right code pages.
public struct EscPosWriter: Sendable {
    /// The bytes so far.
    public private(set) var bytes: [UInt8] = []
    private var page: CodePage?

    /// A stream that starts with `ESC @` (reset the printer).
    public init() { bytes = [0x1B, 0x40] }

    /// How a line is placed.
    public enum Alignment: UInt8, Sendable { case left = 0, center = 1 }

    /// `ESC a n`.
    public mutating func align(_ alignment: Alignment) { bytes += [0x1B, 0x61, alignment.rawValue] }

    /// `GS ! n`: characters `width`×`height` times their normal size (1 to 8 each).
    public mutating func size(width: Int, height: Int) {
        let w = UInt8(max(1, min(8, width)) - 1), h = UInt8(max(1, min(8, height)) - 1)
        bytes += [0x1D, 0x21, (w << 4) | h]
    }

    /// `ESC E n`: bold on or off.
    public mutating func bold(_ on: Bool) { bytes += [0x1B, 0x45, on ? 1 : 0] }

    /// Writes `text` and a line feed, switching code pages (`ESC t n`) where a letter needs it.
    public mutating func line(_ text: String) {
        for character in Self.printable(text) {
            if let page, let b = page.byte(for: character) {
                bytes.append(b)
                continue
            }
            if let other = CodePage.allCases.first(where: { $0.byte(for: character) != nil }), let b = other.byte(for: character) {
                if other != page && !(b < 0x7F) {
                    bytes += [0x1B, 0x74, other.rawValue]
                    page = other
                }
                bytes.append(b)
            } else {
                bytes.append(UInt8(ascii: "?"))
            }
        }
        bytes.append(0x0A)
    }

    /// `ESC d n`: feeds `lines` lines.
    public mutating func feed(_ lines: Int) { bytes += [0x1B, 0x64, UInt8(max(0, min(255, lines)))] }

    /// `GS V 66 0`: feeds to the cutter and cuts (partially, where the printer can).
    public mutating func cut() { bytes += [0x1D, 0x56, 0x42, 0x00] }

    /// `text` with the typographic marks a thermal printer lacks replaced by plain ones.
    static func printable(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "„", "”", "“", "«", "»": out.append("\"")
            case "’", "‘": out.append("'")
            case "—", "–": out.append("-")
            case "…": out.append("...")
            case "\u{00A0}": out.append(" ")
            case "І": out.append("I")
            case "і": out.append("i")
            case "Ґ": out.append("Г")
            case "ґ": out.append("г")
            case "\n", "\r", "\t": out.append(" ")
            default: out.append(c)
            }
        }
        return out
    }
}

/// Reads an ESC/POS stream back into text lines and the commands around them: for tests, and for
/// `kioskctl printer decode` when a printer prints nonsense.
public struct EscPosReader: Sendable {
    /// One printed line with the character size and alignment it was printed at.
    public struct Line: Sendable, Equatable {
        public var text: String
        public var width: Int
        public var height: Int
        public var centered: Bool
        public var bold: Bool
    }

    /// The lines, in order.
    public private(set) var lines: [Line] = []
    /// Whether the stream began with `ESC @`.
    public private(set) var resets = 0
    /// How many cuts it asked for.
    public private(set) var cuts = 0
    /// Bytes that were neither text nor a command the slip uses.
    public private(set) var unknown: [UInt8] = []

    /// Decodes `bytes`.
    public init(_ bytes: [UInt8]) {
        var page: CodePage = .pc852
        var width = 1, height = 1, centered = false, bold = false
        var current = ""
        var i = 0
        func take(_ n: Int) -> [UInt8]? {
            guard i + n <= bytes.count else { return nil }
            defer { i += n }
            return Array(bytes[i..<(i + n)])
        }
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            switch b {
            case 0x1B:
                guard let cmd = take(1)?.first else { unknown.append(b); continue }
                switch cmd {
                case 0x40: resets += 1; page = .pc852; width = 1; height = 1; centered = false; bold = false
                case 0x61: centered = (take(1)?.first ?? 0) == 1
                case 0x45: bold = (take(1)?.first ?? 0) == 1
                case 0x74: page = CodePage(rawValue: take(1)?.first ?? 0) ?? page
                case 0x64: _ = take(1)
                default: unknown += [b, cmd]
                }
            case 0x1D:
                guard let cmd = take(1)?.first else { unknown.append(b); continue }
                switch cmd {
                case 0x21:
                    let n = take(1)?.first ?? 0
                    width = Int(n >> 4) + 1
                    height = Int(n & 0x0F) + 1
                case 0x56:
                    if let m = take(1)?.first, m == 0x41 || m == 0x42 { _ = take(1) }
                    cuts += 1
                default: unknown += [b, cmd]
                }
            case 0x0A:
                lines.append(Line(text: current, width: width, height: height, centered: centered, bold: bold))
                current = ""
            default:
                if let c = page.character(for: b) { current.append(c) } else { unknown.append(b) }
            }
        }
    }
}
