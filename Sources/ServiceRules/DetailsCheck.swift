public import CardModel
public import CentralWire

/// One bad field of a request, with a message in the resident's three languages.
public struct FieldProblem: Error, Sendable, Hashable, Codable {
    /// The field's id (`details.<id>`), or `phone`, `service`, `details` for the request as a whole.
    public var field: String
    /// A stable code: `required`, `too_short`, `too_long`, `not_a_date`, `too_early`, `too_late`, `window_too_long`,
    /// `not_a_time`, `outside_hours`, `not_a_number`, `out_of_range`, `card_expires`, `unknown_field`, `not_a_phone`.
    public var code: String
    /// What to tell the resident.
    public var message: LocalizedText

    /// A problem.
    public init(field: String, code: String, message: LocalizedText) {
        self.field = field
        self.code = code
        self.message = message
    }
}

/// Every problem found in a request's details (at least one).
public struct FieldProblems: Error, Sendable, Hashable {
    /// The problems, one per bad field.
    public var problems: [FieldProblem]
    /// A list of problems.
    public init(_ problems: [FieldProblem]) { self.problems = problems }
}

/// Checks a request's `details` against the catalogue's typed fields.
public enum DetailsCheck {
    /// The details' fields checked and normalised (trimmed text, whole numbers), or every problem found.
    ///
    /// - Parameters:
    ///   - fields: the service's (or bundle's merged) fields.
    ///   - leadDays: the earliest day a date may be, from `today`.
    ///   - lastDay: the last day the person's entitlement holds, for the dates (`nil`: no limit).
    public static func check(
        _ details: JSONValue, fields: [DetailField], today: CivilDate, leadDays: Int, lastDay: CivilDate? = nil
    ) -> Result<JSONValue, FieldProblems> {
        guard case .object(let given) = details else {
            return .failure(FieldProblems([FieldProblem(field: "details", code: "not_an_object", message: Words.notAnObject)]))
        }
        var problems: [FieldProblem] = []
        var out: [String: JSONValue] = [:]
        let known = Set(fields.map(\.id))
        for key in given.keys.sorted() where !known.contains(key) {
            problems.append(FieldProblem(field: key, code: "unknown_field", message: Words.unknownField))
        }
        for field in fields {
            let value = given[field.id]
            let absent: Bool = switch value {
            case nil, .null?: true
            case .string(let s)?: s.trimmingSpaces.isEmpty
            default: false
            }
            if absent {
                if field.required { problems.append(FieldProblem(field: field.id, code: "required", message: Words.required(field.label))) }
                continue
            }
            switch checkOne(field, value!, today: today, leadDays: leadDays, lastDay: lastDay) {
            case .success(let v): out[field.id] = v
            case .failure(let p): problems.append(p)
            }
        }
        return problems.isEmpty ? .success(.object(out)) : .failure(FieldProblems(problems))
    }

    /// The fields of a bundle: each service's, in order, a field id asked once.
    public static func fields(of bundle: ServiceBundle, in catalogue: Catalogue) -> [DetailField] {
        var seen: Set<String> = []
        var out: [DetailField] = []
        for id in bundle.services {
            for field in catalogue.service(id: id)?.fields ?? [] where seen.insert(field.id).inserted {
                out.append(field)
            }
        }
        return out
    }

    static func checkOne(
        _ field: DetailField, _ value: JSONValue, today: CivilDate, leadDays: Int, lastDay: CivilDate?
    ) -> Result<JSONValue, FieldProblem> {
        func fail(_ code: String, _ message: LocalizedText) -> Result<JSONValue, FieldProblem> {
            .failure(FieldProblem(field: field.id, code: code, message: message))
        }
        switch field.kind {
        case .address, .place, .note:
            guard case .string(let raw) = value else { return fail("not_text", Words.notText) }
            let text = raw.trimmingSpaces
            let (low, high) = switch field.kind {
            case .address: (field.min ?? 5, field.max ?? 200)
            case .place: (field.min ?? 3, field.max ?? 200)
            default: (field.min ?? 1, field.max ?? 500)
            }
            if text.count < low { return fail("too_short", Words.tooShort(low)) }
            if text.count > high { return fail("too_long", Words.tooLong(high)) }
            if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                return fail("not_text", Words.notText)
            }
            return .success(.string(text))
        case .date:
            guard case .string(let raw) = value, let day = try? CivilDate(iso: raw) else { return fail("not_a_date", Words.notADate) }
            if let p = checkDay(day, field: field, today: today, leadDays: leadDays, lastDay: lastDay) { return .failure(p) }
            return .success(.string(day.iso))
        case .dateWindow:
            guard case .object(let o) = value, case .string(let a)? = o["from"], case .string(let b)? = o["to"],
                  let from = try? CivilDate(iso: a), let to = try? CivilDate(iso: b), o.count == 2 else {
                return fail("not_a_date", Words.notAWindow)
            }
            if to < from { return fail("not_a_date", Words.windowBackwards) }
            if let p = checkDay(from, field: field, today: today, leadDays: leadDays, lastDay: nil) { return .failure(p) }
            if to.dayNumber - from.dayNumber + 1 > (field.max ?? 14) { return fail("window_too_long", Words.windowTooLong(field.max ?? 14)) }
            if to > today.adding(days: 90) { return fail("too_late", Words.tooLate(90)) }
            if let lastDay, from > lastDay { return fail("card_expires", UnavailableReason.cardExpires.text) }
            return .success(.object(["from": .string(from.iso), "to": .string(to.iso)]))
        case .time:
            guard case .string(let raw) = value, let minutes = Self.minutes(raw) else { return fail("not_a_time", Words.notATime) }
            if let low = field.min, minutes < low { return fail("outside_hours", Words.outsideHours(field.min, field.max)) }
            if let high = field.max, minutes > high { return fail("outside_hours", Words.outsideHours(field.min, field.max)) }
            return .success(.string(String(format2(minutes / 60)) + ":" + format2(minutes % 60)))
        case .count:
            guard case .number(let n) = value, n.rounded() == n, abs(n) < 1_000_000 else { return fail("not_a_number", Words.notANumber) }
            let low = field.min ?? 1
            let high = field.max ?? 10
            if Int(n) < low || Int(n) > high { return fail("out_of_range", Words.outOfRange(low, high)) }
            return .success(.number(n))
        }
    }

    static func checkDay(_ day: CivilDate, field: DetailField, today: CivilDate, leadDays: Int, lastDay: CivilDate?) -> FieldProblem? {
        if day < today.adding(days: leadDays) { return FieldProblem(field: field.id, code: "too_early", message: Words.tooEarly(leadDays)) }
        let horizon = field.kind == .date ? (field.max ?? 60) : 90
        if day > today.adding(days: horizon) { return FieldProblem(field: field.id, code: "too_late", message: Words.tooLate(horizon)) }
        if let lastDay, day > lastDay { return FieldProblem(field: field.id, code: "card_expires", message: UnavailableReason.cardExpires.text) }
        return nil
    }

    /// Minutes after midnight of `HH:MM` (or `H:MM`).
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let h = Int(parts[0]), let m = Int(parts[1]), h < 24, m < 60 else { return nil }
        return h * 60 + m
    }

    static func format2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// A Polish phone number, for a coordinator to call back.
public enum PolishPhone {
    /// `+48` and the 9 digits, from what a resident typed (spaces, dashes, `+48`, `0048` or `48` allowed).
    /// - Returns: `nil` when it is not a Polish number.
    public static func normalise(_ text: String) -> String? {
        var digits = text.filter { !" -().".contains($0) }
        if digits.hasPrefix("+48") { digits.removeFirst(3) } else if digits.hasPrefix("0048") { digits.removeFirst(4) } else if digits.count == 11, digits.hasPrefix("48") { digits.removeFirst(2) }
        guard digits.count == 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let first = digits.first, first != "0" else { return nil }
        return "+48" + digits
    }

    /// The problem to report for a phone number that is not Polish.
    public static let problem = FieldProblem(
        field: "phone", code: "not_a_phone",
        message: LocalizedText(
            pl: "To nie jest polski numer telefonu. Wpisz 9 cyfr, na przykład 512 345 678.",
            uk: "Це не польський номер телефону. Введіть 9 цифр, наприклад 512 345 678.",
            en: "This is not a Polish phone number. Enter 9 digits, for example 512 345 678."
        )
    )
}

/// The words of the details check.
enum Words {
    static let notAnObject = LocalizedText(pl: "Szczegóły zgłoszenia są nieczytelne.", uk: "Деталі заявки неможливо прочитати.", en: "The request's details cannot be read.")
    static let unknownField = LocalizedText(pl: "Ta usługa nie ma takiego pola.", uk: "Ця послуга не має такого поля.", en: "This service has no such field.")
    static func required(_ label: LocalizedText) -> LocalizedText {
        LocalizedText(pl: "Uzupełnij: \(label.pl)", uk: "Заповніть: \(label.uk)", en: "Please fill in: \(label.en)")
    }
    static let notText = LocalizedText(pl: "Wpisz zwykły tekst.", uk: "Введіть звичайний текст.", en: "Please enter plain text.")
    static func tooShort(_ n: Int) -> LocalizedText {
        LocalizedText(pl: "Za krótko: wpisz co najmniej \(n) znaki.", uk: "Закоротко: введіть щонайменше \(n) символи.", en: "Too short: enter at least \(n) characters.")
    }
    static func tooLong(_ n: Int) -> LocalizedText {
        LocalizedText(pl: "Za długo: najwyżej \(n) znaków.", uk: "Задовго: щонайбільше \(n) символів.", en: "Too long: at most \(n) characters.")
    }
    static let notADate = LocalizedText(pl: "Wybierz dzień z kalendarza.", uk: "Виберіть день у календарі.", en: "Please choose a day from the calendar.")
    static let notAWindow = LocalizedText(pl: "Wybierz pierwszy i ostatni dzień.", uk: "Виберіть перший і останній день.", en: "Please choose the first and the last day.")
    static let windowBackwards = LocalizedText(pl: "Ostatni dzień jest przed pierwszym.", uk: "Останній день раніше за перший.", en: "The last day is before the first.")
    static func windowTooLong(_ n: Int) -> LocalizedText {
        LocalizedText(pl: "Wybierz najwyżej \(n) dni.", uk: "Виберіть щонайбільше \(n) днів.", en: "Choose at most \(n) days.")
    }
    static func tooEarly(_ lead: Int) -> LocalizedText {
        lead <= 1
            ? LocalizedText(pl: "Najwcześniej jutro.", uk: "Найраніше завтра.", en: "Tomorrow at the earliest.")
            : LocalizedText(pl: "Najwcześniej za \(lead) dni.", uk: "Найраніше через \(lead) днів.", en: "In \(lead) days at the earliest.")
    }
    static func tooLate(_ n: Int) -> LocalizedText {
        LocalizedText(pl: "Wybierz dzień w ciągu \(n) dni.", uk: "Виберіть день протягом \(n) днів.", en: "Choose a day within \(n) days.")
    }
    static let notATime = LocalizedText(pl: "Wybierz godzinę, na przykład 9:30.", uk: "Виберіть годину, наприклад 9:30.", en: "Choose a time, for example 9:30.")
    static func outsideHours(_ low: Int?, _ high: Int?) -> LocalizedText {
        let a = low.map { "\($0 / 60):\(DetailsCheck.format2($0 % 60))" } ?? "0:00"
        let b = high.map { "\($0 / 60):\(DetailsCheck.format2($0 % 60))" } ?? "23:59"
        return LocalizedText(pl: "Wybierz godzinę od \(a) do \(b).", uk: "Виберіть годину з \(a) до \(b).", en: "Choose a time from \(a) to \(b).")
    }
    static let notANumber = LocalizedText(pl: "Wpisz liczbę.", uk: "Введіть число.", en: "Please enter a number.")
    static func outOfRange(_ low: Int, _ high: Int) -> LocalizedText {
        LocalizedText(pl: "Wybierz od \(low) do \(high).", uk: "Виберіть від \(low) до \(high).", en: "Choose from \(low) to \(high).")
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
