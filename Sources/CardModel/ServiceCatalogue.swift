/// One service a resident can request at a kiosk.
///
/// The catalogue lives here, in the shared model, so that the central and the kiosk's built-in
/// copy (used until the first sync, and offline) can never disagree on ids or entitlements.
public struct CatalogueService: Sendable, Codable, Hashable {
    /// Stable id, used in requests.
    public var id: String
    /// Name in Polish and English.
    public var name: LocalizedText
    /// Entitlements whose holders may request it; empty means every resident.
    public var entitlements: [EntitlementKind]
}

/// The CUS Starachowice service catalogue the kiosks offer.
public enum ServiceCatalogue {
    /// The 13 services, in the order of the CUS programme.
    public static let services: [CatalogueService] = [
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

    /// The service with `id`, if any.
    public static func service(id: String) -> CatalogueService? {
        services.first { $0.id == id }
    }
}
