public import CardModel
import CentralWire
import ServiceRules
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

    /// The 13 CUS Starachowice services of the standard catalogue the central starts with.
    public static let builtIn: [KioskService] = StandardCatalogue.catalogue.services.map {
        KioskService(id: $0.id, name: $0.name, entitlements: $0.publicFee == nil ? $0.access.map(\.entitlement) : [])
    }
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
