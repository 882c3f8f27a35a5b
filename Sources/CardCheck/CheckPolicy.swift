public import CardModel

/// The rules that turn what the replica knows about a card into a verdict for one day.
///
/// Pure and synchronous: no clock, no database. The caller supplies "today" (the day in
/// Europe/Warsaw, see ``CivilDate/init(_:in:)``) so that the rules can be tested at any
/// instant, midnight and daylight-saving changes included.
public struct CheckPolicy: Sendable {
    public init() {}

    /// Judges a card found (or not) in the replica.
    ///
    /// - Parameters:
    ///   - record: the replica's record of the card, `nil` when it has none. For a tapped chip this is
    ///     the record of that chip or, for a signed chip the replica does not know, the current card of
    ///     the signed number; a record for another chip refuses the tap.
    ///   - presentation: how the card was presented.
    ///   - today: the day in Warsaw.
    public func verdict(for record: CardRecord?, presentation: Presentation, today: CivilDate) -> CheckResult {
        switch presentation {
        case .unreadable(let technology):
            return CheckResult(
                verdict: .unreadable, card: CardSummary(masked: "…", technology: technology), entitlements: [],
                daysToExpiry: nil, reason: Reasons.unreadable, reasonCode: "unreadable", assurance: .low
            )
        case .counterfeit(let uid, let technology, let why):
            return CheckResult(
                verdict: .counterfeit, card: CardSummary(masked: uid.masked, technology: technology), entitlements: [],
                daysToExpiry: nil, reason: Reasons.counterfeit(why), reasonCode: "counterfeit_\(why.rawValue)", assurance: .high
            )
        case .typed(let number):
            guard let record else {
                return unknown(CardSummary(masked: number.masked, technology: .printed), assurance: .high)
            }
            return judge(record, summary: CardSummary(masked: number.masked, technology: record.technology), assurance: .high, today: today)
        case .chip(let uid, let technology, let signed):
            if let record {
                let summary = CardSummary(masked: record.number.masked, technology: technology)
                // The record may be the number's current card, found through a signed chip's number: a
                // signature vouches only for numbers the registry does not know, so a known number on a
                // chip that is not its current chip (replaced, re-issued, its chip removed) is refused.
                guard record.uid == uid else {
                    return CheckResult(
                        verdict: .revoked, card: summary, entitlements: [], daysToExpiry: nil,
                        reason: Reasons.chipWithdrawn, reasonCode: "replaced", assurance: .high
                    )
                }
                let assurance: Assurance = signed == nil ? .low : .high
                return judge(record, summary: summary, assurance: assurance, today: today)
            }
            if let signed {
                return judgeOffline(signed, technology: technology, today: today)
            }
            return unknown(CardSummary(masked: uid.masked, technology: technology), assurance: .low)
        }
    }

    private func unknown(_ summary: CardSummary, assurance: Assurance) -> CheckResult {
        CheckResult(
            verdict: .unknown, card: summary, entitlements: [], daysToExpiry: nil,
            reason: Reasons.unknown, reasonCode: "unknown", assurance: assurance
        )
    }

    private func judge(_ record: CardRecord, summary: CardSummary, assurance: Assurance, today: CivilDate) -> CheckResult {
        func result(_ verdict: Verdict, _ reason: LocalizedText, _ code: String) -> CheckResult {
            // A lost, revoked, replaced or suspended card may be in anyone's hands: it names nobody.
            let named = verdict == .expired || verdict == .notYetValid
            return CheckResult(
                verdict: verdict, card: summary, entitlements: [], daysToExpiry: nil, reason: reason,
                reasonCode: code, assurance: assurance, holderDisplayName: named ? record.holderDisplayName : nil
            )
        }
        // Status first: a lost or revoked card is refused whatever its dates say.
        switch record.status {
        case .lost: return result(.lost, Reasons.lost, "lost")
        case .revoked:
            return record.isReplaced
                ? result(.revoked, Reasons.replaced, "replaced")
                : result(.revoked, Reasons.revoked, "revoked")
        case .suspended: return result(.suspended, Reasons.suspended, "suspended")
        case .active:
            if record.isReplaced { return result(.revoked, Reasons.replaced, "replaced") }
        }
        if let from = record.validFrom, today < from {
            return result(.notYetValid, Reasons.notYetValid(from), "card_not_yet_valid")
        }
        if let until = record.validUntil, until < today {
            return result(.expired, Reasons.expired(until), "card_expired")
        }
        let current = record.entitlements.filter { $0.isValid(on: today) }
        guard !current.isEmpty else {
            if let next = record.entitlements.filter({ today < $0.validFrom }).map(\.validFrom).min() {
                return result(.notYetValid, Reasons.notYetValid(next), "entitlements_not_yet_valid")
            }
            let last = record.entitlements.compactMap(\.validUntil).max()
            return result(.expired, last.map(Reasons.expired) ?? Reasons.noEntitlement, last == nil ? "no_entitlement" : "entitlements_expired")
        }
        let summaries = current
            .sorted { ($0.kind.rawValue, $0.role?.rawValue ?? "") < ($1.kind.rawValue, $1.role?.rawValue ?? "") }
            .map { EntitlementSummary(kind: $0.kind, role: $0.role, validUntil: $0.validUntil, daysToExpiry: $0.validUntil.map { today.days(until: $0) }) }
        // The card is good until its last entitlement ends, capped by the card's own end date.
        var end: CivilDate? = summaries.contains { $0.validUntil == nil } ? nil : summaries.compactMap(\.validUntil).max()
        if let cardEnd = record.validUntil { end = end.map { min($0, cardEnd) } ?? cardEnd }
        return CheckResult(
            verdict: .valid, card: summary, entitlements: summaries, daysToExpiry: end.map { today.days(until: $0) },
            reason: Reasons.valid(summaries.map(\.kind)), reasonCode: "valid", assurance: assurance,
            holderDisplayName: record.holderDisplayName
        )
    }

    private func judgeOffline(_ signed: VerifiedCardRecord, technology: CardTechnology, today: CivilDate) -> CheckResult {
        let summary = CardSummary(masked: signed.number.masked, technology: technology)
        if let until = signed.validUntil, until < today {
            return CheckResult(
                verdict: .expired, card: summary, entitlements: [], daysToExpiry: nil, reason: Reasons.expired(until),
                reasonCode: "card_expired", assurance: .high, acceptedOffline: true
            )
        }
        let summaries = signed.entitlements.sorted { $0.rawValue < $1.rawValue }.map {
            EntitlementSummary(
                kind: $0, role: $0 == .largeFamily ? signed.role : nil, validUntil: signed.validUntil,
                daysToExpiry: signed.validUntil.map { today.days(until: $0) }
            )
        }
        guard !summaries.isEmpty else {
            return CheckResult(
                verdict: .expired, card: summary, entitlements: [], daysToExpiry: nil, reason: Reasons.noEntitlement,
                reasonCode: "no_entitlement", assurance: .high, acceptedOffline: true
            )
        }
        return CheckResult(
            verdict: .valid, card: summary, entitlements: summaries,
            daysToExpiry: signed.validUntil.map { today.days(until: $0) },
            reason: Reasons.validOffline, reasonCode: "valid_signed_offline", assurance: .high, acceptedOffline: true
        )
    }
}

/// The reasons the kiosk gives, in plain Polish first (many readers are elderly), Ukrainian and English.
enum Reasons {
    static let unknown = LocalizedText(
        pl: "Nie znamy tej karty. Podejdź do okienka Biura Obsługi Klienta.",
            uk: "Ми не знаємо цієї картки. Підійдіть до віконця Бюро обслуговування клієнтів.",
        en: "This card is not known. Please ask at the customer office desk."
    )
    static let unreadable = LocalizedText(
        pl: "Nie udało się odczytać karty. Przyłóż kartę ponownie i przytrzymaj chwilę.",
            uk: "Не вдалося прочитати картку. Прикладіть картку ще раз і потримайте мить.",
        en: "The card could not be read. Tap it again and hold it still for a moment."
    )
    static let lost = LocalizedText(
        pl: "Ta karta została zgłoszona jako zgubiona. Podejdź do okienka.",
            uk: "Про цю картку повідомлено як про загублену. Підійдіть до віконця.",
        en: "This card was reported lost. Please ask at the desk."
    )
    static let revoked = LocalizedText(
        pl: "Ta karta została unieważniona. Podejdź do okienka.",
            uk: "Цю картку анульовано. Підійдіть до віконця.",
        en: "This card has been revoked. Please ask at the desk."
    )
    static let replaced = LocalizedText(
        pl: "Ta karta została zastąpiona nową kartą. Używaj nowej karty.",
            uk: "Цю картку замінено новою. Користуйтеся новою карткою.",
        en: "This card was replaced by a new one. Please use the new card."
    )
    static let chipWithdrawn = LocalizedText(
        pl: "Ta karta nie jest już ważna: w jej miejsce wydano inną. Podejdź do okienka Biura Obsługi Klienta.",
            uk: "Ця картка вже не дійсна: замість неї видано іншу. Підійдіть до віконця Бюро обслуговування клієнтів.",
        en: "This card is no longer valid: another card was issued in its place. Please ask at the customer office desk."
    )
    static let suspended = LocalizedText(
        pl: "Ta karta jest czasowo zawieszona. Podejdź do okienka.",
            uk: "Дію цієї картки тимчасово призупинено. Підійдіть до віконця.",
        en: "This card is temporarily suspended. Please ask at the desk."
    )
    static let noEntitlement = LocalizedText(
        pl: "Karta nie daje dziś żadnych uprawnień.",
            uk: "Сьогодні картка не дає жодних пільг.",
        en: "The card gives no entitlement today."
    )
    static let validOffline = LocalizedText(
        pl: "Karta ważna. To nowa karta — potwierdzona podpisem.",
            uk: "Картка дійсна. Це нова картка, підтверджена підписом.",
        en: "Card valid. A new card, confirmed by its signature."
    )

    static func counterfeit(_ why: CounterfeitReason) -> LocalizedText {
        LocalizedText(
            pl: "Tej karty nie można potwierdzić. Podejdź do okienka.",
            uk: "Цю картку неможливо підтвердити. Підійдіть до віконця.",
            en: "This card cannot be verified (\(why.rawValue.split(separator: "_").joined(separator: " "))). Please ask at the desk."
        )
    }

    static func expired(_ day: CivilDate) -> LocalizedText {
        LocalizedText(
            pl: "Karta straciła ważność \(polish(day)). Podejdź do okienka, aby ją przedłużyć.",
            uk: "Термін дії картки закінчився \(ukrainian(day)). Підійдіть до віконця, щоб її продовжити.",
            en: "The card expired on \(day.iso). Please ask at the desk to renew it."
        )
    }

    static func notYetValid(_ day: CivilDate) -> LocalizedText {
        LocalizedText(
            pl: "Karta będzie ważna od \(polish(day)).",
            uk: "Картка буде дійсна з \(ukrainian(day)).",
            en: "The card is valid from \(day.iso)."
        )
    }

    static func valid(_ kinds: [EntitlementKind]) -> LocalizedText {
        LocalizedText(
            pl: "Karta ważna: " + kinds.map(\.name.pl).joined(separator: ", ") + ".",
            uk: "Картка дійсна: " + kinds.map(\.name.uk).joined(separator: ", ") + ".",
            en: "Card valid: " + kinds.map(\.name.en).joined(separator: ", ") + "."
        )
    }

    /// "30 września 2027": how a date is said in Polish.
    static func polish(_ day: CivilDate) -> String {
        let months = ["stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia", "września", "października", "listopada", "grudnia"]
        return "\(day.day) \(months[day.month - 1]) \(day.year)"
    }

    /// "3 березня 2025".
    static func ukrainian(_ day: CivilDate) -> String {
        let months = ["січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня", "вересня", "жовтня", "листопада", "грудня"]
        return "\(day.day) \(months[day.month - 1]) \(day.year)"
    }
}
