public import Foundation

/// A calendar day with no time and no zone, as printed on a card: `2027-09-30`.
///
/// Card validity is a matter of days ("valid until 30 September"), so the check compares
/// days, and the one place that turns an instant into a day is ``CivilDate/init(_:in:)``.
public struct CivilDate: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A checked day.
    /// - Throws: ``CivilDateError`` for a day that does not exist (e.g. 2025-02-29).
    public init(year: Int, month: Int, day: Int) throws(CivilDateError) {
        guard (1900...2999).contains(year), (1...12).contains(month), day >= 1,
              day <= CivilDate.daysIn(month: month, year: year)
        else { throw .noSuchDay }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init(iso text: String) throws(CivilDateError) {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-") else { throw .notISO }
        func num(_ r: Range<Int>) throws(CivilDateError) -> Int {
            var v = 0
            for i in r {
                guard u[i] >= 48, u[i] <= 57 else { throw .notISO }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        try self.init(year: num(0..<4), month: num(5..<7), day: num(8..<10))
    }

    /// The day that `instant` falls on in `zone` (Europe/Warsaw for the kiosk; DST included).
    public init(_ instant: Date, in zone: TimeZone) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day], from: instant)
        // The calendar always yields a real day for a real instant.
        self.year = c.year ?? 1970
        self.month = c.month ?? 1
        self.day = c.day ?? 1
    }

    /// `YYYY-MM-DD`.
    public var iso: String {
        // Written straight into a 10-byte string: registry loads turn millions of dates into text.
        if (0...9999).contains(year), (1...12).contains(month), (1...31).contains(day) {
            let (y, m, d) = (year, month, day)
            return String(unsafeUninitializedCapacity: 10) { out in
                func digit(_ v: Int) -> UInt8 { UInt8(truncatingIfNeeded: 48 + v) }
                out[0] = digit(y / 1000)
                out[1] = digit(y / 100 % 10)
                out[2] = digit(y / 10 % 10)
                out[3] = digit(y % 10)
                out[4] = UInt8(ascii: "-")
                out[5] = digit(m / 10)
                out[6] = digit(m % 10)
                out[7] = UInt8(ascii: "-")
                out[8] = digit(d / 10)
                out[9] = digit(d % 10)
                return 10
            }
        }
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public var description: String { iso }

    /// Days since 1970-01-01 (proleptic Gregorian), for day arithmetic without a calendar.
    public var dayNumber: Int {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The day `n` days after this one (negative for before).
    public func adding(days n: Int) -> CivilDate {
        let z = dayNumber + n + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return CivilDate(unchecked: y, m, d)
    }

    /// Whole days from `self` to `other` (positive when `other` is later).
    public func days(until other: CivilDate) -> Int { other.dayNumber - dayNumber }

    public static func < (a: CivilDate, b: CivilDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try CivilDate(iso: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso)
    }

    private init(unchecked y: Int, _ m: Int, _ d: Int) {
        year = y
        month = m
        day = d
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

/// Why text is not a calendar day.
public enum CivilDateError: Error, Sendable, Equatable, CustomStringConvertible {
    case notISO
    case noSuchDay

    public var description: String {
        switch self {
        case .notISO: "a date is written YYYY-MM-DD"
        case .noSuchDay: "no such day in the calendar"
        }
    }
}

extension TimeZone {
    /// The kiosk's zone: "today" for every check is the day in Warsaw.
    public static let warsaw: TimeZone = TimeZone(identifier: "Europe/Warsaw") ?? TimeZone(secondsFromGMT: 3600) ?? .gmt
}
