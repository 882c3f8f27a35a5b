/// A request's ticket: a short code a resident reads aloud over the phone, such as `B7-4KXMQ`.
///
/// Made at the kiosk without asking the central, yet unique across kiosks: the part before the dash
/// is the kiosk's number (given by the central at enrolment, carried in its token), the part after it
/// the kiosk's own request sequence, and the last character a check character (Luhn mod 30) that
/// catches one wrong character or two swapped neighbours. The alphabet has no 0/O, 1/I/L or U.
public struct Ticket: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The 30 characters tickets are written in.
    public static let alphabet: [Character] = Array("23456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// The code, upper case, with its dash.
    public let code: String

    /// The ticket of request `sequence` (1 or more) of kiosk `kiosk` (0 or more).
    public init(kiosk: Int, sequence: Int64) {
        let prefix = Self.encode(UInt64(max(0, kiosk)), minLength: 2)
        let body = Self.encode(UInt64(max(0, sequence)), minLength: 4)
        code = prefix + "-" + body + String(Self.checkCharacter(for: prefix + body))
    }

    /// Reads a ticket as typed or heard: case and spaces do not matter; the dash is needed.
    /// - Returns: `nil` for anything that is not a ticket, or whose check character does not match.
    public init?(parsing text: String) {
        let cleaned = text.uppercased().filter { !$0.isWhitespace }
        let parts = cleaned.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count >= 2, parts[0].count <= 6, parts[1].count >= 5, parts[1].count <= 13,
              cleaned.allSatisfy({ $0 == "-" || Self.alphabet.contains($0) }) else { return nil }
        let body = parts[1].dropLast()
        guard let check = parts[1].last, Self.checkCharacter(for: String(parts[0]) + body) == check else { return nil }
        code = cleaned
    }

    /// The kiosk number encoded as a token carries it: at least two characters of the alphabet.
    public static func kioskCode(_ number: Int) -> String { encode(UInt64(max(0, number)), minLength: 2) }

    /// The kiosk number in a kiosk token of the form `cusk_<code>_<secret>`; `nil` for other tokens.
    public static func kioskNumber(inToken token: String) -> Int? {
        let parts = token.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "cusk", (2...6).contains(parts[1].count) else { return nil }
        var n = 0
        for ch in parts[1] {
            guard let digit = alphabet.firstIndex(of: ch) else { return nil }
            n = n * alphabet.count + digit
        }
        return n
    }

    public var description: String { code }

    /// Decodes a string, refusing one that is not a ticket.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let ticket = Ticket(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a ticket code"))
        }
        self = ticket
    }

    /// Encodes the code as a string.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(code)
    }

    static func encode(_ value: UInt64, minLength: Int) -> String {
        var digits: [Character] = []
        var v = value
        repeat {
            digits.append(alphabet[Int(v % UInt64(alphabet.count))])
            v /= UInt64(alphabet.count)
        } while v > 0
        while digits.count < minLength { digits.append(alphabet[0]) }
        return String(digits.reversed())
    }

    /// Luhn mod N over the alphabet.
    static func checkCharacter<S: Sequence>(for characters: S) -> Character where S.Element == Character {
        let n = alphabet.count
        var factor = 2
        var sum = 0
        for ch in characters.reversed() {
            var addend = factor * (alphabet.firstIndex(of: ch) ?? 0)
            factor = factor == 2 ? 1 : 2
            addend = addend / n + addend % n
            sum += addend
        }
        return alphabet[(n - sum % n) % n]
    }
}
