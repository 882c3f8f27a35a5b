import CardModel
import Foundation

/// The rules for the staff's and kiosks' text the central accepts beyond the registry rules every
/// published card meets (``CardModel/RegistryRules``), written so that docs/openapi/central.yaml can
/// state each one exactly as a JSON Schema `pattern`/`maxLength` (lengths count Unicode scalars, as
/// JSON Schema does; never grapheme clusters).
public enum InputRules {
    /// Most scalars in an RFC 3339 time (`created_at`, `scheduled_at`).
    public static let maxTimeLength = 40
    /// Most scalars in a decline reason.
    public static let maxReasonLength = 500
    /// Most scalars in a display name (the registry's limit).
    public static let maxDisplayNameLength = RegistryRules.maxDisplayNameLength

    /// Whether `text` is an RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, `T` and
    /// `Z` in either case, a real calendar day, seconds 00–59 (no leap second: kiosk clocks never show one),
    /// at most ``maxTimeLength`` characters.
    ///
    /// Schema: `format: date-time`, `maxLength: 40`, and the pattern in `central.yaml`.
    public static func isRFC3339(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard u.count >= 20, u.count <= maxTimeLength else { return false }
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= u.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let year = digits(0, 4), u[4] == UInt8(ascii: "-"), let month = digits(5, 2), u[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: "t"),
              let hour = digits(11, 2), u[13] == UInt8(ascii: ":"), let minute = digits(14, 2), u[16] == UInt8(ascii: ":"),
              let second = digits(17, 2)
        else { return false }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 59
        else { return false }
        var i = 19
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < u.count, u[i] >= 48, u[i] <= 57 { i += 1 }
            guard i > start else { return false }
        }
        guard i < u.count else { return false }
        if u[i] == UInt8(ascii: "Z") || u[i] == UInt8(ascii: "z") {
            i += 1
        } else if u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            guard let oh = digits(i + 1, 2), let om = digits(i + 4, 2), u[i + 3] == UInt8(ascii: ":"), oh <= 23, om <= 59
            else { return false }
            i += 6
        } else {
            return false
        }
        return i == u.count
    }

    /// The instant an RFC 3339 time (one ``isRFC3339(_:)`` accepts) stands for; `nil` for anything else.
    static func instant(rfc3339 text: String) -> Date? {
        guard isRFC3339(text) else { return nil }
        let u = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int {
            var v = 0
            for i in from..<(from + count) { v = v * 10 + Int(u[i] - 48) }
            return v
        }
        var i = 19
        var fraction = 0.0
        if u[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while u[i] >= 48, u[i] <= 57 {
                fraction += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            offset = (digits(i + 1, 2) * 60 + digits(i + 4, 2)) * 60 * (u[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        // Days since 1970-01-01 of the civil date (Howard Hinnant's days_from_civil).
        let (y0, m, d) = (digits(0, 4), digits(5, 2), digits(8, 2))
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86400 + digits(11, 2) * 3600 + digits(14, 2) * 60 + digits(17, 2) - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Whether `scalar` is a control character the registry refuses (``CardModel/RegistryRules/isForbidden(_:)``).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        RegistryRules.isForbidden(scalar)
    }

    /// Whether `scalar` may start an initial: a Latin letter (ASCII, Latin-1, Latin Extended-A and -B).
    static func isInitial(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x24F: return true
        default: return false
        }
    }

    /// Whether `name` is a first name and the initial of the last name, e.g. "Anna K." or "Jan Maria Ł.":
    /// words of non-space, non-control characters separated by single spaces, the last word a Latin
    /// letter and a dot, 4 to ``maxDisplayNameLength`` scalars. Staff must write names this way; every
    /// such name also meets ``CardModel/RegistryRules/checkDisplayName(_:)``.
    ///
    /// Schema: `minLength: 4`, `maxLength: 64`, pattern `^[^ C]+( [^ C]+)* [A-Za-zÀ-ÖØ-öø-ɏ]\.$` where `C` is
    /// `\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069`.
    public static func isDisplayName(_ name: String) -> Bool {
        let s = Array(name.unicodeScalars)
        guard s.count >= 4, s.count <= maxDisplayNameLength, !s.contains(where: isControl) else { return false }
        // "… X." : a space, an initial and a dot at the end; before that, words separated by single spaces.
        let n = s.count
        guard s[n - 1] == ".", isInitial(s[n - 2]), s[n - 3] == " " else { return false }
        let head = s[..<(n - 3)]
        guard let first = head.first, let last = head.last, first != " ", last != " " else { return false }
        return !zip(head, head.dropFirst()).contains { $0 == " " && $1 == " " }
    }

    /// Whether `reason` can be told to a resident: 1 to ``maxReasonLength`` scalars, no NUL, and
    /// something other than spaces, tabs and line breaks.
    ///
    /// Schema: `minLength: 1`, `maxLength: 500`, pattern `^[^\x00]*[^\x00 \t\r\n][^\x00]*$`.
    public static func isReason(_ reason: String) -> Bool {
        let s = reason.unicodeScalars
        return s.count <= maxReasonLength && !s.contains("\u{0}") && s.contains { !" \t\r\n".unicodeScalars.contains($0) }
    }

    /// `text` cut to `limit` scalars with control characters replaced, safe to echo in a reason and to store.
    static func echo(_ text: String, limit: Int = 40) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(limit) { out.append(isControl(scalar) ? "\u{FFFD}" : scalar) }
        return String(out)
    }
}
