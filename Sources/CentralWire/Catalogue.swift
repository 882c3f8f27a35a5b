public import CardModel

// The service catalogue as data: written by staff at the central, served at `GET /v1/catalogue`,
// replicated to every kiosk through the change feed (`op: catalogue`). The rules that read it
// (who may ask, at what fee, which details a request must carry) live in `ServiceRules`.

/// One whole version of the service catalogue. A kiosk always holds exactly one version, never a mix.
public struct Catalogue: Sendable, Codable, Hashable {
    /// Grows by one with every change staff make; a kiosk keeps the highest version it has seen.
    public var version: Int64
    /// Every service, in display order.
    public var services: [ServiceDefinition]
    /// Named sets of services requested in one go.
    public var bundles: [ServiceBundle]

    /// A catalogue.
    public init(version: Int64, services: [ServiceDefinition], bundles: [ServiceBundle]) {
        self.version = version
        self.services = services
        self.bundles = bundles
    }

    /// The service with `id`, if listed.
    public func service(id: String) -> ServiceDefinition? { services.first { $0.id == id } }

    /// The bundle with `id`, if listed.
    public func bundle(id: String) -> ServiceBundle? { bundles.first { $0.id == id } }
}

/// One service residents may ask the CUS for.
public struct ServiceDefinition: Sendable, Codable, Hashable {
    /// Stable id used in requests (`senior_taxi`); lower-case letters, digits and `_`.
    public var id: String
    /// The service's name.
    public var name: LocalizedText
    /// One sentence on what it is.
    public var description: LocalizedText
    /// Who provides it.
    public var provider: Provider
    /// Which entitlements (and family roles) may request it, each with its fee.
    public var access: [AccessRule]
    /// The fee for a resident with none of the entitlements in ``access``; `nil`: only for those entitlements.
    public var publicFee: Fee?
    /// The details a request must carry, in the order the screen asks for them.
    public var fields: [DetailField]
    /// How many requests one person may make in a period; `nil`: no limit.
    public var quota: Quota?
    /// When the service runs.
    public var hours: ServiceHours
    /// `false` while the service is not offered (withdrawn, paused): listed, but not requestable.
    public var offered: Bool
    /// The earliest day a date in the details may be, counted from today (1: tomorrow).
    public var leadDays: Int
    /// What happens after the request, in plain words ("koordynator zadzwoni w ciągu 2 dni roboczych").
    public var nextStep: LocalizedText

    /// A service.
    public init(
        id: String, name: LocalizedText, description: LocalizedText, provider: Provider, access: [AccessRule], publicFee: Fee?,
        fields: [DetailField], quota: Quota? = nil, hours: ServiceHours, offered: Bool = true, leadDays: Int = 1, nextStep: LocalizedText
    ) {
        self.id = id
        self.name = name
        self.description = description
        self.provider = provider
        self.access = access
        self.publicFee = publicFee
        self.fields = fields
        self.quota = quota
        self.hours = hours
        self.offered = offered
        self.leadDays = leadDays
        self.nextStep = nextStep
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, provider, access, publicFee = "public_fee", fields, quota, hours, offered
        case leadDays = "lead_days", nextStep = "next_step"
    }

    /// Encodes `null` for absent values, so the shape is always the same.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(provider, forKey: .provider)
        try c.encode(access, forKey: .access)
        try c.encode(publicFee, forKey: .publicFee)
        try c.encode(fields, forKey: .fields)
        try c.encode(quota, forKey: .quota)
        try c.encode(hours, forKey: .hours)
        try c.encode(offered, forKey: .offered)
        try c.encode(leadDays, forKey: .leadDays)
        try c.encode(nextStep, forKey: .nextStep)
    }
}

/// Who provides a service.
public struct Provider: Sendable, Codable, Hashable {
    /// The CUS itself or an outside organisation it commissions.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case cus, partner
    }
    /// CUS or partner.
    public var kind: Kind
    /// The provider's name as residents know it.
    public var name: String

    /// A provider.
    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// One entitlement that opens a service, and the fee its holders pay.
public struct AccessRule: Sendable, Codable, Hashable {
    /// The entitlement.
    public var entitlement: EntitlementKind
    /// For `large_family`: the roles that may request it; `nil`: every role.
    public var roles: [FamilyRole]?
    /// What its holders pay.
    public var fee: Fee

    /// A rule.
    public init(entitlement: EntitlementKind, roles: [FamilyRole]? = nil, fee: Fee) {
        self.entitlement = entitlement
        self.roles = roles
        self.fee = fee
    }

    /// Encodes `null` for absent roles.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(entitlement, forKey: .entitlement)
        try c.encode(roles, forKey: .roles)
        try c.encode(fee, forKey: .fee)
    }

    enum CodingKeys: String, CodingKey { case entitlement, roles, fee }
}

/// What a person pays for a service (the June 2023 fee rules).
public struct Fee: Sendable, Codable, Hashable, Comparable {
    /// Free, discounted or the full price.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case free, discounted, full
    }
    /// Free, discounted or full.
    public var kind: Kind
    /// The amount in grosze (1/100 zł) for `discounted` and `full`; `nil` for `free`.
    public var amountGrosze: Int?
    /// What the amount is for ("za godzinę", "za kurs"), when not the whole service.
    public var per: LocalizedText?

    /// A fee.
    public init(kind: Kind, amountGrosze: Int? = nil, per: LocalizedText? = nil) {
        self.kind = kind
        self.amountGrosze = kind == .free ? nil : amountGrosze
        self.per = per
    }

    /// No charge.
    public static let free = Fee(kind: .free)

    /// Cheaper first: free, then by amount; on equal amounts a discount before the full price.
    public static func < (a: Fee, b: Fee) -> Bool {
        let x = a.kind == .free ? 0 : (a.amountGrosze ?? Int.max)
        let y = b.kind == .free ? 0 : (b.amountGrosze ?? Int.max)
        if x != y { return x < y }
        return a.kind.order < b.kind.order
    }

    enum CodingKeys: String, CodingKey { case kind, amountGrosze = "amount_grosze", per }

    /// Encodes `null` for absent values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(amountGrosze, forKey: .amountGrosze)
        try c.encode(per, forKey: .per)
    }
}

extension Fee.Kind {
    var order: Int {
        switch self {
        case .free: 0
        case .discounted: 1
        case .full: 2
        }
    }
}

/// One detail a request must (or may) carry, typed so the screen can ask for it and both sides can check it.
public struct DetailField: Sendable, Codable, Hashable {
    /// The kinds of details and the value each takes in a request's `details`.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// A street address in Starachowice: text, 5 to 200 characters.
        case address
        /// A place to be picked up at or driven to: text, 3 to 200 characters.
        case place
        /// One day, `YYYY-MM-DD`, from `lead_days` ahead and within `max` days (default 60).
        case date
        /// A time of day, `HH:MM`, between `min` and `max` minutes after midnight when given.
        case time
        /// `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}`: when a visit at home suits; at most `max` days long (default 14).
        case dateWindow = "date_window"
        /// A whole number from `min` to `max` (the number of people on a trip).
        case count
        /// Free text of at most `max` characters (default 500).
        case note
    }
    /// The key in `details`.
    public var id: String
    /// What kind of value.
    public var kind: Kind
    /// The question the screen asks.
    public var label: LocalizedText
    /// Whether a request without it is refused.
    public var required: Bool
    /// The kind's lower bound (see ``Kind``), when it has one.
    public var min: Int?
    /// The kind's upper bound (see ``Kind``), when it has one.
    public var max: Int?

    /// A field.
    public init(id: String, kind: Kind, label: LocalizedText, required: Bool, min: Int? = nil, max: Int? = nil) {
        self.id = id
        self.kind = kind
        self.label = label
        self.required = required
        self.min = min
        self.max = max
    }

    /// Encodes `null` for absent bounds.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encode(label, forKey: .label)
        try c.encode(required, forKey: .required)
        try c.encode(min, forKey: .min)
        try c.encode(max, forKey: .max)
    }

    enum CodingKeys: String, CodingKey { case id, kind, label, required, min, max }
}

/// How many requests for a service one person may make.
public struct Quota: Sendable, Codable, Hashable {
    /// The period a quota counts in.
    public enum Period: String, Sendable, Codable, CaseIterable {
        /// A calendar month in Warsaw time.
        case month
    }
    /// Requests allowed in one period.
    public var limit: Int
    /// The period.
    public var period: Period

    /// A quota.
    public init(limit: Int, period: Period = .month) {
        self.limit = limit
        self.period = period
    }
}

/// When a service runs, beyond office hours on weekdays.
public struct ServiceHours: Sendable, Codable, Hashable {
    /// Monday to Friday, 8:00–16:00.
    public var weekdays: Bool
    /// 16:00–22:00.
    public var evenings: Bool
    /// 22:00–6:00.
    public var nights: Bool
    /// Saturdays, Sundays and holidays.
    public var weekends: Bool

    /// Hours.
    public init(weekdays: Bool = true, evenings: Bool = false, nights: Bool = false, weekends: Bool = false) {
        self.weekdays = weekdays
        self.evenings = evenings
        self.nights = nights
        self.weekends = weekends
    }
}

/// A named set of services requested in one go (the June 2023 "flexible bundling").
public struct ServiceBundle: Sendable, Codable, Hashable {
    /// Stable id used in requests.
    public var id: String
    /// The bundle's name.
    public var name: LocalizedText
    /// One sentence on what it is for.
    public var description: LocalizedText
    /// The services it asks for, each a ``ServiceDefinition/id``.
    public var services: [String]
    /// What happens after the request.
    public var nextStep: LocalizedText

    /// A bundle.
    public init(id: String, name: LocalizedText, description: LocalizedText, services: [String], nextStep: LocalizedText) {
        self.id = id
        self.name = name
        self.description = description
        self.services = services
        self.nextStep = nextStep
    }

    enum CodingKeys: String, CodingKey { case id, name, description, services, nextStep = "next_step" }
}
