/// A card number as printed on a card, normalised for lookup.
///
/// Residents and staff type numbers with spaces, dashes and mixed case ("kdr 1234-5678");
/// the normalised form keeps only upper-case letters and digits, so every spelling of one
/// number finds the same card.
public struct CardNumber: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The normalised number: `A-Z` and `0-9` only, 4 to 32 characters.
    public let value: String

    /// Normalises `text`, dropping spaces, dashes, dots and slashes and folding case.
    /// - Throws: ``CardNumberError`` when something other than letters and digits remains,
    ///   or the length is outside 4...32.
    public init(normalising text: String) throws(CardNumberError) {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case " ", "-", "\t", ".", "/", "\u{00A0}", "\u{2013}", "\u{2212}":
                continue
            case "0"..."9", "A"..."Z":
                out.unicodeScalars.append(scalar)
            case "a"..."z":
                out.unicodeScalars.append(Unicode.Scalar(UInt8(truncatingIfNeeded: scalar.value - 32)))
            default:
                throw .invalidCharacter
            }
        }
        guard out.count >= 4 else { throw out.isEmpty ? .empty : .tooShort }
        guard out.count <= 32 else { throw .tooLong }
        self.value = out
    }

    /// The number with all but its last four characters hidden, e.g. `…1234`: safe to show and log.
    public var masked: String { "…" + value.suffix(4) }

    public var description: String { masked }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try CardNumber(normalising: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message.en))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Why a typed card number could not be used.
public enum CardNumberError: Error, Sendable, Equatable {
    case empty
    case tooShort
    case tooLong
    case invalidCharacter

    /// What to tell the person who typed it, in Polish, Ukrainian and English.
    public var message: LocalizedText {
        switch self {
        case .empty:
            LocalizedText(pl: "Wpisz numer karty.", uk: "Введіть номер картки.", en: "Enter the card number.")
        case .tooShort:
            LocalizedText(pl: "Numer karty jest za krótki. Sprawdź i wpisz ponownie.", uk: "Номер картки закороткий. Перевірте та введіть ще раз.", en: "The card number is too short. Check it and try again.")
        case .tooLong:
            LocalizedText(pl: "Numer karty jest za długi. Sprawdź i wpisz ponownie.", uk: "Номер картки задовгий. Перевірте та введіть ще раз.", en: "The card number is too long. Check it and try again.")
        case .invalidCharacter:
            LocalizedText(pl: "Numer karty może zawierać tylko litery i cyfry.", uk: "Номер картки може містити лише літери та цифри.", en: "A card number may contain only letters and digits.")
        }
    }
}
