public import CardModel
public import CentralWire

/// What the rules know about the person asking: their entitlements, or nothing (no card).
public struct Applicant: Sendable, Hashable {
    /// Every entitlement on the card, current or not; empty for a resident without a card.
    public var entitlements: [Entitlement]
    /// Whether the person presented a card at all (`false`: the public catalogue's terms).
    public var hasCard: Bool

    /// A card holder with `entitlements`.
    public init(entitlements: [Entitlement]) {
        self.entitlements = entitlements
        hasCard = true
    }

    /// A resident without a card: the public catalogue's terms.
    public static let noCard: Applicant = {
        var a = Applicant(entitlements: [])
        a.hasCard = false
        return a
    }()
}

/// Why a service cannot be requested now, with words for the resident.
public enum UnavailableReason: String, Sendable, Codable, CaseIterable {
    /// None of the person's entitlements opens it (and it is not open to everyone).
    case noEntitlement = "no_entitlement"
    /// The person used this month's quota.
    case quotaUsed = "quota_used"
    /// The entitlement that opens it ends before the earliest day the service could take place.
    case cardExpires = "card_expires"
    /// The CUS does not offer it now.
    case notOfferedNow = "not_offered_now"
    /// Only card holders may request it, and no card was presented (the public catalogue).
    case cardRequired = "card_required"

    /// What to tell the resident.
    public var text: LocalizedText {
        switch self {
        case .noEntitlement:
            LocalizedText(
                pl: "Ta usługa jest dla osób z inną kartą. Zapytaj w Biurze Obsługi Klienta.",
                uk: "Ця послуга для власників іншої картки. Запитайте в Бюро обслуговування клієнтів.",
                en: "This service is for holders of another card. Please ask at the customer office."
            )
        case .quotaUsed:
            LocalizedText(
                pl: "W tym miesiącu wykorzystano już limit tej usługi. Możesz poprosić ponownie w przyszłym miesiącu.",
                uk: "Цього місяця ліміт цієї послуги вже вичерпано. Можна попросити знову наступного місяця.",
                en: "This month's limit for this service has been used. You can ask again next month."
            )
        case .cardExpires:
            LocalizedText(
                pl: "Karta traci ważność, zanim usługa mogłaby się odbyć. Przedłuż kartę w Biurze Obsługi Klienta.",
                uk: "Термін дії картки закінчується раніше, ніж послуга могла б відбутися. Продовжте картку в Бюро обслуговування клієнтів.",
                en: "The card expires before the service could take place. Please renew it at the customer office."
            )
        case .notOfferedNow:
            LocalizedText(
                pl: "Tej usługi teraz nie prowadzimy.",
                uk: "Зараз ця послуга не надається.",
                en: "This service is not offered at the moment."
            )
        case .cardRequired:
            LocalizedText(
                pl: "Ta usługa jest dla posiadaczy kart. Przyłóż kartę albo poproś o telefon od koordynatora.",
                uk: "Ця послуга для власників карток. Прикладіть картку або попросіть координатора передзвонити.",
                en: "This service is for card holders. Tap your card, or ask a coordinator to call you back."
            )
        }
    }
}

/// Whether one service (or bundle) may be requested by one person now, and at what fee.
public struct Assessment: Sendable, Hashable {
    /// Whether a request may be made.
    public var available: Bool
    /// Why not, when not.
    public var reason: UnavailableReason?
    /// What this person would pay; `nil` when the service is not open to them at all.
    public var fee: Fee?
}

/// The catalogue's rules for one person: who may ask for what, at what fee, how often.
public enum Eligibility {
    /// Judges `service` for `applicant` on `today`, with `used` requests for it already made this period.
    public static func assess(_ service: ServiceDefinition, for applicant: Applicant, today: CivilDate, used: Int) -> Assessment {
        let current = applicant.entitlements.filter { $0.isValid(on: today) }
        // The cheapest fee among the rules this person's current entitlements meet.
        var best: (fee: Fee, until: CivilDate?)?
        for rule in service.access {
            for e in current where e.kind == rule.entitlement && (rule.roles == nil || e.role.map { rule.roles!.contains($0) } == true) {
                if best == nil || rule.fee < best!.fee || (rule.fee == best!.fee && later(e.validUntil, than: best!.until)) {
                    best = (rule.fee, e.validUntil)
                }
            }
        }
        var fee: Fee? = best?.fee
        if let publicFee = service.publicFee, fee == nil || publicFee < fee! { fee = publicFee }
        guard service.offered else { return Assessment(available: false, reason: .notOfferedNow, fee: fee) }
        guard let fee else { return Assessment(available: false, reason: applicant.hasCard ? .noEntitlement : .cardRequired, fee: nil) }
        if service.publicFee == nil, let until = best?.until, service.fields.contains(where: { $0.kind.isDay }),
           until < today.adding(days: service.leadDays) {
            return Assessment(available: false, reason: .cardExpires, fee: fee)
        }
        if let quota = service.quota, used >= quota.limit {
            return Assessment(available: false, reason: .quotaUsed, fee: fee)
        }
        return Assessment(available: true, reason: nil, fee: fee)
    }

    /// Judges a bundle: available when every service in it is; the first service's reason otherwise.
    ///
    /// - Parameter used: requests already made this period, by service id.
    public static func assess(
        _ bundle: ServiceBundle, in catalogue: Catalogue, for applicant: Applicant, today: CivilDate, used: [String: Int]
    ) -> (available: Bool, reason: UnavailableReason?, fees: [String: Fee?]) {
        var fees: [String: Fee?] = [:]
        var reason: UnavailableReason?
        for id in bundle.services {
            guard let service = catalogue.service(id: id) else {
                reason = reason ?? .notOfferedNow
                fees[id] = .some(nil)
                continue
            }
            let a = assess(service, for: applicant, today: today, used: used[id] ?? 0)
            fees[id] = .some(a.fee)
            if !a.available, reason == nil { reason = a.reason }
        }
        return (reason == nil, reason, fees)
    }

    /// The last day an entitlement opening `service` holds for `applicant` (for the date rules), `nil` when open-ended or public.
    public static func lastDay(of service: ServiceDefinition, for applicant: Applicant, today: CivilDate) -> CivilDate? {
        if service.publicFee != nil { return nil }
        var last: CivilDate?
        var openEnded = false
        for rule in service.access {
            for e in applicant.entitlements where e.isValid(on: today) && e.kind == rule.entitlement
                && (rule.roles == nil || e.role.map { rule.roles!.contains($0) } == true) {
                guard let until = e.validUntil else { openEnded = true; continue }
                last = max(last ?? until, until)
            }
        }
        return openEnded ? nil : last
    }

    private static func later(_ a: CivilDate?, than b: CivilDate?) -> Bool {
        switch (a, b) {
        case (nil, .some): true
        case (.some(let x), .some(let y)): x > y
        default: false
        }
    }
}

extension DetailField.Kind {
    /// Whether the field names a day the service takes place on.
    var isDay: Bool { self == .date || self == .dateWindow }
}
