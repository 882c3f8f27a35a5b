public import CardModel
import Synchronization

/// One service a resident can request at the kiosk.
public struct KioskService: Sendable, Codable, Equatable {
    /// Stable id, the same as the central's (`GET /v1/services`).
    public var id: String
    /// Name in Polish and English.
    public var name: LocalizedText
    /// Entitlements whose holders may request it; empty means every resident.
    public var entitlements: [EntitlementKind]

    public init(id: String, name: LocalizedText, entitlements: [EntitlementKind]) {
        self.id = id
        self.name = name
        self.entitlements = entitlements
    }

    /// Whether a holder of `held` may request this service.
    public func allows(_ held: [EntitlementKind]) -> Bool {
        entitlements.isEmpty || entitlements.contains { held.contains($0) }
    }
}

/// The service catalogue the kiosk offers: a built-in copy, refreshed from the central when online.
public final class ServiceCatalog: Sendable {
    private let current: Mutex<[KioskService]>

    /// A catalogue starting from `services` (the built-in copy by default).
    public init(_ services: [KioskService] = ServiceCatalog.builtIn) {
        current = Mutex(services)
    }

    /// Every service, in the order of the CUS programme.
    public var services: [KioskService] { current.withLock { $0 } }

    /// The service with `id`, if offered.
    public func service(id: String) -> KioskService? { current.withLock { $0.first { $0.id == id } } }

    /// Replaces the catalogue with the central's; an empty list or one with repeated ids is ignored.
    /// - Returns: whether the catalogue was replaced.
    @discardableResult
    public func replace(with services: [KioskService]) -> Bool {
        guard !services.isEmpty, Set(services.map(\.id)).count == services.count,
              services.allSatisfy({ !$0.id.isEmpty && $0.id.count <= 64 }) else { return false }
        current.withLock { $0 = services }
        return true
    }

    /// The 13 CUS Starachowice services, with the ids of the central's `ServiceCatalogue`.
    public static let builtIn: [KioskService] = [
        .init(id: "home_care", name: .init(pl: "Usługi opiekuńcze w miejscu zamieszkania", en: "Home care services"), entitlements: [.senior60, .disability]),
        .init(id: "respite_care", name: .init(pl: "Opieka wytchnieniowa", en: "Respite care for carers"), entitlements: [.senior60, .disability, .largeFamily]),
        .init(id: "training_flats", name: .init(pl: "Mieszkania chronione treningowe", en: "Supported training flats"), entitlements: []),
        .init(id: "flat_specialists", name: .init(pl: "Specjaliści w mieszkaniach: psycholog, prawnik, trener umiejętności", en: "Specialists in the flats: psychologist, lawyer, social-skills trainer"), entitlements: []),
        .init(id: "mobile_physiotherapist", name: .init(pl: "Mobilny fizjoterapeuta", en: "Mobile physiotherapist"), entitlements: [.senior60, .disability]),
        .init(id: "senior_taxi", name: .init(pl: "Taksówka CUS", en: "CUS taxi"), entitlements: [.senior60, .disability]),
        .init(id: "handyman", name: .init(pl: "Mobilna złota rączka, pomoc domowa, sprzątanie grobów", en: "Mobile handyman, household help, grave cleaning"), entitlements: [.senior60, .disability]),
        .init(id: "psychologist", name: .init(pl: "Mobilny psycholog, grupy wsparcia", en: "Mobile psychologist, support groups"), entitlements: []),
        .init(id: "health_programmes", name: .init(pl: "Programy zdrowotne: pielęgniarka, dietetyk, aqua aerobik, zdrowy kręgosłup, Solec-Zdrój", en: "Health programmes: nurse, dietitian, aqua aerobics, healthy spine, Solec-Zdrój trips"), entitlements: [.senior60, .disability]),
        .init(id: "theatre_trips", name: .init(pl: "Wyjazdy do teatru i filharmonii", en: "Trips to the theatre and philharmonic"), entitlements: [.senior60, .disability, .largeFamily]),
        .init(id: "community_organising", name: .init(pl: "Organizowanie społeczności lokalnej", en: "Community organising"), entitlements: []),
        .init(id: "family_crisis_support", name: .init(pl: "Pakiet wsparcia dla rodzin w kryzysie", en: "Support package for families in crisis"), entitlements: [.largeFamily]),
        .init(id: "vaccinations", name: .init(pl: "Szczepienia przeciw grypie i inne", en: "Flu and other vaccinations"), entitlements: [.senior60, .disability, .largeFamily]),
    ]
}

/// Runs a sync with the central on demand (`POST /api/v1/sync`, `kioskctl sync`).
public protocol SyncTrigger: Sendable {
    /// Syncs now (pull the feed, push the outbox) and says how it went; never throws.
    func syncNow() async -> SyncOutcome
}

/// How an on-demand sync went.
public struct SyncOutcome: Sendable, Codable, Equatable {
    /// Whether both the pull and the push reached the central and were applied.
    public var ok: Bool
    /// `online` or `offline` after this sync.
    public var central: String
    /// Feed entries applied (0 after a bootstrap).
    public var changesApplied: Int
    /// Whether the replica was bootstrapped again from the snapshot.
    public var bootstrapped: Bool
    /// The replica's cursor afterwards.
    public var cursor: Int64?
    /// Requests the central acknowledged in this sync.
    public var requestsDelivered: Int
    /// Requests the central refused for good in this sync.
    public var requestsQuarantined: Int
    /// Requests still waiting.
    public var requestsPending: Int
    /// What went wrong, in words staff can act on; never a token or a card number.
    public var error: String?

    public init(ok: Bool, central: String, changesApplied: Int = 0, bootstrapped: Bool = false, cursor: Int64? = nil,
                requestsDelivered: Int = 0, requestsQuarantined: Int = 0, requestsPending: Int = 0, error: String? = nil) {
        self.ok = ok
        self.central = central
        self.changesApplied = changesApplied
        self.bootstrapped = bootstrapped
        self.cursor = cursor
        self.requestsDelivered = requestsDelivered
        self.requestsQuarantined = requestsQuarantined
        self.requestsPending = requestsPending
        self.error = error
    }
}
